"""Mean and confidence interval over repeated runs (seeds), for CI bands."""

from __future__ import annotations

import numpy as np

from da._lazy import lazy_module

pd = lazy_module("pandas")
stats = lazy_module("scipy.stats")

#: Output column names; underscored so they never collide with a factor's name.
MEAN, LOW, HIGH, COUNT = "_mean", "_low", "_high", "_n"


def mean_ci(df: pd.DataFrame, by, y: str, confidence: float = 0.95) -> pd.DataFrame:
    """Per group of ``by``: the group keys, then ``_mean``, ``_low``, ``_high``, ``_n`` of column ``y``.

    The interval is Student's t: :math:`\\bar y \\pm t_{(1+c)/2,\\,n-1}\\, s/\\sqrt n`,
    the usual interval for a mean over a few seeds. A group with one run has
    ``_low == _high == _mean`` (no band: one seed says nothing about spread).
    """
    by = [by] if isinstance(by, str) else list(by)
    clash = [b for b in by if b in (MEAN, LOW, HIGH, COUNT)]
    if clash:
        raise ValueError(f"factor names {clash} are reserved for the summary columns")
    g = df.groupby(by, sort=True, dropna=False)[y]
    out = g.agg(["mean", "std", "count"]).reset_index(drop=False)
    out.columns = by + [MEAN, "_std", COUNT]
    n = out[COUNT].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1)) * out["_std"].to_numpy() / np.sqrt(n)
    half = np.where(n > 1, np.nan_to_num(half), 0.0)
    out[LOW] = out[MEAN] - half
    out[HIGH] = out[MEAN] + half
    return out.drop(columns="_std")
