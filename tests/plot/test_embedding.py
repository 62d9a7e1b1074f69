"""Source/target embeddings: one scatter per (domain, class), PCA or t-SNE."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from da.plot import embed_2d, plot_embedding
from da.plot.style import DOMAIN_COLORS
from plot_checks import assert_labelled, assert_saves, legend_texts


@pytest.fixture
def feats(rng):
    fs, ft = rng.normal(size=(60, 6)), rng.normal(1.0, 1.0, size=(50, 6))
    return fs, ft, rng.integers(0, 3, 60), rng.integers(0, 3, 50)


def test_single_panel_colours_domains_and_marks_classes(feats, tmp_path):
    fs, ft, ys, yt = feats
    fig = plot_embedding(fs, ft, ys, yt)
    (ax,) = [a for a in fig.axes]
    assert len(ax.collections) == 6  # 2 domains x 3 classes
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in ax.collections}
    assert len(colours) == 2  # colour = domain only
    assert_labelled(ax)
    assert ax.get_xlabel().startswith("PC 1")
    assert legend_texts(ax) == ["source", "target", "class 0", "class 1", "class 2"]
    assert_saves(fig, tmp_path)


def test_before_and_after_side_by_side(feats):
    fs, ft, ys, yt = feats
    fig = plot_embedding(before=(fs, ft, ys, yt), after={"fs": fs[:, :4], "ft": ft[:, :4]})
    a, b = fig.axes
    assert a.get_title() == "before adaptation" and b.get_title() == "after adaptation"
    assert len(a.collections) == 6 and len(b.collections) == 2  # unlabelled: one scatter per domain
    assert legend_texts(b)[:2] == ["source", "target"]


def test_draws_into_given_axes_and_tsne_runs(feats):
    fs, ft, ys, _ = feats
    fig, (ax0, ax1) = plt.subplots(1, 2)
    out = plot_embedding(fs[:25], ft[:25], ys[:25], method="tsne", ax=ax1, perplexity=5,
                         n_threads=1)
    assert out is fig and not ax0.collections and len(ax1.collections) == 3 + 1
    assert ax1.get_xlabel().startswith("t-SNE")


def test_identity_projection_and_subsampling(rng):
    fs, ft = rng.normal(size=(500, 2)), rng.normal(size=(400, 2))
    fig = plot_embedding(fs, ft, method=None, max_points=100)
    offsets = [c.get_offsets() for c in fig.axes[0].collections]
    assert [len(o) for o in offsets] == [100, 100]
    assert fig.axes[0].collections[0].get_facecolor()[0][:3] == pytest.approx(
        tuple(int(DOMAIN_COLORS["source"][i:i + 2], 16) / 255 for i in (1, 3, 5)))
    Z, labels = embed_2d(fs, None)
    assert np.array_equal(Z, fs) and "feature 1" in labels[0]


def test_pca_matches_numpy_svd_and_embed_2d_checks_its_input(rng):
    X = rng.normal(size=(40, 5)) * [3.0, 2.0, 1.0, 0.5, 0.1]
    Z, (xl, yl) = embed_2d(X.tolist(), "pca")  # a plain list is accepted
    Xc = X - X.mean(0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    ref = Xc @ vt[:2].T
    assert np.allclose(Z, ref * np.sign((Z * ref).sum(0)))  # each component up to its sign
    share = 100 * s ** 2 / (s ** 2).sum()
    assert xl == f"PC 1 ({share[0]:.0f}% of variance)" and yl == f"PC 2 ({share[1]:.0f}% of variance)"
    with pytest.raises(ValueError, match="X contains NaN"):
        embed_2d(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="X is empty"):
        embed_2d(np.empty((0, 3)))


@pytest.mark.parametrize("kwargs, match", [
    ({"fs": np.empty((0, 3)), "ft": np.ones((4, 3))}, "empty"),
    ({"fs": np.array([[np.nan, 1.0], [0.0, 1.0]]), "ft": np.ones((4, 2))}, "NaN"),
    ({"fs": np.ones((4, 3)), "ft": np.ones((4, 2))}, "different dimensions"),
    ({"fs": np.ones((4, 3)), "ft": np.ones((4, 3)), "ys": [0, 1]}, "4 labels"),
    ({"fs": np.ones((4, 3)), "ft": np.ones((4, 3)), "method": "umap"}, "method"),
    ({"fs": np.ones((4, 3)), "ft": np.ones((4, 3)), "before": (np.ones((4, 3)), np.ones((4, 3)))}, "not both"),
    ({}, "required"),
])
def test_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_embedding(**kwargs)
