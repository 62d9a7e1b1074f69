"""Is a test calibrated? Null p-values against Uniform(0, 1)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from da._lazy import lazy_module
from da._validation import check_positive_int
from da._validation import check_confidence, finite_array
from da.plot._layout import axes_grid
from da.plot.style import PALETTE

stats = lazy_module("scipy.stats")

__all__ = ["plot_pvalue_calibration", "uniform_order_band"]


def uniform_order_band(n: int, confidence: float = 0.95):
    """Expected and pointwise-band quantiles of the sorted p-values under H₀.

    Under :math:`H_0` the p-values are i.i.d. Uniform(0, 1), so the
    :math:`i`-th smallest of :math:`n` is :math:`p_{(i)} \\sim
    \\mathrm{Beta}(i, n + 1 - i)`, with mean :math:`i/(n+1)`.

    Returns
    -------
    expected, low, high : ndarray of shape (n,)
        :math:`i/(n+1)` and the :math:`(1 \\mp c)/2` quantiles of that Beta.
    """
    n = check_positive_int(n, "n")
    i = np.arange(1, n + 1)
    q = (1 - check_confidence(confidence)) / 2
    return i / (n + 1), stats.beta.ppf(q, i, n + 1 - i), stats.beta.ppf(1 - q, i, n + 1 - i)


def plot_pvalue_calibration(pvalues, *, confidence: float = 0.95, ax=None):
    """QQ plot of p-values under the null against Uniform(0, 1), with a confidence band.

    A calibrated test's points stay inside the band, along the diagonal; points
    below it mean too many small p-values (an anti-conservative test, inflated
    type-I error), points above it a conservative test.

    Parameters
    ----------
    pvalues : array-like or dict of str -> array-like
        p-values from repeated tests on data where :math:`H_0` holds (e.g.
        source vs a fresh source sample); a dict draws one series per test.
    confidence : float
        Level of the band.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The band is **pointwise**: at each rank :math:`i` it covers the central
    ``confidence`` mass of :math:`\\mathrm{Beta}(i, n+1-i)`, the null law of
    the :math:`i`-th order statistic (see :func:`uniform_order_band`). It is
    narrower than a simultaneous (e.g. Kolmogorov–Smirnov) band, so a few
    points of a calibrated test will fall outside it; the legend therefore
    also gives each series' one-sample KS test p-value against Uniform(0, 1),
    the simultaneous check.
    
    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_pvalue_calibration({"calibrated": rng.uniform(size=200),
    ...                                "anti-conservative": rng.uniform(size=200) ** 2})
    """
    confidence = check_confidence(confidence)
    if isinstance(pvalues, Mapping):
        if not pvalues:
            raise ValueError("pvalues is empty; nothing to plot")
        series = {str(k): v for k, v in pvalues.items()}
    else:
        series = {"p-values": pvalues}
    checked = {}
    for name, p in series.items():
        p = finite_array(p, f"pvalues[{name!r}]" if len(series) > 1 else "pvalues").ravel()
        if (p < 0).any() or (p > 1).any():
            raise ValueError(f"p-values of {name!r} must lie in [0, 1]; got range [{p.min():.3g}, {p.max():.3g}]")
        checked[name] = np.sort(p)
    fig, (a,) = axes_grid(ax, 1, figsize_per=(4.4, 4.2))
    for n in sorted({p.size for p in checked.values()}):
        e, lo, hi = uniform_order_band(n, confidence)
        a.fill_between(e, lo, hi, color="0.82", linewidth=0,
                       label=f"{confidence:.0%} pointwise band (Beta order statistics, n={n})")
    a.plot([0, 1], [0, 1], color="0.3", linewidth=0.8, linestyle="--", label="Uniform(0, 1)")
    for k, (name, p) in enumerate(checked.items()):
        e = np.arange(1, p.size + 1) / (p.size + 1)
        ks = stats.kstest(p, "uniform").pvalue
        a.plot(e, p, linestyle="none", marker="o", markersize=3, color=PALETTE[k % len(PALETTE)],
               label=f"{name} (KS p = {ks:.2g})")
    a.set_xlim(0, 1)
    a.set_ylim(0, 1)
    a.set_aspect("equal")
    a.set_xlabel("expected p-value under H₀ (Uniform quantile)")
    a.set_ylabel("observed p-value (sorted)")
    a.legend(frameon=False, fontsize="x-small", loc="upper left")
    return fig
