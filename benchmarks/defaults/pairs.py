"""The generated domain pairs the name-based defaults are chosen on (``docs/defaults.md``).

Every pair is built from :mod:`da.data` only: its distributions (two-moons,
class-conditional Gaussians, the offline UCI digits) and its shift operators
(rotation, covariate, conditional, subspace and label shift, image
corruptions), each at several severities. ``make_split(name, seed)`` draws a
:class:`da.data.Split` of one pair; the seed changes the sample (and, for the
shifts with random parameters, nothing else: they are fixed per pair).

MNIST<->digits is **not** here: it is a held-out check, never used to choose
a default.
"""

from __future__ import annotations

import os

import numpy as np

from da.data import (DomainPair, EmpiricalDomain, GaussianDomain, MoonsDomain, additive_noise, blur,
                     conditional_shift, contrast, covariate_shift, invert, label_shift, rotation,
                     subspace_shift)
from da.data.shifts import affine_shift

#: samples per domain (train + val + test: 60 / 20 / 20) of the generated (non-digits) pairs;
#: ``DA_DEFAULTS_N`` overrides it (the long-game regime of docs/defaults.md: 4000)
N_PER_DOMAIN = int(os.environ.get("DA_DEFAULTS_N", 1000))


def _gauss(k: int = 3, d: int = 2, sep: float = 2.5, seed: int = 0) -> GaussianDomain:
    """``k`` classes with means on a circle of radius ``sep`` (first two axes), unit-ish covariances."""
    rng = np.random.default_rng(seed)
    means = np.zeros((k, d))
    ang = 2 * np.pi * np.arange(k) / k
    means[:, 0], means[:, 1] = sep * np.cos(ang), sep * np.sin(ang)
    if d > 2:
        means[:, 2:] = rng.normal(0, 1.0, (k, d - 2))
    covs = []
    for _ in range(k):
        a = rng.normal(0, 0.3, (d, d))
        covs.append(0.5 * np.eye(d) + a @ a.T / d)
    return GaussianDomain(means, np.stack(covs), name=f"gauss{k}x{d}")


def _digits_halves():
    """The 1797 UCI digits in [0, 1], split in two disjoint halves (source, target) by a fixed seed."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    idx = np.random.default_rng(12345).permutation(len(X))
    a, b = idx[: len(X) // 2], idx[len(X) // 2:]
    mk = lambda i, nm: EmpiricalDomain(X[i], y[i], n_classes=10, image_shape=(1, 8, 8), name=nm)  # noqa: E731
    return mk(a, "digits_a"), mk(b, "digits_b")


def _moons(deg, noise=0.1):
    return DomainPair(MoonsDomain(noise), MoonsDomain(noise, rotation_deg=deg), name=f"moons_rot{deg}")


#: the image corruptions of the digits pairs (and of the image probes), by name
CORRUPTIONS = {
    "noise0.3": lambda d: additive_noise(d, 0.3, seed=0),
    "noise0.6": lambda d: additive_noise(d, 0.6, seed=0),
    "blur1": lambda d: blur(d, 1.0),
    "contrast0.7": lambda d: contrast(d, 0.7),
    "invert0.5": lambda d: invert(d, 0.5),
    "invert1": lambda d: invert(d, 1.0),
}


def _image_pairs(prefix: str, halves, corruptions) -> dict:
    """``prefix_<corruption>`` -> ("image", corruption, builder): the source half of ``halves()`` against the
    corrupted target half, for each named corruption of :data:`CORRUPTIONS`."""
    def builder(nm):
        def b():
            a, t = halves()
            return DomainPair(a, CORRUPTIONS[nm](t), name=f"{prefix}_{nm}")
        return b
    return {f"{prefix}_{nm}": ("image", nm, builder(nm)) for nm in corruptions}


def _build() -> dict:
    """name -> (family, severity, builder of a DomainPair)."""
    P = {}
    for deg in (20, 35, 50):
        P[f"moons_rot{deg}"] = ("rotation", deg, lambda deg=deg: _moons(deg))
    for deg in (30, 60):
        P[f"gauss3_rot{deg}"] = ("rotation", deg, lambda deg=deg: DomainPair(
            _gauss(), rotation(_gauss(), deg), name=f"gauss3_rot{deg}"))
    for s, shift in ((1.5, 1.5), (3.0, 3.0)):
        def b(shift=shift):
            src = _gauss(4, 5, seed=1)
            tgt = affine_shift(src, np.eye(5), np.r_[shift, shift, np.zeros(3)] / np.sqrt(2), "shifted")
            return DomainPair(src, tgt, name=f"gauss4x5_shift{shift:g}")
        P[f"gauss4x5_shift{shift:g}"] = ("translation", s, b)
    for s in (1.5, 3.0):
        P[f"gauss3_cov{s:g}"] = ("covariate", s, lambda s=s: DomainPair(
            _gauss(), covariate_shift(_gauss(), s), name=f"gauss3_cov{s:g}"))
    P["moons_cov2"] = ("covariate", 2.0, lambda: DomainPair(
        MoonsDomain(0.1), covariate_shift(MoonsDomain(0.1), 2.0, n_mc=20000), name="moons_cov2"))
    for s in (1.0, 2.0):
        P[f"gauss5x10_cond{s:g}"] = ("conditional", s, lambda s=s: DomainPair(
            _gauss(5, 10, seed=2), conditional_shift(_gauss(5, 10, seed=2), s, seed=3),
            name=f"gauss5x10_cond{s:g}"))
    for s in (0.3, 0.6):
        P[f"gauss5x10_sub{s:g}"] = ("subspace", s, lambda s=s: DomainPair(
            _gauss(5, 10, seed=2), subspace_shift(_gauss(5, 10, seed=2), s, k=2),
            name=f"gauss5x10_sub{s:g}"))
    for s in (0.5, 0.9):
        P[f"gauss3_label{s:g}"] = ("label", s, lambda s=s: DomainPair(
            _gauss(), label_shift(_gauss(), [0.8, 0.15, 0.05], severity=s), name=f"gauss3_label{s:g}"))
    P["moons_rot35_label"] = ("rotation+label", 35, lambda: DomainPair(
        MoonsDomain(0.1), label_shift(MoonsDomain(0.1, rotation_deg=35), [0.8, 0.2]), name="moons_rot35_label"))
    P.update(_image_pairs("digits", _digits_halves, tuple(CORRUPTIONS)))
    return P


def _digits_classes(k: int):
    """The two digits halves restricted to the classes ``0..k-1`` (an image pair with ``k`` classes)."""
    out = []
    for d in _digits_halves():
        keep = d.y < k
        out.append(EmpiricalDomain(d.X[keep], d.y[keep], n_classes=k, image_shape=(1, 8, 8), name=f"{d.name}{k}"))
    return out


def _photo_patches():
    """A second image family: 8 x 8 grey patches of ``sklearn.datasets.load_sample_images``'s two photos,
    4 classes (the top and bottom halves of each photo), 300 patches per class and domain at disjoint random
    positions (fixed seed), in [0, 1]; returns the (source, target) halves."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(2024)
    X, y = [], []
    for k, img in enumerate(load_sample_images().images):
        grey = img.astype(np.float32).mean(-1) / 255.0
        for half in range(2):
            rows = (0, grey.shape[0] // 2 - 8) if half == 0 else (grey.shape[0] // 2, grey.shape[0] - 8)
            r = rng.integers(rows[0], rows[1], 600)
            c = rng.integers(0, grey.shape[1] - 8, 600)
            X += [grey[i:i + 8, j:j + 8].reshape(-1) for i, j in zip(r, c)]
            y += [2 * k + half] * 600
    X, y = np.stack(X), np.asarray(y)
    idx = rng.permutation(len(X))
    a, b = idx[: len(X) // 2], idx[len(X) // 2:]
    mk = lambda i, nm: EmpiricalDomain(X[i], y[i], n_classes=4, image_shape=(1, 8, 8), name=nm)  # noqa: E731
    return mk(a, "patches_a"), mk(b, "patches_b")


def _build_probes() -> dict:
    """Probe pairs of stage 12, **not** in the benchmark (no default was chosen on them): the same shift
    families with the number of classes changed, to tell a class-count effect from a data-type one (10
    low-dimensional Gaussian classes; 3 classes of digit images), and a second image family (patches of
    two photos, 4 classes) under three corruptions."""
    P = {}
    for deg in (20, 30):
        P[f"gauss10_rot{deg}"] = ("rotation", deg, lambda deg=deg: DomainPair(
            _gauss(10, 2, sep=6.0), rotation(_gauss(10, 2, sep=6.0), deg), name=f"gauss10_rot{deg}"))
    def shifted(shift=3.0):
        src = _gauss(10, 5, sep=6.0, seed=1)
        tgt = affine_shift(src, np.eye(5), np.r_[shift, shift, np.zeros(3)] / np.sqrt(2), "shifted")
        return DomainPair(src, tgt, name="gauss10x5_shift3")
    P["gauss10x5_shift3"] = ("translation", 3.0, shifted)
    P.update(_image_pairs("digits3", lambda: _digits_classes(3), ("noise0.6", "contrast0.7", "blur1")))
    P.update(_image_pairs("patches", _photo_patches, ("noise0.3", "contrast0.7", "blur1")))
    return P


PAIRS = _build()
PROBES = _build_probes()
_CACHE: dict = {}


def make_pair(name: str) -> DomainPair:
    if name not in _CACHE:
        _CACHE[name] = (PAIRS[name] if name in PAIRS else PROBES[name])[2]()
    return _CACHE[name]


def make_split(name: str, seed: int):
    """One seeded draw of pair ``name`` (a benchmark pair or a probe). Digits pairs use every image of each
    half."""
    pair = make_pair(name)
    n = None if name.startswith(("digits", "patches")) else N_PER_DOMAIN
    return pair.sample(n, n, seed=seed, val_frac=0.2, test_frac=0.2)


if __name__ == "__main__":
    for nm, (fam, sev, _) in PAIRS.items():
        sp = make_split(nm, 0)
        print(f"{nm:24s} {fam:15s} {sev!s:10s} dim={sp.source_train.X.shape[1]:3d} "
              f"n_s={len(sp.source_train)} n_t={len(sp.target_train)} K={sp.n_classes}")
    print(len(PAIRS), "pairs")
