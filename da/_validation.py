"""Input validation shared by every public function (the ``check_array`` idea).

Every check raises :class:`ValueError` naming the argument and showing its
shape, so a user sees at the boundary what is wrong, before anything runs.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "check_array",
    "check_labels",
    "check_same_dim",
    "check_prior",
    "check_random_state",
    "check_positive_int",
    "check_not_constant",
    "check_cov",
]


def _is_tensor(x) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return isinstance(x, torch.Tensor)


def check_array(X, name: str = "X", *, ndim: int | None = 2, min_samples: int = 1,
                dtype=np.float32, allow_tensor: bool = False):
    """Validate a sample matrix.

    Returns a numpy array of ``dtype`` (or the tensor itself when
    ``allow_tensor`` and ``X`` is a tensor). Rejects NaN/inf, the wrong number of
    dimensions and fewer than ``min_samples`` rows.
    """
    if _is_tensor(X):
        import torch

        if not allow_tensor:
            X = X.detach().cpu().numpy()
        else:
            if ndim is not None and X.ndim != ndim:
                raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(X.shape)}")
            if X.shape[0] < min_samples:
                raise ValueError(f"{name} needs at least {min_samples} samples, got shape {tuple(X.shape)}")
            # A NaN or inf entry makes the sum NaN or inf, so a finite sum proves every entry
            # finite with one reduction; only a non-finite sum (possibly a finite overflow)
            # needs the elementwise check. Losses call this on every training step.
            if X.is_floating_point() and not bool(torch.isfinite(X.detach().sum())) \
                    and not bool(torch.isfinite(X).all()):
                raise ValueError(f"{name} contains NaN or inf values (shape {tuple(X.shape)})")
            return X
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    if arr.dtype == object:
        raise ValueError(f"{name} must be numeric, got an object array of shape {arr.shape}")
    if ndim is not None:
        if ndim == 2 and arr.ndim == 1:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_features), got 1-D shape {arr.shape}; "
                "use X.reshape(-1, 1) for a single feature")
        if arr.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    n = arr.shape[0] if arr.ndim > 0 else 0
    if n < min_samples:
        what = "is empty" if n == 0 else f"has {n} sample(s)"
        raise ValueError(f"{name} {what} (shape {arr.shape}); at least {min_samples} needed")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf values (shape {arr.shape})")
    return arr


def check_labels(y, name: str = "y", *, n_samples: int | None = None,
                 n_classes: int | None = None) -> np.ndarray:
    """Validate integer class labels in ``0..n_classes-1``; returns int64."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but X has {n_samples} rows")
    if arr.size and np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values")
    elif arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or (n_classes is not None and hi >= n_classes):
            rng = f"0..{n_classes - 1}" if n_classes is not None else "non-negative values"
            raise ValueError(f"{name} has labels out of range: found [{lo}, {hi}], expected {rng}")
    return arr


def check_same_dim(Xs, Xt, names: tuple[str, str] = ("Xs", "Xt")) -> None:
    """Source and target must live in the same feature space."""
    ds, dt = Xs.shape[1:], Xt.shape[1:]
    if tuple(ds) != tuple(dt):
        raise ValueError(
            f"{names[0]} and {names[1]} have different feature dimensions: "
            f"{tuple(Xs.shape)} vs {tuple(Xt.shape)}")


def check_prior(prior, name: str = "prior", *, n_classes: int | None = None,
                atol: float = 1e-6) -> np.ndarray:
    """A probability vector: non-negative entries summing to 1."""
    p = np.asarray(prior, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector, got shape {p.shape}")
    if n_classes is not None and p.size != n_classes:
        raise ValueError(f"{name} has {p.size} entries, expected {n_classes}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name} contains NaN or inf values")
    if (p < 0).any():
        raise ValueError(f"{name} has negative entries: {p}")
    if abs(p.sum() - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1, sums to {p.sum():.6g}")
    return p / p.sum()


def check_cov(cov, name: str = "cov", *, dim: int | None = None, tol: float = 1e-10) -> np.ndarray:
    """A symmetric positive semi-definite matrix (positive definite for densities)."""
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {c.shape}")
    if dim is not None and c.shape[0] != dim:
        raise ValueError(f"{name} has shape {c.shape}, expected ({dim}, {dim})")
    if not np.isfinite(c).all():
        raise ValueError(f"{name} contains NaN or inf values")
    if not np.allclose(c, c.T, atol=1e-8 * max(1.0, np.abs(c).max())):
        raise ValueError(f"{name} is not symmetric")
    w = np.linalg.eigvalsh(c)
    if w.min() < -tol * max(1.0, abs(w.max())):
        raise ValueError(f"{name} is not positive semi-definite (min eigenvalue {w.min():.3g})")
    return (c + c.T) / 2


def check_random_state(seed) -> np.random.Generator:
    """int, None or Generator -> Generator. The only way randomness enters ``da``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.integer)):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be None, an int or a numpy Generator, got {type(seed).__name__}")


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_not_constant(X, name: str = "X") -> None:
    """Reject data whose rows are all identical (a zero median bandwidth, a singular scale)."""
    if X.shape[0] >= 1 and bool((X == X[:1]).all()):
        raise ValueError(f"{name} is constant (all {X.shape[0]} rows identical); "
                         "distances and bandwidths are undefined")
