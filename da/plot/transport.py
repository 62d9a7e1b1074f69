"""An optimal-transport coupling drawn in the plane."""

from __future__ import annotations

import numpy as np

from da._validation import finite_array
from da.plot._layout import axes_grid
from da.plot.style import DOMAIN_COLORS, OKABE_ITO

__all__ = ["plot_transport_plan"]


def plot_transport_plan(Xs, Xt, plan, *, ax=None, max_segments: int = 2000, min_alpha: float = 0.03):
    """Source and target points joined by segments whose opacity is proportional to mass.

    Parameters
    ----------
    Xs : array-like, shape (n, d)
    Xt : array-like, shape (m, d)
        Points in 2-D. With ``d > 2`` both are projected on the first two
        principal components of the pooled points (and the axes say so).
    plan : array-like, shape (n, m)
        A coupling :math:`\\gamma` (e.g. from ``ot.emd``): non-negative, not all zero.
    ax : Axes, optional
    max_segments : int
        Only the heaviest ``max_segments`` entries of :math:`\\gamma` are drawn;
        an entropic plan has :math:`nm` non-zeros, most of them negligible.
    min_alpha : float
        Floor on a drawn segment's opacity, so light segments stay visible.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Segment ``(i, j)`` has opacity :math:`\\max(\\gamma_{ij} / \\max\\gamma, \\alpha_{\\min})`.
    
    Examples
    --------
    >>> import ot
    >>> rng = np.random.default_rng(0)
    >>> Xs, Xt = rng.normal(size=(20, 2)), rng.normal(2.0, 1.0, size=(20, 2))
    >>> fig = plot_transport_plan(Xs, Xt, ot.emd(np.full(20, 0.05), np.full(20, 0.05), ot.dist(Xs, Xt)))
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D

    Xs, Xt = finite_array(Xs, "Xs", ndim=2), finite_array(Xt, "Xt", ndim=2)
    P = finite_array(plan, "plan", ndim=2)
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(f"Xs and Xt have different dimensions: {Xs.shape} vs {Xt.shape}")
    if P.shape != (Xs.shape[0], Xt.shape[0]):
        raise ValueError(f"plan must have shape (len(Xs), len(Xt)) = {(Xs.shape[0], Xt.shape[0])}, "
                         f"got {P.shape}")
    if (P < 0).any():
        raise ValueError("plan has negative entries; a coupling is non-negative")
    if P.max() <= 0:
        raise ValueError("plan is all zeros; no mass to draw")
    if isinstance(max_segments, bool) or not isinstance(max_segments, (int, np.integer)) or max_segments < 1:
        raise ValueError(f"max_segments must be a positive integer, got {max_segments!r}")
    if Xs.shape[1] < 2:
        raise ValueError(f"points must have at least 2 dimensions, got {Xs.shape[1]}")
    labels = ("x₁ (feature units)", "x₂ (feature units)")
    if Xs.shape[1] > 2:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2).fit(np.vstack([Xs, Xt]))
        Xs, Xt = pca.transform(Xs), pca.transform(Xt)
        r = 100 * pca.explained_variance_ratio_
        labels = (f"PC 1 ({r[0]:.0f}% of variance)", f"PC 2 ({r[1]:.0f}% of variance)")
    fig, (a,) = axes_grid(ax, 1, figsize_per=(4.8, 4.2))
    flat = P.ravel()
    k = min(int(max_segments), int((flat > 0).sum()))
    top = np.argpartition(-flat, k - 1)[:k] if k < flat.size else np.flatnonzero(flat > 0)
    i, j = np.unravel_index(top, P.shape)
    alpha = np.clip(flat[top] / flat.max(), min_alpha, 1.0)
    rgba = np.tile(to_rgba(OKABE_ITO["black"]), (k, 1))
    rgba[:, 3] = alpha
    segs = np.stack([Xs[i], Xt[j]], axis=1)
    a.add_collection(LineCollection(segs, colors=rgba, linewidths=0.8, zorder=1))
    a.scatter(Xs[:, 0], Xs[:, 1], s=14, color=DOMAIN_COLORS["source"], label="source", zorder=2)
    a.scatter(Xt[:, 0], Xt[:, 1], s=14, color=DOMAIN_COLORS["target"], marker="s", label="target",
              zorder=2)
    a.set_xlabel(labels[0])
    a.set_ylabel(labels[1])
    a.autoscale_view()
    handles, names = a.get_legend_handles_labels()
    handles.append(Line2D([], [], color=OKABE_ITO["black"], linewidth=1.0))
    names.append(f"coupling (opacity ∝ mass; top {k})")
    a.legend(handles, names, frameon=False, fontsize="small")
    return fig
