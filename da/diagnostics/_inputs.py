"""Boundary checks shared by the diagnostics: one place that turns user input into float64 arrays."""

from __future__ import annotations

import numbers

import numpy as np

from da._validation import check_array, check_same_dim


def _check_pair(Xs, Xt, names: tuple[str, str] = ("Xs", "Xt"), *, min_samples: int = 2):
    """Validate a source/target pair; returns two C-contiguous float64 arrays.

    Rejects NaN/inf, 1-D input, fewer than ``min_samples`` rows, different
    feature dimensions and pooled data whose rows are all identical (every
    distance, hence the median-heuristic bandwidth, would be zero).
    """
    Xs = np.ascontiguousarray(check_array(Xs, names[0], min_samples=min_samples, dtype=np.float64))
    Xt = np.ascontiguousarray(check_array(Xt, names[1], min_samples=min_samples, dtype=np.float64))
    check_same_dim(Xs, Xt, names)
    if Xs.shape[1] == 0:
        raise ValueError(f"{names[0]} and {names[1]} have no features (shape {Xs.shape})")
    if bool((Xs == Xs[:1]).all()) and bool((Xt == Xs[:1]).all()):
        raise ValueError(
            f"{names[0]} and {names[1]} are constant (all {Xs.shape[0] + Xt.shape[0]} pooled rows "
            "identical): distances and the median-heuristic bandwidth are zero")
    return Xs, Xt


def _check_bandwidth(bandwidth, name: str = "bandwidth") -> float:
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be None or a positive number, got {bandwidth!r}")
    h = float(bandwidth)
    if not np.isfinite(h) or h <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {bandwidth!r}")
    return h


def _check_fraction(value, name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    """A number strictly inside ``(low, high)``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating)):
        raise ValueError(f"{name} must be a number in ({low}, {high}), got {value!r}")
    v = float(value)
    if not (low < v < high):
        raise ValueError(f"{name} must lie in ({low}, {high}), got {value!r}")
    return v


def _check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(repr, choices))}")
    return value


def _subsample(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``k`` rows of ``X``, drawn without replacement (all rows when ``len(X) <= k``)."""
    if X.shape[0] <= k:
        return X
    return X[np.sort(rng.choice(X.shape[0], size=k, replace=False))]
