"""Mean and confidence interval over repeated runs (seeds), for CI bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(df: pd.DataFrame, by, y: str, confidence: float = 0.95) -> pd.DataFrame:
    """Per group of ``by``: ``mean``, ``low``, ``high``, ``n`` of column ``y``.

    The interval is Student's t: :math:`\\bar y \\pm t_{(1+c)/2,\\,n-1}\\, s/\\sqrt n`,
    the usual interval for a mean over a few seeds. A group with one run has
    ``low == high == mean`` (no band: one seed says nothing about spread).
    """
    by = [by] if isinstance(by, str) else list(by)
    g = df.groupby(by, sort=True, dropna=False)[y]
    out = g.agg(["mean", "std", "count"]).reset_index().rename(columns={"count": "n"})
    n = out["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1)) * out["std"].to_numpy() / np.sqrt(n)
    half = np.where(n > 1, np.nan_to_num(half), 0.0)
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    return out.drop(columns="std")
