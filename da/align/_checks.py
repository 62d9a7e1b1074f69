"""Input validation shared by the alignment losses.

Every loss checks its inputs once, at the top of ``forward``, with these
helpers. They build on :mod:`da._validation` and, like it, raise
:class:`ValueError` naming the argument and showing its shape.
"""

from __future__ import annotations

import math
import numbers

import torch

from da._validation import check_array, check_same_dim

__all__: list[str] = []


def _check_tensor(x, name: str, *, min_samples: int = 1) -> torch.Tensor:
    """A finite, floating, 2-D tensor with at least ``min_samples`` rows."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (n_samples, n_features), "
                         f"got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype, got {x.dtype} (shape {tuple(x.shape)})")
    return check_array(x, name, ndim=2, min_samples=min_samples, allow_tensor=True)


def _check_features(fs, ft, *, min_samples: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Source and target feature batches: 2-D, finite, same width, dtype and device.

    Batch sizes may differ.
    """
    fs = _check_tensor(fs, "fs", min_samples=min_samples)
    ft = _check_tensor(ft, "ft", min_samples=min_samples)
    check_same_dim(fs, ft, names=("fs", "ft"))
    if fs.dtype != ft.dtype or fs.device != ft.device:
        raise ValueError(f"fs and ft must share dtype and device, got {fs.dtype} on {fs.device} "
                         f"and {ft.dtype} on {ft.device}")
    return fs, ft


def _check_logits(logits, name: str, features: torch.Tensor, feature_name: str,
                  *, n_classes: int | None = None) -> torch.Tensor:
    """Logits of shape (n, C) matching the rows, dtype and device of ``features``."""
    if logits is None:
        raise ValueError(f"{name} is required by this loss (logits of shape "
                         f"({features.shape[0]}, n_classes)), got None")
    logits = _check_tensor(logits, name)
    if logits.shape[0] != features.shape[0]:
        raise ValueError(f"{name} has {logits.shape[0]} rows but {feature_name} has "
                         f"{features.shape[0]} (shapes {tuple(logits.shape)} and {tuple(features.shape)})")
    if n_classes is not None and logits.shape[1] != n_classes:
        raise ValueError(f"{name} must have {n_classes} columns (n_classes), got shape {tuple(logits.shape)}")
    if logits.device != features.device:
        raise ValueError(f"{name} is on {logits.device} but {feature_name} is on {features.device}")
    return logits


def _check_class_labels(ys, name: str, n_samples: int, n_classes: int,
                        device: torch.device) -> torch.Tensor:
    """Integer labels of shape (n_samples,) in ``0..n_classes-1``."""
    if ys is None:
        raise ValueError(f"{name} is required by this loss (integer labels of shape ({n_samples},)), got None")
    if not isinstance(ys, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of integer labels, got {type(ys).__name__}")
    if ys.is_floating_point() or ys.is_complex() or ys.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class labels, got dtype {ys.dtype}")
    if ys.dim() != 1 or ys.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},), got {tuple(ys.shape)}")
    if ys.device != device:
        raise ValueError(f"{name} is on {ys.device} but the features are on {device}")
    if ys.numel():
        lo, hi = int(ys.min()), int(ys.max())
        if lo < 0 or hi >= n_classes:
            raise ValueError(f"{name} has labels out of range: found [{lo}, {hi}], "
                             f"expected 0..{n_classes - 1}")
    return ys


def _check_choice(value, name: str, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(repr(v) for v in valid)}; got {value!r}")
    return value


def _check_positive(value, name: str, *, allow_none: bool = False) -> float | None:
    """A finite, strictly positive real number (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


def _check_nonnegative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)
