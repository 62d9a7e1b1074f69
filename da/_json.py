"""JSON-safe values: the one conversion from numpy/torch/pathlib objects to plain JSON.

Every record ``da`` writes (``result.json``, ``metrics.jsonl``, reports,
checkpoint metadata) goes through :func:`to_jsonable` or, inside
``json.dumps``, :func:`json_default`. Imports nothing heavy: numpy and torch
are looked up only when an object of theirs is met.
"""

from __future__ import annotations

import json
import sys
from pathlib import PurePath

__all__ = ["to_jsonable", "json_default", "dumps_line"]


def _convert(obj):
    """A non-JSON leaf -> a JSON value, or raise TypeError."""
    if isinstance(obj, PurePath):
        return str(obj)
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(obj, torch.Tensor):
            return obj.detach().cpu().tolist()
        if isinstance(obj, (torch.device, torch.dtype)):
            return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def json_default(obj):
    """``json.dumps(..., default=json_default)``: numpy scalars/arrays, tensors, paths."""
    return _convert(obj)


def to_jsonable(obj, *, strict: bool = True):
    """``obj`` with numpy scalars/arrays, tensors, paths and tuples made plain, recursively.

    Dict keys become strings; floats (NaN and inf included) are left as they
    are. Anything else that JSON cannot hold raises :class:`TypeError`, or with
    ``strict=False`` is left as it is (for records that filter it out later).

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.float32(0.5), "b": (np.arange(2), 1)})
    {'a': 0.5, 'b': [[0, 1], 1]}
    """
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, strict=strict) for v in obj]
    try:
        leaf = _convert(obj)
    except TypeError:
        if strict and not isinstance(obj, (bool, int, float, str)):  # an int or str subclass stays
            raise
        return obj
    return to_jsonable(leaf, strict=strict)


def dumps_line(record: dict) -> str:
    """One JSON-lines record: sorted keys, NaN allowed, newline-terminated."""
    return json.dumps(record, sort_keys=True, default=json_default, allow_nan=True) + "\n"
