"""Run a snippet in a fresh interpreter against this tree or against an older revision of `da`.

``--baseline REV`` in the benchmark scripts exports ``da/`` at git revision ``REV`` into a
temporary folder (``git archive``), so "before" and "after" are measured side by side, in the
same run, on the same machine load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export_revision(rev: str) -> Path:
    """``da/`` at ``rev`` in a temporary folder (kept for the process's lifetime)."""
    out = Path(tempfile.mkdtemp(prefix=f"da-{rev[:10]}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "da"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out


def run_child(code: str, tree: Path, threads: int | None = None) -> dict:
    """Run ``code`` (which prints one JSON line last) with ``tree`` first on the path."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir())
    if proc.returncode:
        raise RuntimeError(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
