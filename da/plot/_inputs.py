"""Input checks shared by the plot functions: every figure rejects empty or NaN data
with a :class:`ValueError` that names the argument, before anything is drawn."""

from __future__ import annotations

import numbers

import numpy as np

from da._lazy import lazy_module

pd = lazy_module("pandas")


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


def as_frame(data, name: str) -> pd.DataFrame:
    """Records -> DataFrame.

    Accepts a DataFrame, a list of dicts (one record each, as in a
    ``metrics.jsonl``), a dict of equal-length columns, or an object with a
    ``to_frame()`` method. Nested dicts in records are flattened with ``"."``
    (``{"config": {"lr": 1}}`` gives a column ``config.lr``).
    """
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


def pick_column(df: pd.DataFrame, requested, aliases, name: str, what: str, *, required: bool = True):
    """The column to use: ``requested`` if given (it must exist), else the first alias present."""
    if requested is not None:
        if requested not in df.columns:
            raise ValueError(f"{name} has no column {requested!r} for {what}; "
                             f"columns are {sorted(map(str, df.columns))}")
        return requested
    for a in aliases:
        if a in df.columns:
            return a
    if required:
        raise ValueError(f"{name} has no column for {what} (looked for {list(aliases)}); "
                         f"columns are {sorted(map(str, df.columns))}; pass it explicitly")
    return None


def numeric_column(df: pd.DataFrame, col, name: str) -> pd.Series:
    """A column as floats; any NaN/inf or non-numeric entry is a ValueError."""
    s = pd.to_numeric(df[col], errors="coerce")
    bad = ~np.isfinite(s.to_numpy(dtype=np.float64))
    if bad.any():
        rows = list(df.index[bad][:5])
        raise ValueError(f"{name}[{col!r}] has {int(bad.sum())} NaN, inf or non-numeric value(s) "
                         f"(rows {rows}{'...' if bad.sum() > 5 else ''})")
    return s.astype(np.float64)
