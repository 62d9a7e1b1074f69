"""Image domains read from disk, as the pipeline's pair: ``data.source`` / ``data.target``.

A config names each domain by one of the forms of :func:`da.datasets.domain_from_spec`
(``{folder: DIR}``, ``{list: FILE, root: DIR}``, ``{layout: office31, root: DIR,
domain: amazon}``). :class:`ImagePair` checks that both have the same classes, splits
them by index (:func:`da.datasets.split_indices`, ``data.protocol``) and returns a
:class:`~da.data.Split` whose parts are :class:`~da.data.DatasetRows`: index sets with the
evaluation transform and, for the training streams, each domain's training transform
(:func:`da.datasets.make_transforms`, ``data.augment``, ``data.image_size``). No image
is read until a stream or an evaluation asks for it.
"""

from __future__ import annotations

import numpy as np

from da.data import DatasetRows, GroundTruth, Part, Split, TargetLabels

__all__ = ["ImagePair", "build_image_pair"]


class _Side:
    """What the pipeline reads of one domain: name, classes, prior, the shape of a row."""

    def __init__(self, domain, rows: DatasetRows):
        self.domain, self.name = domain, domain.name
        self.n_classes = domain.n_classes
        self.prior = np.bincount(domain.targets, minlength=domain.n_classes) / len(domain)
        self._rows = rows

    @property
    def image_shape(self):
        return self._rows.item_shape

    @property
    def dim(self) -> int:
        return int(np.prod(self.image_shape))


class ImagePair:
    """A source and a target image domain, split by a named protocol.

    Parameters
    ----------
    source, target : da.datasets.ImageDomain
    transforms : da.datasets.Transforms
    protocol : {"transductive", "inductive"}
    num_workers : int
        DataLoader workers of every stream and evaluation pass.
    """

    def __init__(self, source, target, transforms, *, protocol: str = "transductive", num_workers: int = 0):
        from da.datasets import check_same_classes

        self.classes = check_same_classes(source, target)
        self.n_classes = len(self.classes)
        self.transforms, self.protocol, self.num_workers = transforms, protocol, int(num_workers)
        self.name = f"{source.name}->{target.name}"
        self.source = _Side(source, self._rows(source, None, transforms.source_train))
        self.target = _Side(target, self._rows(target, None, transforms.target_train))

    def _rows(self, domain, idx, train_tf) -> DatasetRows:
        return DatasetRows(domain.dataset, idx, transform=self.transforms.eval, train_transform=train_tf,
                           num_workers=self.num_workers)

    def sample(self, n_source=None, n_target=None, *, seed=0, n_target_labeled: int = 0, **_) -> Split:
        """The protocol's split (all images; ``n_source``/``n_target`` must be None)."""
        from da.datasets import split_indices

        if n_source is not None or n_target is not None:
            raise ValueError("data.n_source / data.n_target subsample synthetic and built-in pairs; image "
                             "folders are split whole by data.protocol")
        s, t = self.source.domain, self.target.domain
        idx = split_indices(s, t, protocol=self.protocol)
        self.split_record = idx.record()
        lab = np.sort(np.random.default_rng([int(seed), 104729]).choice(
            idx.target_train, int(n_target_labeled), replace=False)) if n_target_labeled else np.empty(0, int)
        pos = np.searchsorted(idx.target_train, lab)

        def src(part, tf=None):
            i = getattr(idx, f"source_{part}")
            return Part(self._rows(s, i, tf), s.targets[i])

        def tgt(part, tf=None):
            return Part(self._rows(t, getattr(idx, f"target_{part}"), tf))

        return Split(source_train=src("train", self.transforms.source_train), source_val=src("val"),
                     source_test=src("test"), target_train=tgt("train", self.transforms.target_train),
                     target_val=tgt("val"), target_test=tgt("test"),
                     target_labeled=Part(self._rows(t, lab, self.transforms.target_train), t.targets[lab]),
                     target_labeled_idx=pos.astype(np.int64),
                     eval_labels=TargetLabels(t.targets[idx.target_train], t.targets[idx.target_val],
                                              t.targets[idx.target_test]),
                     n_classes=self.n_classes, seed=int(seed))

    def ground_truth(self, **_) -> GroundTruth:
        why = "image domains read from disk have no analytic density"
        return GroundTruth({}, {k: why for k in ("mmd2", "kl_joint", "w2_per_class", "density_ratio")})


def build_image_pair(data: dict) -> ImagePair:
    """The :class:`ImagePair` of a resolved ``data`` section with ``source`` and ``target`` entries."""
    from da.datasets import domain_from_spec, make_transforms

    source = domain_from_spec(data["source"])
    target = domain_from_spec(data["target"])
    tf = make_transforms(data["augment"], data["image_size"], source=data["augment_source"],
                         target=data["augment_target"])
    return ImagePair(source, target, tf, protocol=data["protocol"], num_workers=data["num_workers"])
