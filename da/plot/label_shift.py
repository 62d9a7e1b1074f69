"""True against estimated target class priors."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from da.plot._inputs import finite_array
from da.plot._layout import axes_grid
from da.plot.style import OKABE_ITO, TRUTH_COLOR, colors_for

__all__ = ["plot_label_shift"]

_PRIOR_ATTRS = ("target_prior", "prior", "q", "estimate")


def _estimate(name, est):
    """One estimate -> (prior, ci or None), validated but not yet size-checked."""
    ci = None
    if isinstance(est, Mapping):
        prior = next((est[a] for a in _PRIOR_ATTRS if a in est), None)
        ci = est.get("ci")
        if prior is None:
            raise ValueError(f"estimates[{name!r}] has none of the keys {_PRIOR_ATTRS}")
    elif not isinstance(est, (np.ndarray, list, tuple)) and any(hasattr(est, a) for a in _PRIOR_ATTRS):
        prior = next(getattr(est, a) for a in _PRIOR_ATTRS if hasattr(est, a))
        ci = getattr(est, "ci", None)
    elif isinstance(est, tuple) and len(est) == 2 and np.ndim(est[0]) == 1 and np.ndim(est[1]) >= 1:
        prior, ci = est
    else:
        prior = est
    prior = finite_array(prior, f"estimates[{name!r}]", ndim=1)
    k = prior.size
    if ci is not None:
        ci = finite_array(ci, f"estimates[{name!r}] ci")
        if ci.shape == (k, 2) and k != 2:
            ci = ci.T
        if ci.shape != (2, k):
            raise ValueError(f"estimates[{name!r}] ci must be (low, high) arrays of {k} entries, "
                             f"got shape {ci.shape}")
    return prior, ci


def plot_label_shift(true_prior, estimates, *, source_prior=None, class_names=None, ax=None):
    """Bars of the true target prior and each method's estimate, per class.

    Parameters
    ----------
    true_prior : array-like of shape (K,) or None
        The target class prior :math:`q`; ``None`` when unknown (real data).
    estimates : dict of str -> estimate
        Each estimate is a prior vector; ``(prior, ci)``; a dict with a
        ``"prior"`` (or ``"target_prior"``) key and optional ``"ci"``; or an
        object with such attributes. ``ci`` is ``(low, high)`` with a vector of
        K entries each, or an array of shape (K, 2).
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
