"""Adapters from small user data to arrays: torch ``Dataset`` and image folders.

These materialise every item, for data that fits in memory (the built-in
pairs' size). Image data sets are streamed instead: see
:func:`da.datasets.domains.domain_from_spec` and :mod:`da.datasets.folders`.
"""

from __future__ import annotations

import numpy as np

from da.data.domain import dataset_to_arrays
from da.datasets.folders import image_folder

__all__ = ["dataset_to_arrays", "ArrayDataset", "image_folder_domain"]

#: :func:`image_folder_domain` refuses folders with more images than this.
MAX_IN_MEMORY_IMAGES = 20_000


class ArrayDataset:
    """A torch-style map dataset over ``(X, y)`` arrays (``y`` optional).

    With ``image_shape`` (``(C, H, W)``), flat rows are returned as images.
    """

    def __init__(self, X, y=None, image_shape=None):
        self.X = np.asarray(X, dtype=np.float32)
        self.y = None if y is None else np.asarray(y, dtype=np.int64)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        if self.image_shape is not None and int(np.prod(self.image_shape)) != int(np.prod(self.X.shape[1:])):
            raise ValueError(f"image_shape {self.image_shape} does not match X's rows of shape "
                             f"{self.X.shape[1:]}")

    @property
    def targets(self):
        return self.y

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, i):
        import torch

        x = torch.from_numpy(self.X[i])
        if self.image_shape is not None:
            x = x.reshape(self.image_shape)
        return x if self.y is None else (x, int(self.y[i]))


def image_folder_domain(root, *, size: int = 28, grayscale: bool = False, name: str | None = None,
                        max_images: int = MAX_IN_MEMORY_IMAGES):
    """A small ``root/class_name/*.png`` folder read into an :class:`~da.data.EmpiricalDomain`.

    Images are resized to ``size``×``size`` with torchvision's ``transforms.v2``
    and scaled to [0, 1]; every image is held in memory as float32, so folders
    with more than ``max_images`` images are refused: stream them with
    :func:`da.datasets.domain_from_spec` instead.

    Raises
    ------
    ValueError
        A missing or misplaced folder (:func:`~da.datasets.folders.check_image_folder`),
        or more than ``max_images`` images.
    ImportError
        Without torchvision (the message names the ``pip install``).
    """
    from da.data import EmpiricalDomain
    from da.datasets.transforms import _v2

    v2 = _v2()
    import torch

    steps = [v2.ToImage(), v2.Resize((size, size), antialias=True)]
    if grayscale:
        steps.append(v2.Grayscale())
    steps.append(v2.ToDtype(torch.float32, scale=True))
    ds = image_folder(root, transform=v2.Compose(steps))
    if len(ds) > max_images:
        raise ValueError(f"image folder {str(root)!r} has {len(ds)} images, more than max_images="
                         f"{max_images} to hold in memory: stream it with "
                         "da.datasets.domain_from_spec({'folder': ...}) instead")
    return EmpiricalDomain.from_dataset(ds, n_classes=len(ds.classes), name=name or str(root))
