"""Atomic writes: a temporary file in the same directory, then ``os.replace``.

A reader (or a resumed sweep) never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from da._json import json_default

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_torch_save",
           "torch_load", "file_lock"]


_UMASK = os.umask(0)
os.umask(_UMASK)


def _atomic(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the result the usual umask-derived mode
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    return _atomic(path, lambda fh: fh.write(data))


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj, **kwargs) -> Path:
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("sort_keys", True)
    return atomic_write_text(path, json.dumps(obj, default=json_default, **kwargs) + "\n")


def atomic_torch_save(obj, path) -> Path:
    import torch

    return _atomic(path, lambda fh: torch.save(obj, fh))


def torch_load(path, map_location=None):
    """Load a checkpoint safely: tensors and plain containers only."""
    import torch

    return torch.load(path, map_location=map_location, weights_only=True)


@contextlib.contextmanager
def file_lock(path, blocking: bool = True):
    """An exclusive ``flock`` on ``path``; yields True when held (False: busy and non-blocking).

    The kernel releases it when the holder dies, even by SIGKILL, so a lock
    never outlives a killed run. Where ``fcntl`` is missing (Windows) it is a no-op.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
