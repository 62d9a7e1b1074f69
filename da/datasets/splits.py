"""Train/validation/test index sets over a source and a target domain, by protocol.

The two protocols of the unsupervised domain-adaptation literature:

* ``transductive`` (the standard UDA tables, e.g. TLlib's Office-31): the
  adaptation sees **all** target images, unlabelled, and the target test set is
  the same images: ``target_train = target_test = all``.
* ``inductive``: the target is split once, stratified and seeded, into a train
  part (unlabelled during adaptation), a validation part and a held-out test
  part never seen in training.

The source is always split into train/validation/test. Splits are stratified by
class with :func:`da.datasets.images.fixed_splits` (70/15/15 by default, the
split of the built-in pairs), so the same labels and seed give the same
indices. ``target_val`` carries target labels: anything that reads them
(oracle selection, a labelled-target stream) is oracle information.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from da.datasets.images import _SPLIT_FRACS, _SPLIT_SEED, fixed_splits

__all__ = ["PROTOCOLS", "SplitIndices", "split_indices"]

PROTOCOLS = ("transductive", "inductive")


@dataclass(frozen=True)
class SplitIndices:
    """Index sets into the source and target datasets.

    Attributes
    ----------
    protocol : {"transductive", "inductive"}
    seed : int
    fracs : tuple of float
    source_train, source_val, source_test : ndarray of int64
    target_train : ndarray of int64
        The unlabelled target images adapted on.
    target_val : ndarray of int64
        Labelled target images (oracle) for selection or a labelled stream;
        all target images under the transductive protocol.
    target_test : ndarray of int64
        Equal to ``target_train`` under the transductive protocol, disjoint
        from it under the inductive one.
    """

    protocol: str
    seed: int
    fracs: tuple
    source_train: np.ndarray
    source_val: np.ndarray
    source_test: np.ndarray
    target_train: np.ndarray
    target_val: np.ndarray
    target_test: np.ndarray

    def record(self) -> dict:
        """The protocol, seed, fractions and sizes, for a run's records (JSON-ready)."""
        sizes = {f"n_{k}": int(getattr(self, k).size) for k in
                 ("source_train", "source_val", "source_test", "target_train", "target_val", "target_test")}
        return {"protocol": self.protocol, "seed": int(self.seed), "fracs": [float(f) for f in self.fracs],
                **sizes}


def _labels(labels, name: str) -> np.ndarray:
    y = getattr(labels, "targets", labels)
    y = np.asarray(y)
    if y.ndim != 1 or y.size < 2:
        raise ValueError(f"{name} must be a 1-D array of at least 2 labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ValueError(f"{name} must hold non-negative integer labels")
    return y.astype(np.int64)


def _assignment(y, given, seed, fracs, name):
    if given is None:
        return fixed_splits(y, seed=seed, fracs=fracs)
    a = np.asarray(given)
    if a.shape != y.shape or not np.isin(a, (0, 1, 2)).all():
        raise ValueError(f"{name} must be a length-{y.size} array of 0 (train), 1 (val), 2 (test)")
    return a


def split_indices(source, target, *, protocol: str = "transductive", seed: int = _SPLIT_SEED,
                  fracs=_SPLIT_FRACS, source_assignment=None, target_assignment=None) -> SplitIndices:
    """Seeded, stratified split index sets for a protocol.

    Parameters
    ----------
    source, target : array-like of int, or an object with ``targets``
        Labels of every item (an :class:`~da.datasets.domains.ImageDomain`
        works). Target labels only stratify the split: no label reaches
        training.
    protocol : {"transductive", "inductive"}
    seed : int
        The source is split with ``seed``, the target with ``seed + 1`` (the
        built-in pairs' convention, so paired images are split independently).
    fracs : (train, val, test)
    source_assignment, target_assignment : array-like of {0, 1, 2}, optional
        A fixed assignment to use instead (e.g. an :class:`EmpiricalDomain`'s
        ``splits``), so the built-in pairs keep their splits.

    Returns
    -------
    SplitIndices

    Raises
    ------
    ValueError
        An unknown protocol, labels that are not 1-D non-negative integers, or
        a split that comes out empty (too few images for ``fracs``).

    Examples
    --------
    >>> y = np.repeat(np.arange(3), 20)
    >>> s = split_indices(y, y, protocol="inductive", seed=0)
    >>> s.target_train.size, s.target_test.size
    (42, 9)
    >>> split_indices(y, y).target_test.size
    60
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    fracs = tuple(float(f) for f in fracs)
    if len(fracs) != 3 or min(fracs) < 0 or abs(sum(fracs) - 1) > 1e-6:
        raise ValueError(f"fracs must be three non-negative fractions summing to 1, got {fracs}")
    ys, yt = _labels(source, "source labels"), _labels(target, "target labels")
    a_s = _assignment(ys, source_assignment, seed, fracs, "source_assignment")
    parts = {f"source_{k}": np.flatnonzero(a_s == i) for i, k in enumerate(("train", "val", "test"))}
    if protocol == "transductive":
        every = np.arange(yt.size)
        parts.update(target_train=every, target_val=every, target_test=every)
    else:
        a_t = _assignment(yt, target_assignment, seed + 1, fracs, "target_assignment")
        parts.update({f"target_{k}": np.flatnonzero(a_t == i) for i, k in enumerate(("train", "val", "test"))})
    for key in ("source_train", "target_train", "target_test"):
        if parts[key].size == 0:
            raise ValueError(f"{key} is empty under protocol {protocol!r} with fracs {fracs}: the "
                             "domain has too few images")
    return SplitIndices(protocol=protocol, seed=int(seed), fracs=fracs, **parts)
