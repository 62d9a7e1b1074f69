"""Adapters from user data to arrays: torch ``Dataset`` and image folders."""

from __future__ import annotations

import numpy as np

__all__ = ["dataset_to_arrays", "ArrayDataset", "image_folder_domain"]


def dataset_to_arrays(dataset):
    """Materialise a map-style torch ``Dataset`` of ``x`` or ``(x, y)`` items.

    Returns ``(X, y, image_shape)``: X flattened to (n, d) float32, y int64 or
    None, and the per-item shape when items are images (ndim >= 2).
    """
    n = len(dataset)
    if n == 0:
        raise ValueError("dataset is empty")
    xs, ys = [], []
    for i in range(n):
        item = dataset[i]
        if isinstance(item, (tuple, list)):
            x, y = item[0], item[1] if len(item) > 1 else None
        else:
            x, y = item, None
        xs.append(np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float32))
        ys.append(y)
    shape = xs[0].shape
    if any(x.shape != shape for x in xs):
        raise ValueError("dataset items have different shapes; resize them to a common shape first")
    X = np.stack(xs).reshape(n, -1)
    if all(v is None for v in ys):
        y = None
    elif any(v is None for v in ys):
        raise ValueError("some dataset items have labels and some do not")
    else:
        y = np.asarray([int(v) for v in ys], dtype=np.int64)
    image_shape = tuple(shape) if len(shape) >= 2 else None
    if image_shape is not None and len(image_shape) == 2:
        image_shape = (1, *image_shape)
    return X, y, image_shape


class ArrayDataset:
    """A torch-style map dataset over ``(X, y)`` arrays (``y`` optional)."""

    def __init__(self, X, y=None):
        self.X = np.asarray(X, dtype=np.float32)
        self.y = None if y is None else np.asarray(y, dtype=np.int64)

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, i):
        import torch

        x = torch.from_numpy(self.X[i])
        return x if self.y is None else (x, int(self.y[i]))


def image_folder_domain(root, *, size: int = 28, grayscale: bool = False, name: str | None = None):
    """An :class:`~da.data.EmpiricalDomain` from a ``root/class_name/*.png`` folder.

    Uses ``torchvision.datasets.ImageFolder``; images are resized to
    ``size``×``size`` and scaled to [0, 1].
    """
    try:
        from torchvision import datasets, transforms
    except ImportError:
        raise ImportError("image folders need torchvision: run `pip install torchvision` "
                          "(or `pip install da[vision]`)") from None
    from da.data import EmpiricalDomain

    tf = [transforms.Resize((size, size))]
    if grayscale:
        tf.append(transforms.Grayscale())
    tf.append(transforms.ToTensor())
    ds = datasets.ImageFolder(str(root), transform=transforms.Compose(tf))
    return EmpiricalDomain.from_dataset(ds, n_classes=len(ds.classes), name=name or str(root))
