"""A domain backed by a lazy map-style ``Dataset``, and views of it.

An :class:`ImageDomain` holds an *untransformed* dataset of ``(image, label)``
items (PIL images or tensors), its labels and its class names. Splits and
streams are views over it (:meth:`ImageDomain.subset`): a set of indices and a
transform, so the same files serve the augmented training stream and the
deterministic evaluation stream, and nothing is held in memory but paths and
labels.

:func:`domain_from_spec` builds one from the forms a config gives::

    {folder: DIR}                              # root/<class>/*.jpg
    {list: FILE, root: DIR}                    # TLlib list file
    {layout: office31, root: DIR, domain: amazon}
    a torch Dataset of (image, label) items    # from Python
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from da.datasets.folders import image_folder, image_list, targets_of
from da.datasets.layouts import layout_dataset

__all__ = ["ImageDomain", "TransformedSubset", "domain_from_spec", "domain_from_empirical",
           "check_same_classes"]


class TransformedSubset(Dataset):
    """Items ``indices[i]`` of ``dataset``, with ``transform`` applied to the image.

    A map-style dataset (``len`` and ``[i]``) for ``torch.utils.data.DataLoader``;
    items are ``(transform(x), int(y))``.
    """

    def __init__(self, dataset, indices, transform=None):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i):
        x, y = self.dataset[int(self.indices[i])][:2]
        return (self.transform(x) if self.transform is not None else x), int(y)


class ImageDomain:
    """A labelled domain read lazily from a map-style dataset.

    Parameters
    ----------
    dataset : map-style dataset
        Items ``(image, label)``; images are returned untransformed.
    name : str
    classes : sequence of str, optional
        Defaults to ``dataset.classes``, else ``"0" .. str(max label)``.
    targets : array-like of int, optional
        Defaults to ``dataset.targets``, else read item by item once.

    Attributes
    ----------
    targets : ndarray of int64, shape (n,)
    classes : tuple of str
    n_classes : int
    """

    def __init__(self, dataset, name: str = "domain", classes=None, targets=None):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise ValueError(f"domain {name!r}: dataset must be a map-style Dataset (len and [i]), "
                             f"got {type(dataset).__name__}")
        n = len(dataset)
        if n < 2:
            raise ValueError(f"domain {name!r}: dataset has {n} item(s); at least 2 are needed")
        self.dataset = dataset
        self.name = str(name)
        self.targets = targets_of(dataset) if targets is None else np.asarray(targets, np.int64).reshape(-1)
        if self.targets.shape != (n,):
            raise ValueError(f"domain {name!r}: {self.targets.size} targets for {n} items")
        if self.targets.min() < 0:
            raise ValueError(f"domain {name!r}: labels must be >= 0, got {int(self.targets.min())}")
        if classes is None:
            classes = getattr(dataset, "classes", None)
        if classes is None:
            classes = [str(k) for k in range(int(self.targets.max()) + 1)]
        self.classes = tuple(str(c) for c in classes)
        if int(self.targets.max()) >= len(self.classes):
            raise ValueError(f"domain {name!r}: label {int(self.targets.max())} is out of range for "
                             f"{len(self.classes)} classes")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return int(self.targets.size)

    def subset(self, indices=None, transform=None) -> TransformedSubset:
        """A view of ``indices`` (all items when None) with ``transform`` applied."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"domain {self.name!r}: indices must lie in [0, {len(self)})")
        return TransformedSubset(self.dataset, idx, transform)

    def __repr__(self) -> str:
        return f"ImageDomain(name={self.name!r}, n={len(self)}, n_classes={self.n_classes})"


def domain_from_empirical(domain) -> ImageDomain:
    """An :class:`ImageDomain` over an in-memory :class:`~da.data.EmpiricalDomain`.

    Items are its rows as ``(C, H, W)`` float tensors when it has an
    ``image_shape`` (flat rows otherwise), so the built-in pairs run through the
    same streams; its fixed ``splits`` are passed on with
    ``split_indices(..., source_assignment=domain.splits)``.
    """
    from da.datasets.adapters import ArrayDataset

    if getattr(domain, "y", None) is None:
        raise ValueError(f"domain {domain.name!r} is unlabelled; an ImageDomain needs labels")
    ds = ArrayDataset(domain.X, domain.y, image_shape=domain.image_shape)
    return ImageDomain(ds, name=domain.name, classes=[str(k) for k in range(domain.n_classes)])


_SPEC_KEYS = {"folder": {"folder"}, "list": {"list", "root", "classes"},
              "layout": {"layout", "root", "domain"}}


def domain_from_spec(spec, *, name: str | None = None) -> ImageDomain:
    """An :class:`ImageDomain` from a config entry or a user ``Dataset``.

    Parameters
    ----------
    spec : dict, str, Path or map-style dataset
        ``{folder: DIR}`` (or the path itself), ``{list: FILE, root: DIR}``,
        ``{layout: NAME, root: DIR, domain: NAME}``, or a dataset of
        ``(image_or_tensor, label)`` items.
    name : str, optional
        Defaults to the folder, list file or domain name.

    Raises
    ------
    ValueError
        An entry with no or several of ``folder``/``list``/``layout``, an
        unknown key, or the readers' own errors (missing or misplaced folders).

    Examples
    --------
    >>> src = domain_from_spec({"layout": "office31", "root": "/data/office31",
    ...                         "domain": "amazon"})  # doctest: +SKIP
    """
    if isinstance(spec, (str, Path)):
        spec = {"folder": spec}
    if not isinstance(spec, dict):
        return ImageDomain(spec, name=name or type(spec).__name__)
    kinds = [k for k in _SPEC_KEYS if k in spec]
    if len(kinds) != 1:
        raise ValueError(f"a data entry needs exactly one of 'folder', 'list' or 'layout', got keys "
                         f"{sorted(spec)}")
    kind = kinds[0]
    unknown = set(spec) - _SPEC_KEYS[kind]
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in a {kind!r} data entry; valid: "
                         f"{sorted(_SPEC_KEYS[kind])}")
    if kind == "folder":
        ds = image_folder(spec["folder"])
        return ImageDomain(ds, name=name or Path(spec["folder"]).name)
    if kind == "list":
        ds = image_list(spec["list"], root=spec.get("root"), classes=spec.get("classes"))
        return ImageDomain(ds, name=name or Path(spec["list"]).stem)
    for key in ("root", "domain"):
        if key not in spec:
            raise ValueError(f"a 'layout' data entry needs {key!r} (layout, root, domain)")
    ds = layout_dataset(spec["layout"], spec["root"], spec["domain"])
    return ImageDomain(ds, name=name or str(spec["domain"]))


def check_same_classes(source: ImageDomain, target: ImageDomain) -> tuple:
    """The shared class list of ``source`` and ``target``.

    Raises
    ------
    ValueError
        When the class lists differ, naming the classes found on one side only
        (or, when they are the same set, that their order differs).
    """
    if source.classes == target.classes:
        return source.classes
    only_s = sorted(set(source.classes) - set(target.classes))
    only_t = sorted(set(target.classes) - set(source.classes))
    if not only_s and not only_t:
        raise ValueError(f"source {source.name!r} and target {target.name!r} have the same classes in a "
                         "different order, so label k means different classes")
    raise ValueError(f"source {source.name!r} ({source.n_classes} classes) and target {target.name!r} "
                     f"({target.n_classes} classes) have different class lists: only in source "
                     f"{only_s[:10]}, only in target {only_t[:10]}")
