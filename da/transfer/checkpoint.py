"""Checkpoints: state dict, resolved config and metrics, written atomically.

A checkpoint holds only tensors and plain containers, so it loads with
``torch.load(weights_only=True)`` (:func:`da._io.torch_load`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from da._io import atomic_torch_save, torch_load
from da._json import json_default

__all__ = ["save_checkpoint", "load_checkpoint"]


def _plain(obj):
    """Round-trip through JSON so only plain containers reach the pickle."""
    return json.loads(json.dumps(obj, default=json_default))


def save_checkpoint(path, model: torch.nn.Module, config: dict | None = None,
                    metrics: dict | None = None) -> Path:
    """Write ``{"state_dict", "config", "metrics"}`` to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
    model : nn.Module
    config : dict, optional
        The resolved configuration (JSON-serialisable).
    metrics : dict, optional

    Returns
    -------
    Path
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return atomic_torch_save({"state_dict": state, "config": _plain(config or {}),
                              "metrics": _plain(metrics or {})}, path)


def load_checkpoint(path, model: torch.nn.Module | None = None, map_location="cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``); load its weights into ``model`` if given.

    Returns
    -------
    dict
        ``state_dict``, ``config`` and ``metrics``.
    """
    ckpt = torch_load(path, map_location=map_location)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a da.transfer checkpoint (no 'state_dict' entry)")
    if model is not None:
        model.load_state_dict(ckpt["state_dict"])
    return ckpt
