"""True against estimated target class priors."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from da._validation import finite_array
from da.plot._layout import axes_grid
from da.plot.style import OKABE_ITO, TRUTH_COLOR, colors_for

__all__ = ["plot_label_shift"]

# a LabelShiftResult's estimate (attribute and to_dict() key), and the pipeline's record of one
_PRIOR = "prior"
_RUN_PRIOR, _RUN_RESULT = "target_prior", "result"


def _ci_bounds(ci, prior, name, *, rows_per_class: bool):
    """``ci`` -> array (2, K) of (low, high).

    Accepts (low, high) rows (shape (2, K)) or one row per class (shape (K, 2),
    as :class:`da.diagnostics.LabelShiftResult` stores it). With K = 2 both
    read the same shape; the layout whose bounds contain the estimate wins,
    ``rows_per_class`` breaking a tie.
    """
    k = prior.size
    ci = finite_array(ci, f"estimates[{name!r}] ci")
    if ci.shape not in ((2, k), (k, 2)):
        raise ValueError(f"estimates[{name!r}] ci must be (low, high) arrays of {k} entries or an "
                         f"array of shape ({k}, 2), got shape {ci.shape}")
    if ci.shape != (2, k):
        return ci.T
    if ci.shape != (k, 2):
        return ci

    def contains(b):
        return bool(np.all(b[0] <= prior + 1e-12) and np.all(prior <= b[1] + 1e-12))

    as_rows, as_class = contains(ci), contains(ci.T)
    if as_class and (rows_per_class or not as_rows):
        return ci.T
    return ci


def _estimate(name, est):
    """One estimate -> (prior, ci as (2, K) or None), validated but not yet size-checked."""
    ci, per_class = None, False
    if isinstance(est, Mapping):
        if _RUN_PRIOR in est:  # a run's report: {"target_prior", "result": LabelShiftResult.to_dict()}
            prior, result = est[_RUN_PRIOR], est.get(_RUN_RESULT)
            ci, per_class = (result.get("ci") if isinstance(result, Mapping) else None), True
        elif _PRIOR in est:  # LabelShiftResult.to_dict()
            prior, ci = est[_PRIOR], est.get("ci")
        else:
            raise ValueError(f"estimates[{name!r}] has neither {_PRIOR!r} nor {_RUN_PRIOR!r} "
                             f"(keys: {sorted(est)})")
    elif not isinstance(est, (np.ndarray, list, tuple)) and hasattr(est, _PRIOR):  # a LabelShiftResult
        prior, ci, per_class = est.prior, getattr(est, "ci", None), True
    elif isinstance(est, tuple) and len(est) == 2 and np.ndim(est[0]) == 1 and np.ndim(est[1]) >= 1:
        prior, ci = est
    else:
        prior = est
    prior = finite_array(prior, f"estimates[{name!r}]", ndim=1)
    if ci is not None:
        ci = _ci_bounds(ci, prior, name, rows_per_class=per_class)
    return prior, ci


def plot_label_shift(true_prior, estimates, *, source_prior=None, class_names=None, ax=None):
    """Bars of the true target prior and each method's estimate, per class.

    Parameters
    ----------
    true_prior : array-like of shape (K,) or None
        The target class prior :math:`q`; ``None`` when unknown (real data).
    estimates : dict of str -> estimate
        Each estimate is a prior vector; ``(prior, ci)``; a
        :class:`da.diagnostics.LabelShiftResult` or its ``to_dict()``
        (``"prior"``, optional ``"ci"``); or a run report's estimator record
        (``"target_prior"``, with the result's ``"ci"`` under ``"result"``).
        ``ci`` is ``(low, high)`` with a vector of K entries each, or an array
        of shape (K, 2) with one ``[low, high]`` row per class.
    source_prior : array-like of shape (K,), optional
        Drawn as hatched bars: the prior a source-trained classifier assumes.
    class_names : sequence of str, optional
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_label_shift([0.8, 0.2], {"BBSE": [0.75, 0.25], "EM": ([0.78, 0.22], ([0.7, 0.15], [0.85, 0.3]))})
    """
    if not isinstance(estimates, Mapping):
        raise ValueError(f"estimates must be a dict of method -> prior, got {type(estimates).__name__}")
    if not estimates and true_prior is None:
        raise ValueError("estimates is empty and true_prior is None; nothing to plot")
    bars = []  # (label, prior, ci, bar style)
    if source_prior is not None:
        bars.append(("source prior", finite_array(source_prior, "source_prior", ndim=1), None,
                     {"color": "white", "edgecolor": "0.4", "hatch": "//"}))
    if true_prior is not None:
        bars.append(("true target prior", finite_array(true_prior, "true_prior", ndim=1), None,
                     {"color": TRUTH_COLOR}))
    colors = colors_for(list(estimates))
    for name, est in estimates.items():
        prior, ci = _estimate(name, est)
        bars.append((str(name), prior, ci, {"color": colors[name]}))
    k = bars[0][1].size
    for label, prior, _, _ in bars:
        if prior.size != k:
            raise ValueError(f"{label!r} has {prior.size} classes but {bars[0][0]!r} has {k}")
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} entries for {k} classes")
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(k)]
    fig, (a,) = axes_grid(ax, 1, figsize_per=(min(10.0, max(4.0, 0.3 * k * len(bars) + 2.0)), 3.4))
    width = 0.8 / len(bars)
    x = np.arange(k)
    for j, (label, prior, ci, style) in enumerate(bars):
        xs = x + (j - (len(bars) - 1) / 2) * width
        yerr = None if ci is None else [np.maximum(prior - ci[0], 0), np.maximum(ci[1] - prior, 0)]
        a.bar(xs, prior, width, label=label, yerr=yerr, capsize=2 if ci is not None else 0,
              ecolor=OKABE_ITO["black"], linewidth=0.6, **style)
    a.set_xticks(x, names)
    a.set_xlabel("class")
    a.set_ylabel("class prior P(Y = k) (probability)")
    a.set_ylim(0, min(1.0, 1.15 * max(float(np.max(b[1] if b[2] is None else b[2][1])) for b in bars)) + 0.02)
    a.legend(frameon=False, fontsize="small")
    return fig
