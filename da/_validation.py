"""Input validation shared by every public function (the ``check_array`` idea): the one module.

Every check raises :class:`ValueError` naming the argument and showing its
shape, so a user sees at the boundary what is wrong, before anything runs.
Sections: arrays, labels and distributions (every subpackage); numbers and
choices; torch batches (the alignment losses); source/target pairs (the
diagnostics); plotted records (:mod:`da.plot`). numpy is the only import;
torch and pandas are imported by the checks that need them.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_array", "check_labels", "check_same_dim", "check_prior", "check_random_state",
    "check_positive_int", "check_not_constant", "check_alignment_target", "check_cov",
    # numbers and choices
    "check_positive", "check_nonnegative", "check_fraction", "check_choice", "check_option",
    # torch batches
    "check_tensor", "check_features", "check_logits", "check_class_labels",
    # source/target pairs
    "check_pair", "check_bandwidth", "subsample_rows",
    # plotted records
    "finite_array", "finite_scalar", "check_confidence", "as_frame", "require_column", "numeric_column",
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


def check_not_constant(X, name: str = "X", why: str = "distances and bandwidths are undefined") -> None:
    """Reject data whose rows are all identical (a zero median bandwidth, a singular scale); ``why``
    ends the message."""
    if X.shape[0] >= 1 and bool((X == X[:1]).all()):
        raise ValueError(f"{name} is constant (all {X.shape[0]} rows identical); {why}")


def check_alignment_target(X, name: str = "Xt") -> None:
    """An unlabelled target that an alignment loss can use: two samples at least, not all identical."""
    if X.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples for alignment, got shape {tuple(X.shape)}")
    check_not_constant(X, name, why="an alignment loss would pull every source feature onto that one point")


# --- numbers and choices -----------------------------------------------------------------

def check_positive(value, name: str, *, allow_none: bool = False) -> float | None:
    """A finite, strictly positive real number (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


def check_nonnegative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(value, name: str, *, low: float = 0.0, high: float = 1.0, closed: bool = False) -> float:
    """A number strictly inside ``(low, high)``, or in ``[low, high]`` when ``closed``."""
    if closed:
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)) \
                or not low <= float(value) <= high:
            raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating)):
        raise ValueError(f"{name} must be a number in ({low}, {high}), got {value!r}")
    v = float(value)
    if not (low < v < high):
        raise ValueError(f"{name} must lie in ({low}, {high}), got {value!r}")
    return v


def check_choice(value, name: str, choices, *, unknown: bool = True) -> str:
    """``value`` must be one of ``choices``.

    The message reads as a registry look-up (``unknown metric 'mmd'; valid:
    'mmd2', ...``) by default, or as a constructor option (``solver must be one
    of 'emd', 'sinkhorn'; got 'lp'``) with ``unknown=False`` (:func:`check_option`).
    """
    opts = ", ".join(repr(v) for v in choices)
    if unknown:
        if value not in choices:
            raise ValueError(f"unknown {name} {value!r}; valid: {opts}")
    elif not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {opts}; got {value!r}")
    return value


def check_option(value, name: str, choices) -> str:
    """:func:`check_choice` worded for a constructor option (a str among ``choices``)."""
    return check_choice(value, name, choices, unknown=False)


# --- torch batches (the alignment losses check their inputs at the top of forward) -------

def check_tensor(x, name: str, *, min_samples: int = 1):
    """A finite, floating, 2-D tensor with at least ``min_samples`` rows."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (n_samples, n_features), "
                         f"got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype, got {x.dtype} (shape {tuple(x.shape)})")
    return check_array(x, name, ndim=2, min_samples=min_samples, allow_tensor=True)


def check_features(fs, ft, *, min_samples: int = 1):
    """Source and target feature batches: 2-D, finite, same width, dtype and device.

    Batch sizes may differ.
    """
    fs = check_tensor(fs, "fs", min_samples=min_samples)
    ft = check_tensor(ft, "ft", min_samples=min_samples)
    check_same_dim(fs, ft, names=("fs", "ft"))
    if fs.dtype != ft.dtype or fs.device != ft.device:
        raise ValueError(f"fs and ft must share dtype and device, got {fs.dtype} on {fs.device} "
                         f"and {ft.dtype} on {ft.device}")
    return fs, ft


def check_logits(logits, name: str, features, feature_name: str, *, n_classes: int | None = None):
    """Logits of shape (n, C) matching the rows, dtype and device of ``features``."""
    if logits is None:
        raise ValueError(f"{name} is required by this loss (logits of shape "
                         f"({features.shape[0]}, n_classes)), got None")
    logits = check_tensor(logits, name)
    if logits.shape[0] != features.shape[0]:
        raise ValueError(f"{name} has {logits.shape[0]} rows but {feature_name} has "
                         f"{features.shape[0]} (shapes {tuple(logits.shape)} and {tuple(features.shape)})")
    if n_classes is not None and logits.shape[1] != n_classes:
        raise ValueError(f"{name} must have {n_classes} columns (n_classes), got shape {tuple(logits.shape)}")
    if logits.device != features.device:
        raise ValueError(f"{name} is on {logits.device} but {feature_name} is on {features.device}")
    return logits


def check_class_labels(ys, name: str, n_samples: int, n_classes: int, device):
    """Integer label tensor of shape (n_samples,) in ``0..n_classes-1``."""
    import torch

    if ys is None:
        raise ValueError(f"{name} is required by this loss (integer labels of shape ({n_samples},)), got None")
    if not isinstance(ys, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of integer labels, got {type(ys).__name__}")
    if ys.is_floating_point() or ys.is_complex() or ys.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class labels, got dtype {ys.dtype}")
    if ys.dim() != 1 or ys.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},), got {tuple(ys.shape)}")
    if ys.device != device:
        raise ValueError(f"{name} is on {ys.device} but the features are on {device}")
    if ys.numel():
        lo, hi = int(ys.min()), int(ys.max())
        if lo < 0 or hi >= n_classes:
            raise ValueError(f"{name} has labels out of range: found [{lo}, {hi}], "
                             f"expected 0..{n_classes - 1}")
    return ys


# --- source/target pairs (the diagnostics turn user input into float64 arrays here) ------

def check_pair(Xs, Xt, names: tuple[str, str] = ("Xs", "Xt"), *, min_samples: int = 2):
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


def check_bandwidth(bandwidth, name: str = "bandwidth") -> float:
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be None or a positive number, got {bandwidth!r}")
    h = float(bandwidth)
    if not np.isfinite(h) or h <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {bandwidth!r}")
    return h


def subsample_rows(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``k`` rows of ``X``, drawn without replacement (all rows when ``len(X) <= k``)."""
    if X.shape[0] <= k:
        return X
    return X[np.sort(rng.choice(X.shape[0], size=k, replace=False))]


# --- plotted records: every figure rejects empty or NaN data before anything is drawn ----

def finite_array(values, name: str, *, ndim: int | None = None, min_size: int = 1) -> np.ndarray:
    """A float array with at least ``min_size`` entries and no NaN/inf."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} is empty (shape {arr.shape}); nothing to plot")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf values (shape {arr.shape})")
    return arr


def finite_scalar(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} is {value}; NaN/inf cannot be plotted")
    return value


def check_confidence(confidence) -> float:
    """A confidence level strictly between 0 and 1."""
    try:
        level = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}") from None
    if not 0 < level < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return level


def as_frame(data, name: str):
    """Records -> :class:`pandas.DataFrame`.

    Accepts a DataFrame, a list of dicts (one record each, as in a
    ``metrics.jsonl``), a dict of equal-length columns, or an object with a
    ``to_frame()`` method. Nested dicts in records are flattened with ``"."``.
    """
    import pandas as pd

    if hasattr(data, "to_frame") and not isinstance(data, (pd.DataFrame, pd.Series)):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        df = data.copy()
    elif isinstance(data, dict):
        try:
            df = pd.DataFrame(data)
        except ValueError as exc:
            raise ValueError(f"{name}: a dict must map column names to equal-length lists ({exc})") from None
    elif isinstance(data, (list, tuple)):
        if not all(isinstance(r, dict) for r in data):
            raise ValueError(f"{name} must be a list of dict records")
        df = pd.json_normalize(list(data), sep=".") if data else pd.DataFrame()
    elif data is None:
        raise ValueError(f"{name} is None; nothing to plot")
    else:
        raise ValueError(f"{name} must be a DataFrame, a list of dict records, a dict of columns "
                         f"or have .to_frame(); got {type(data).__name__}")
    if df.empty:
        raise ValueError(f"{name} is empty; nothing to plot")
    return df


def require_column(df, column, name: str, what: str):
    """``column``, which must be a column of ``df`` (the table ``name``), for ``what``."""
    if column is None or column not in df.columns:
        raise ValueError(f"{name} has no column {column!r} for {what}; "
                         f"columns are {sorted(map(str, df.columns))}; pass it explicitly")
    return column


def numeric_column(df, col, name: str):
    """A column as floats; any NaN/inf or non-numeric entry is a ValueError."""
    import pandas as pd

    s = pd.to_numeric(df[col], errors="coerce")
    bad = ~np.isfinite(s.to_numpy(dtype=np.float64))
    if bad.any():
        rows = list(df.index[bad][:5])
        raise ValueError(f"{name}[{col!r}] has {int(bad.sum())} NaN, inf or non-numeric value(s) "
                         f"(rows {rows}{'...' if bad.sum() > 5 else ''})")
    return s.astype(np.float64)
