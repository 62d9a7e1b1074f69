"""Run directories and their records: what a run writes, and how a reader tells a finished run.

Layout under an output root::

    ROOT/
      <run_id>/              one directory per resolved config
        config.yaml          the resolved config (written first)
        run.log              the run's log
        metrics.jsonl        one JSON record per line, appended as the run goes
        report_before.json   diagnostics before transfer
        report_after.json    diagnostics after fine-tuning
        model.pt             the fine-tuned weights (da.transfer checkpoint)
        figures/             plots, when da.plot is available
        result.json          written LAST, atomically: the run is complete iff it parses
        failed.json          instead of result.json when the run raised
      _cache/pretrain/       pretrained models keyed by the hash of the pretraining config
      _locks/                one lock file per run id (flock; released by the kernel on death)
      _sweeps/               one manifest per sweep (its run ids)

A directory without a valid ``result.json`` (or ``failed.json``) is *partial*:
whatever is in it came from a run that was killed, and the next attempt wipes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from da._io import atomic_write_json

__all__ = ["RESULT", "FAILED", "CONFIG", "METRICS", "LOG", "CHECKPOINT", "REPORT_BEFORE",
           "REPORT_AFTER", "CACHE_DIR", "LOCK_DIR", "SWEEP_DIR", "read_result", "read_failure",
           "run_state", "reset_run_dir", "run_lock", "file_lock", "append_jsonl", "read_jsonl",
           "find_run_dirs", "write_failure"]

RESULT = "result.json"
FAILED = "failed.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
LOG = "run.log"
CHECKPOINT = "model.pt"
REPORT_BEFORE = "report_before.json"
REPORT_AFTER = "report_after.json"
CACHE_DIR = "_cache"
LOCK_DIR = "_locks"
SWEEP_DIR = "_sweeps"
_RESERVED = (CACHE_DIR, LOCK_DIR, SWEEP_DIR)


def _read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def read_result(run_dir) -> dict | None:
    """The run's ``result.json`` if it is a complete, valid record of this directory's run; else None.

    A truncated or foreign file (wrong ``run_id``) does not count: the run is then partial.
    """
    run_dir = Path(run_dir)
    rec = _read_json(run_dir / RESULT)
    if not isinstance(rec, dict) or rec.get("status") != "completed" or rec.get("run_id") != run_dir.name \
            or not isinstance(rec.get("metrics"), dict) or not isinstance(rec.get("config"), dict):
        return None
    return rec


def read_failure(run_dir) -> dict | None:
    run_dir = Path(run_dir)
    rec = _read_json(run_dir / FAILED)
    if not isinstance(rec, dict) or rec.get("status") != "failed" or rec.get("run_id") != run_dir.name:
        return None
    return rec


def run_state(run_dir) -> str:
    """``"completed"``, ``"failed"``, ``"partial"`` (killed mid-way, or corrupt) or ``"absent"``."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return "absent"
    if read_result(run_dir) is not None:
        return "completed"
    if read_failure(run_dir) is not None:
        return "failed"
    return "partial"


def reset_run_dir(run_dir) -> Path:
    """Empty ``run_dir`` (what a killed or failed attempt left) and recreate it."""
    run_dir = Path(run_dir)
    for stale in run_dir.parent.glob(f".{run_dir.name}.trash.*"):  # left by an attempt killed while deleting
        shutil.rmtree(stale, ignore_errors=True)
    if run_dir.exists():
        # rename first, so a reader never sees a half-deleted directory under the run id
        trash = run_dir.with_name(f".{run_dir.name}.trash.{os.getpid()}")
        os.replace(run_dir, trash)
        shutil.rmtree(trash, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


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


def run_lock(root, run_id: str, blocking: bool = True):
    """:func:`file_lock` on ``ROOT/_locks/<run_id>.lock``: one attempt at a run at a time."""
    return file_lock(Path(root) / LOCK_DIR / f"{run_id}.lock", blocking)


def append_jsonl(path, record: dict) -> None:
    """Append one record as a JSON line (a reader skips a torn last line of a killed run)."""
    from da._io import _json_default

    line = json.dumps(record, sort_keys=True, default=_json_default, allow_nan=True) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()


def read_jsonl(path) -> list[dict]:
    """Every complete record of a JSON-lines file; torn or invalid lines are skipped."""
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
    except FileNotFoundError:
        pass
    return out


def write_failure(run_dir, run_id: str, exc: BaseException, tb: str = "", **extra) -> dict:
    """Record a failed attempt in ``failed.json`` (atomically), counting attempts."""
    run_dir = Path(run_dir)
    prev = read_failure(run_dir) if (run_dir / FAILED).exists() else None
    rec = {"run_id": run_id, "status": "failed", "error_type": type(exc).__name__,
           "error": str(exc), "traceback": tb, **extra}
    rec["attempts"] = int(extra.get("attempts", (prev or {}).get("attempts", 0) + 1))
    atomic_write_json(run_dir / FAILED, rec)
    return rec


def find_run_dirs(root) -> list[Path]:
    """Run directories under ``root`` (``root`` itself if it is one), sorted.

    A run directory holds a ``config.yaml``, ``result.json`` or ``failed.json``;
    the cache, lock and sweep folders are skipped.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"no such directory: {root}")
    marks = (RESULT, FAILED, CONFIG)
    if any((root / m).exists() for m in marks) and root.name not in _RESERVED:
        return [root]
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _RESERVED and not d.startswith("."))
        if any(m in filenames for m in marks):
            found.add(Path(dirpath))
            dirnames[:] = []  # a run directory holds no runs
    return sorted(found)
