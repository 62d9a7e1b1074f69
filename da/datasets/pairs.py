"""Named real domain pairs, built offline from packaged data."""

from __future__ import annotations

from da.data import DomainPair, EmpiricalDomain
from da.datasets import images

__all__ = ["load_pair", "PAIRS"]


def _mnist8():
    X, y = images.mnist_8x8()
    return EmpiricalDomain(X, y, n_classes=10, name="mnist", image_shape=(1, 8, 8),
                           splits=images.fixed_splits(y))


def _digits8():
    X, y = images.uci_digits_8x8()
    return EmpiricalDomain(X, y, n_classes=10, name="digits", image_shape=(1, 8, 8),
                           splits=images.fixed_splits(y))


def _mnist_rgb28():
    X, y = images.mnist_28()
    return EmpiricalDomain(images.gray_to_rgb(X), y, n_classes=10, name="mnist",
                           image_shape=(3, 28, 28), splits=images.fixed_splits(y))


def _mnist_m28():
    X, y = images.mnist_m_28()
    # a different split seed: MNIST-M rows are the same digits as MNIST's
    return EmpiricalDomain(X, y, n_classes=10, name="mnist_m", image_shape=(3, 28, 28),
                           splits=images.fixed_splits(y, seed=images._SPLIT_SEED + 1))


PAIRS = {
    "mnist->digits": (_mnist8, _digits8, "MNIST subset (5000) -> UCI digits (1797), 8x8, 64 features"),
    "digits->mnist": (_digits8, _mnist8, "UCI digits (1797) -> MNIST subset (5000), 8x8, 64 features"),
    "mnist->mnist_m": (_mnist_rgb28, _mnist_m28,
                       "MNIST (grey as RGB) -> MNIST-M-style composite, 3x28x28, 2352 features"),
}


def load_pair(name: str) -> DomainPair:
    """Load a named real domain pair as a :class:`~da.data.DomainPair` of
    :class:`~da.data.EmpiricalDomain`.

    Every domain carries a fixed, stratified 70/15/15 train/validation/test
    split (seeded, see :func:`da.datasets.images.fixed_splits`), honoured by
    :meth:`DomainPair.sample`. Nothing is downloaded.

    Parameters
    ----------
    name : {"mnist->digits", "digits->mnist", "mnist->mnist_m"}

    Examples
    --------
    >>> pair = load_pair("mnist->digits")  # doctest: +SKIP
    >>> split = pair.sample(seed=0)  # doctest: +SKIP
    """
    key = str(name).strip().lower().replace(" ", "")
    if key not in PAIRS:
        raise ValueError(f"unknown pair name {name!r}; known pairs: {', '.join(sorted(PAIRS))}")
    src, tgt, _ = PAIRS[key]
    return DomainPair(src(), tgt(), name=key)
