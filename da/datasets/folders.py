"""Lazy, map-style image readers: class folders and TLlib list files.

Nothing is decoded until an item is asked for: a reader holds the list of
``(path, label)`` pairs and opens one image per ``__getitem__``, so a data set
of any size costs memory in proportion to its number of files, not pixels.

* :func:`image_folder` reads ``root/<class_name>/**/*.jpg|png|...`` with
  torchvision's :class:`~torchvision.datasets.ImageFolder` (a plain PIL reader
  with the same attributes stands in only when torchvision cannot be imported).
* :func:`image_list` reads a list file in TLlib's format, one
  ``relative/path.jpg label`` per line, relative to ``root``.

Before reading, :func:`check_image_folder` rejects a folder that is missing,
empty, has fewer than two classes or sits one level off: the folder of a single
class (images but no class folders) or the folder *above* the class folders
(Office-31's ``amazon/`` instead of ``amazon/images/``, which ImageFolder would
read silently as one class, the trap of transferlearning #183).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

__all__ = ["IMAGE_EXTENSIONS", "image_folder", "image_list", "ImageList", "check_image_folder", "targets_of"]

#: The extensions torchvision's ImageFolder accepts.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _subdirs(path: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))


def _has_image_below(path: Path) -> bool:
    for _, _, files in os.walk(path, followlinks=True):
        if any(_is_image(f) for f in files):
            return True
    return False


def _direct_images(path: Path) -> bool:
    return any(e.is_file() and _is_image(e.name) for e in os.scandir(path))


def check_image_folder(root, *, expected: str = "root/<class_name>/*.jpg") -> list[str]:
    """Validate a ``root/<class_name>/*.jpg`` folder without reading any image.

    Parameters
    ----------
    root : str or Path
    expected : str
        The layout the caller expects, quoted in every error.

    Returns
    -------
    classes : list of str
        The class folder names, sorted (ImageFolder's label order).

    Raises
    ------
    ValueError
        When ``root`` is missing or not a folder; holds images but no class
        folders (one level too deep); holds folders of folders rather than
        folders of images (one level too high); has a class folder without
        images; or has fewer than two classes.
    """
    root = Path(root)
    where = f"expected layout {expected}"
    if not root.exists():
        raise ValueError(f"image folder {str(root)!r} does not exist ({where})")
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} is not a directory ({where})")
    classes = _subdirs(root)
    if not classes:
        if _direct_images(root):
            raise ValueError(f"image folder {str(root)!r} holds images but no class folders: it looks "
                             f"one level too deep (a single class's folder); point at its parent "
                             f"{str(root.parent)!r}, which should hold one folder per class ({where})")
        raise ValueError(f"image folder {str(root)!r} holds no class folders ({where})")
    empty = []
    for c in classes:
        sub = root / c
        if _direct_images(sub):
            continue
        deeper = [d for d in _subdirs(sub) if _has_image_below(sub / d)]
        if deeper:
            hint = (f"point at {str(sub)!r}" if len(classes) == 1
                    else "point at the folder that holds the class folders")
            raise ValueError(f"image folder {str(root)!r} looks one level too high: {str(sub)!r} holds "
                             f"folders {deeper[:3]} rather than images, so it would be read as a single "
                             f"class; {hint} ({where})")
        empty.append(c)
    if empty:
        raise ValueError(f"class folder(s) {empty[:5]} of {str(root)!r} hold no images with an extension "
                         f"in {IMAGE_EXTENSIONS} ({where})")
    if len(classes) < 2:
        raise ValueError(f"image folder {str(root)!r} has a single class folder {classes[0]!r}: a "
                         f"classifier needs at least two classes ({where})")
    return classes


def _pil_rgb(path: str):
    from PIL import Image

    with open(path, "rb") as fh:
        return Image.open(fh).convert("RGB")


def _torchvision_datasets():
    try:
        from torchvision import datasets
    except Exception:  # missing, or a build that does not match torch ("torchvision::nms")
        return None
    return datasets


class _ImageSamples(Dataset):
    """``samples`` of ``(path, label)`` read as RGB PIL images, with an optional ``transform``."""

    samples: list
    transform = None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):
        path, target = self.samples[i]
        x = _pil_rgb(path)
        return (self.transform(x) if self.transform is not None else x), target


class _PILImageFolder(_ImageSamples):
    """ImageFolder's attributes and items over PIL, for when torchvision cannot be imported."""

    def __init__(self, root, transform=None):
        self.root = str(root)
        self.transform = transform
        self.classes = _subdirs(Path(root))
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for c in self.classes:
            for dirpath, _, files in sorted(os.walk(Path(root) / c, followlinks=True)):
                self.samples += [(os.path.join(dirpath, f), self.class_to_idx[c])
                                 for f in sorted(files) if _is_image(f)]
        self.targets = [t for _, t in self.samples]



def image_folder(root, transform=None, *, expected: str = "root/<class_name>/*.jpg"):
    """A lazy map-style dataset over ``root/<class_name>/*.jpg`` (RGB PIL images).

    Parameters
    ----------
    root : str or Path
        The folder holding one sub-folder per class.
    transform : callable, optional
        Applied to each PIL image (see :mod:`da.datasets.transforms`).
    expected : str
        The layout quoted in errors (the named layouts pass their own).

    Returns
    -------
    torchvision.datasets.ImageFolder
        Or an object with the same ``classes``, ``class_to_idx``, ``samples``,
        ``targets`` and items when torchvision cannot be imported.

    Raises
    ------
    ValueError
        From :func:`check_image_folder`.
    """
    check_image_folder(root, expected=expected)
    datasets = _torchvision_datasets()
    if datasets is None:
        return _PILImageFolder(root, transform=transform)
    return datasets.ImageFolder(str(root), transform=transform)


class ImageList(_ImageSamples):
    """A lazy dataset over a TLlib list file: ``relative/path.jpg label`` per line.

    As in TLlib's ``ImageList``, the label is the last token of a line and the
    path is the rest (it may contain spaces); relative paths are joined to
    ``root``. Blank lines and lines starting with ``#`` are skipped.

    Parameters
    ----------
    list_file : str or Path
    root : str or Path, optional
        Defaults to the list file's folder.
    transform : callable, optional
    classes : sequence of str, optional
        Class names, index = label. Defaults to ``"0" .. str(max label)``.

    Attributes
    ----------
    samples : list of (str, int)
    targets : list of int
    classes : list of str

    Raises
    ------
    ValueError
        A missing or empty list file, a malformed line (its number is given), a
        negative label, a label beyond ``classes``, or image files that do not
        exist under ``root``.
    """

    def __init__(self, list_file, root=None, transform=None, classes=None):
        list_file = Path(list_file)
        if not list_file.is_file():
            raise ValueError(f"list file {str(list_file)!r} does not exist (expected lines "
                             "'relative/path.jpg label')")
        self.root = Path(root) if root is not None else list_file.parent
        if not self.root.is_dir():
            raise ValueError(f"root {str(self.root)!r} of list file {str(list_file)!r} is not a directory")
        self.transform = transform
        self.samples = []
        for lineno, line in enumerate(list_file.read_text().splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) < 2 or not parts[-1].lstrip("-").isdigit():
                raise ValueError(f"{str(list_file)!r} line {lineno}: expected 'relative/path.jpg label', "
                                 f"got {line[:80]!r}")
            label = int(parts[-1])
            if label < 0:
                raise ValueError(f"{str(list_file)!r} line {lineno}: label {label} is negative")
            self.samples.append((str(self.root / " ".join(parts[:-1])), label))
        if not self.samples:
            raise ValueError(f"list file {str(list_file)!r} has no 'path label' lines")
        missing = [p for p, _ in self.samples if not os.path.isfile(p)]
        if missing:
            raise ValueError(f"{len(missing)} of {len(self.samples)} images of list file "
                             f"{str(list_file)!r} do not exist under root {str(self.root)!r}, e.g. "
                             f"{missing[:3]}")
        self.targets = [t for _, t in self.samples]
        top = max(self.targets)
        if classes is None:
            classes = [str(k) for k in range(top + 1)]
        classes = [str(c) for c in classes]
        if top >= len(classes):
            raise ValueError(f"list file {str(list_file)!r} has label {top} but only {len(classes)} "
                             "classes were given")
        self.classes = classes



def image_list(list_file, root=None, transform=None, *, classes=None) -> ImageList:
    """A lazy dataset over a TLlib list file; see :class:`ImageList`.

    Examples
    --------
    >>> ds = image_list("office31/image_list/amazon.txt", root="office31")  # doctest: +SKIP
    """
    return ImageList(list_file, root=root, transform=transform, classes=classes)


def targets_of(dataset) -> np.ndarray:
    """The int64 labels of a map-style ``(x, y)`` dataset.

    Read from its ``targets`` attribute when it has one (ImageFolder, ImageList,
    torchvision's data sets), else item by item (each item is read once and
    dropped: only the labels are kept).
    """
    t = getattr(dataset, "targets", None)
    if t is not None:
        return np.asarray(t.cpu() if hasattr(t, "cpu") else t, dtype=np.int64).reshape(-1)
    out = np.empty(len(dataset), dtype=np.int64)
    for i in range(len(dataset)):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(f"dataset item {i} is a {type(item).__name__}, not an (image, label) pair")
        out[i] = int(item[1])
    return out
