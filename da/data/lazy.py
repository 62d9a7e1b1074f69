"""Rows of a map-style dataset, read on demand: the ``X`` of a :class:`~da.data.Part` for
domains too large for memory (image folders, list files, a user's ``Dataset``).

A :class:`DatasetRows` is an index set over a ``torch.utils.data.Dataset`` whose
items are ``(image, label)`` (or ``image``), with two transforms: ``transform``
(evaluation: diagnostics, selection, prediction) and ``train_transform`` (the
training stream's augmentation). Indexing with an array or a slice gives another
index set over the same dataset (nothing is read); an int reads one row; only
:func:`numpy.asarray` materialises, for the small subsamples that input-space
diagnostics compare. Batched reads go through a ``DataLoader``
(:meth:`DatasetRows.loader`).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["DatasetRows", "is_lazy"]


class _View(torch.utils.data.Dataset):
    """``(x, y)`` items of some rows of ``base``, transformed; ``y`` is -1 when the base has none."""

    def __init__(self, base, indices: np.ndarray, transform):
        self.base, self.indices, self.transform = base, indices, transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        item = self.base[int(self.indices[i])]
        x, y = (item[0], item[1]) if isinstance(item, (tuple, list)) else (item, -1)
        if self.transform is not None:
            x = self.transform(x)
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        return (x.float() if x.is_floating_point() else x), int(y)


class DatasetRows:
    """Some rows of a map-style dataset, with an evaluation and a training transform.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        ``dataset[i]`` is ``(image, label)`` or ``image``.
    indices : array of int, optional
        The rows (default: all).
    transform : callable, optional
        Applied to each image when it is read for evaluation; must give a tensor
        of a fixed shape.
    train_transform : callable, optional
        Applied in the training stream (augmentation); default ``transform``.
    num_workers : int
        Workers of the DataLoaders that read these rows.
    """

    def __init__(self, dataset, indices=None, *, transform=None, train_transform=None, num_workers: int = 0):
        self.dataset = dataset
        n = len(dataset)
        idx = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"indices out of range [0, {n})")
        self.indices = idx
        self.transform = transform
        self.train_transform = train_transform if train_transform is not None else transform
        self.num_workers = int(num_workers)
        self._item_shape = None

    def __len__(self) -> int:
        return int(self.indices.size)

    @property
    def item_shape(self) -> tuple:
        """Shape of one evaluation-transformed row (read once, from the first row)."""
        if self._item_shape is None:
            if not len(self.dataset):
                raise ValueError("the dataset is empty: the shape of a row is unknown")
            rows = self.indices[:1] if len(self) else np.zeros(1, np.int64)  # any row: one transform
            self._item_shape = tuple(_View(self.dataset, rows, self.transform)[0][0].shape)
        return self._item_shape

    @property
    def shape(self) -> tuple:
        return (len(self),) + (self.item_shape if len(self) else ())

    def _like(self, indices) -> "DatasetRows":
        out = DatasetRows(self.dataset, indices, transform=self.transform, train_transform=self.train_transform,
                          num_workers=self.num_workers)
        out._item_shape = self._item_shape
        return out

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.view()[int(key)][0]
        return self._like(self.indices[key])

    def view(self, train: bool = False) -> torch.utils.data.Dataset:
        """The rows as a Dataset of ``(x, y)``, with the training or the evaluation transform."""
        return _View(self.dataset, self.indices, self.train_transform if train else self.transform)

    def loader(self, batch_size: int = 256, *, train: bool = False):
        """Batches of ``(x, y)`` in row order, read by a DataLoader."""
        return torch.utils.data.DataLoader(self.view(train), batch_size=batch_size, shuffle=False,
                                           num_workers=self.num_workers)

    def __array__(self, dtype=None, copy=None):
        xs = [x for x, _ in self.loader()]
        out = torch.cat(xs).numpy() if xs else np.empty((0,), np.float32)
        return out.astype(dtype) if dtype is not None else out

    def __repr__(self) -> str:
        return f"DatasetRows({type(self.dataset).__name__}, n={len(self)})"


def is_lazy(X) -> bool:
    """Whether ``X`` is read on demand (a :class:`DatasetRows`) rather than an array."""
    return isinstance(X, DatasetRows)
