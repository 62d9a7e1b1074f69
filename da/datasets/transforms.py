"""Named image transforms, built from torchvision's ``transforms.v2``.

Presets (``image_size`` = s; the ImageNet pair 256/224 scales with it, so
s = 224 resizes to 256 and s = 64 to 73):

* ``imagenet`` — train: ``Resize(256·s/224)``, ``RandomResizedCrop(s)``,
  ``RandomHorizontalFlip``, float in [0, 1], ImageNet normalisation
  (mean 0.485/0.456/0.406, std 0.229/0.224/0.225); eval: ``Resize(256·s/224)``,
  ``CenterCrop(s)``, the same normalisation (TLlib's and torchvision's recipe).
* ``digits`` — train and eval: ``Resize((s, s))``, float, normalised with mean
  0.5 and std 0.5 per channel (TLlib's digits recipe; no flip: a flipped digit
  is another digit).
* ``none`` — train and eval: ``Resize((s, s))`` and a float tensor in [0, 1],
  nothing else.

A user callable is accepted wherever a preset name is. :func:`make_transforms`
gives the source and target their own training transform if asked, and one
evaluation transform (used for diagnostics and selection).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRESETS", "IMAGENET_MEAN", "IMAGENET_STD", "train_transform", "eval_transform",
           "Transforms", "make_transforms"]

PRESETS = ("imagenet", "digits", "none")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _v2():
    try:
        from torchvision.transforms import v2
    except Exception as exc:  # missing, or a build that does not match torch
        raise ImportError("image transforms need torchvision: run `pip install torchvision` (or "
                          f"`pip install da[vision]`); importing it failed with: {exc}") from None
    return v2


def _check(augment, image_size) -> int:
    if not isinstance(augment, str) or augment not in PRESETS:
        raise ValueError(f"augment must be one of {PRESETS} or a callable, got {augment!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    return image_size


def _float_steps(v2, normalize):
    """uint8 image -> float32 in [0, 1] (-> normalised)."""
    import torch

    steps = [v2.ToDtype(torch.float32, scale=True)]
    if normalize is not None:
        steps.append(v2.Normalize(*normalize))
    return steps


def _imagenet(v2, s: int, *crop):
    """Resize to 256·s/224, then ``crop`` (random crop and flip, or centre crop), float, ImageNet normalisation."""
    return v2.Compose([v2.ToImage(), v2.Resize(round(256 * s / 224), antialias=True), *crop,
                       *_float_steps(v2, (IMAGENET_MEAN, IMAGENET_STD))])


def train_transform(augment="imagenet", image_size: int = 224):
    """The training transform of a preset (or ``augment`` itself when callable).

    Examples
    --------
    >>> t = train_transform("imagenet", 224)  # doctest: +SKIP
    """
    if callable(augment):
        return augment
    s = _check(augment, image_size)
    v2 = _v2()
    if augment == "imagenet":
        return _imagenet(v2, s, v2.RandomResizedCrop(s, antialias=True), v2.RandomHorizontalFlip())
    norm = ((0.5,), (0.5,)) if augment == "digits" else None
    return v2.Compose([v2.ToImage(), v2.Resize((s, s), antialias=True), *_float_steps(v2, norm)])


def eval_transform(augment="imagenet", image_size: int = 224):
    """The deterministic evaluation transform of a preset (``augment`` itself when callable)."""
    if callable(augment):
        return augment
    s = _check(augment, image_size)
    v2 = _v2()
    if augment == "imagenet":
        return _imagenet(v2, s, v2.CenterCrop(s))
    return train_transform(augment, s)


@dataclass(frozen=True)
class Transforms:
    """The three transforms of a run: source train, target train, evaluation."""

    source_train: object
    target_train: object
    eval: object


def make_transforms(augment="imagenet", image_size: int = 224, *, source=None, target=None,
                    eval=None) -> Transforms:
    """Build a run's transforms from preset names or callables.

    Parameters
    ----------
    augment : str or callable
        The default training transform, and the evaluation transform's preset.
    image_size : int
    source, target : str or callable, optional
        A different training transform for that domain.
    eval : str or callable, optional
        The evaluation transform; defaults to ``augment``'s eval transform (a
        callable ``augment`` is then used for evaluation too).

    Returns
    -------
    Transforms
    """
    return Transforms(source_train=train_transform(source if source is not None else augment, image_size),
                      target_train=train_transform(target if target is not None else augment, image_size),
                      eval=eval_transform(eval if eval is not None else augment, image_size))
