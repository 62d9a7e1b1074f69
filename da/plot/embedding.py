"""Source and target features in two dimensions (PCA or t-SNE), before and after adaptation."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from da._validation import check_random_state
from da._validation import finite_array
from da.plot._layout import axes_grid
from da.plot.style import DOMAIN_COLORS, MARKERS

__all__ = ["plot_embedding", "embed_2d"]

_METHODS = ("pca", "tsne", None)


def _array(x, name):
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    arr = finite_array(x, name)
    if arr.ndim == 1:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got 1-D shape {arr.shape}")
    if arr.ndim > 2:  # images: flatten each sample
        arr = arr.reshape(arr.shape[0], -1)
    return arr


def _labels(y, n, name):
    if y is None:
        return None
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with {n} labels (one per row), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return y


def embed_2d(X, method="pca", *, seed=0, perplexity: float = 30.0, n_threads: int | None = None):
    """Project rows of ``X`` to 2-D.

    Returns ``(Z, axis_labels)``. ``method`` is ``"pca"`` (labels give the
    explained variance), ``"tsne"`` (scikit-learn's Barnes–Hut t-SNE with PCA
    initialisation; perplexity is capped at ``(n-1)/3``) or ``None`` (the
    first two coordinates, for data already in 2-D). ``n_threads`` caps the
    OpenMP threads of t-SNE (``None``: scikit-learn's default, all cores);
    on a machine shared with other jobs ``1`` can be many times faster.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    X = _array(X, "X")
    if X.shape[1] < 2:
        raise ValueError(f"features must have at least 2 dimensions to embed, got shape {X.shape}")
    if method is None:
        return X[:, :2], ("feature 1 (input units)", "feature 2 (input units)")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=0)
        Z = pca.fit_transform(X)
        r = 100 * pca.explained_variance_ratio_
        return Z, (f"PC 1 ({r[0]:.0f}% of variance)", f"PC 2 ({r[1]:.0f}% of variance)")
    from sklearn.manifold import TSNE

    if X.shape[0] < 5:
        raise ValueError(f"t-SNE needs at least 5 points, got {X.shape[0]}")
    seed_int = int(check_random_state(seed).integers(2**31 - 1))
    tsne = TSNE(n_components=2, perplexity=min(perplexity, (X.shape[0] - 1) / 3), init="pca",
                learning_rate="auto", random_state=seed_int)
    if n_threads is None:
        Z = tsne.fit_transform(X)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(n_threads), user_api="openmp"):
            Z = tsne.fit_transform(X)
    return Z, ("t-SNE 1 (arbitrary units)", "t-SNE 2 (arbitrary units)")


def _panel_data(spec, name):
    if isinstance(spec, Mapping):
        get = spec.get
        fs, ft, ys, yt = get("fs"), get("ft"), get("ys"), get("yt")
    else:
        spec = tuple(spec)
        if len(spec) not in (2, 4):
            raise ValueError(f"{name} must be (fs, ft) or (fs, ft, ys, yt), got {len(spec)} items")
        fs, ft, ys, yt = (*spec, None, None)[:4]
    if fs is None or ft is None:
        raise ValueError(f"{name} needs both source and target features")
    fs, ft = _array(fs, f"{name} fs"), _array(ft, f"{name} ft")
    if fs.shape[1] != ft.shape[1]:
        raise ValueError(f"{name}: source and target features have different dimensions: "
                         f"{fs.shape} vs {ft.shape}")
    return fs, ft, _labels(ys, fs.shape[0], f"{name} ys"), _labels(yt, ft.shape[0], f"{name} yt")


def plot_embedding(fs=None, ft=None, ys=None, yt=None, *, method="pca", before=None, after=None,
                   ax=None, max_points: int = 1000, seed=0, perplexity: float = 30.0, titles=None,
                   n_threads: int | None = None):
    """Source vs target features in 2-D: colour is the domain, marker shape the class.

    Give either ``fs, ft`` (one panel) or ``before=`` and/or ``after=`` (one
    panel each, side by side). Source and target are projected jointly, so
    their overlap in the plot reflects their overlap in feature space; each
    panel is projected on its own (the feature spaces before and after
    adaptation are different spaces).

    Parameters
    ----------
    fs, ft : array-like, shape (n_s, d) and (n_t, d)
        Source and target features (numpy or CPU torch; images are flattened).
    ys, yt : array-like of shape (n_s,) / (n_t,), optional
        Class labels, drawn as marker shapes (target labels are for display only).
    method : {"pca", "tsne", None}
        Projection; ``None`` plots the first two coordinates as they are.
    before, after : tuple or dict, optional
        ``(fs, ft)``, ``(fs, ft, ys, yt)`` or ``{"fs":..., "ft":..., "ys":..., "yt":...}``.
    ax : Axes or sequence of Axes, optional
        One Axes per panel.
    max_points : int
        Each domain is subsampled (without replacement, seeded) to at most this
        many points, which keeps t-SNE fast and the scatter readable.
    seed : int or numpy Generator
        For subsampling and t-SNE.
    perplexity : float
        t-SNE perplexity.
    titles : sequence of str, optional
        Panel titles (default ``"before adaptation"``/``"after adaptation"``).
    n_threads : int, optional
        Cap on t-SNE's OpenMP threads (see :func:`embed_2d`).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        On empty or NaN features, mismatched dimensions or label lengths, or
        when both ``fs, ft`` and ``before``/``after`` are given.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_embedding(rng.normal(size=(50, 5)), rng.normal(1, 1, size=(50, 5)))
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    panels = []
    if before is not None or after is not None:
        if fs is not None or ft is not None:
            raise ValueError("give either fs, ft or before=/after=, not both")
        for nm, spec in (("before", before), ("after", after)):
            if spec is not None:
                panels.append((f"{nm} adaptation", _panel_data(spec, nm)))
    else:
        if fs is None or ft is None:
            raise ValueError("fs and ft (or before=/after=) are required")
        panels.append((None, _panel_data((fs, ft, ys, yt), "features")))
    if titles is not None:
        titles = list(titles)
        if len(titles) != len(panels):
            raise ValueError(f"titles has {len(titles)} entries for {len(panels)} panels")
        panels = [(t, p) for t, (_, p) in zip(titles, panels)]
    rng = check_random_state(seed)
    fig, axes = axes_grid(ax, len(panels), figsize_per=(4.6, 4.0), what="embedding panels")
    classes_seen = []
    for a, (title, (Xs, Xt, ys_, yt_)) in zip(axes, panels):
        pick_s = rng.permutation(Xs.shape[0])[:max_points]
        pick_t = rng.permutation(Xt.shape[0])[:max_points]
        Xs_, Xt_ = Xs[pick_s], Xt[pick_t]
        ys_ = None if ys_ is None else ys_[pick_s]
        yt_ = None if yt_ is None else yt_[pick_t]
        Z, (xl, yl) = embed_2d(np.vstack([Xs_, Xt_]), method, seed=rng, perplexity=perplexity,
                               n_threads=n_threads)
        Zs, Zt = Z[: Xs_.shape[0]], Z[Xs_.shape[0]:]
        for dom, Zd, yd in (("source", Zs, ys_), ("target", Zt, yt_)):
            if yd is None:
                a.scatter(Zd[:, 0], Zd[:, 1], s=10, alpha=0.55, color=DOMAIN_COLORS[dom],
                          marker="o", linewidths=0, label=dom)
                continue
            for k in np.unique(yd):
                if k not in classes_seen:
                    classes_seen.append(k)
                sel = yd == k
                a.scatter(Zd[sel, 0], Zd[sel, 1], s=12, alpha=0.55, color=DOMAIN_COLORS[dom],
                          marker=MARKERS[classes_seen.index(k) % len(MARKERS)], linewidths=0,
                          label=f"{dom}, class {k}")
        a.set_xlabel(xl)
        a.set_ylabel(yl)
        if title:
            a.set_title(title)
    _embedding_legend(axes[-1], classes_seen)
    return fig


def _embedding_legend(ax, classes):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="none", marker="o", color=DOMAIN_COLORS[d], label=d)
               for d in ("source", "target")]
    handles += [Line2D([], [], linestyle="none", marker=MARKERS[i % len(MARKERS)], color="0.35",
                       label=f"class {k}") for i, k in enumerate(classes[:len(MARKERS)])]
    ax.legend(handles=handles, frameon=False, fontsize="small", loc="center left",
              bbox_to_anchor=(1.0, 0.5))
