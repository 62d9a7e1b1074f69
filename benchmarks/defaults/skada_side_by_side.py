"""skada 0.6 on the generated pairs of ``pairs.py``, side by side with ours (docs/benchmarks.md).

skada and skorch stay out of ``da``'s dependencies: this script installs them
into their own virtual environment (``~/.cache/da-bench/skada-venv``: the CPU
torch wheel first, then ``skada==0.6.0`` and ``skorch``), writes each (pair,
seed) draw to an ``.npz`` (the same arrays ``run_grid.py`` trains on), and
runs ``_skada_worker.py`` inside that environment. The worker trains skada's
``SourceOnly``, ``DAN``, ``DANN``, ``DeepCoral`` and ``DeepJDOT`` with their
default settings on the same MLP (d-256-128-C), 30 epochs, batch 128, Adam at
1e-3, and writes one JSON line per run to
``results/skada.jsonl``, which ``make_tables.py`` reads next to ours.

Usage::

    PYTHONPATH=. python benchmarks/defaults/skada_side_by_side.py [--seeds 0 1 2] [--pairs ...] [--out FILE]

``--out`` (a file name in ``results/``, default ``skada.jsonl``) lets two seeds run at once, each worker
writing its own file; ``make_tables.py`` reads every ``results/skada*.jsonl``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pairs import PAIRS, make_split  # noqa: E402

VENV = Path(os.environ.get("DA_SKADA_VENV", Path.home() / ".cache" / "da-bench" / "skada-venv"))
DATA = Path.home() / ".cache" / "da-bench" / "skada-data"


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run([str(py), "-c", "import skada, skorch"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "skada==0.6.0", "skorch"], check=True)
    return py


def write_draws(pairs, seeds) -> list:
    DATA.mkdir(parents=True, exist_ok=True)
    out = []
    for p in pairs:
        for s in seeds:
            f = DATA / f"{p}__{s}.npz"
            if not f.exists():
                sp = make_split(p, s)
                np.savez(f, Xs=np.concatenate([sp.source_train.X, sp.source_val.X]),
                         ys=np.concatenate([sp.source_train.y, sp.source_val.y]), Xt=sp.target_train.X,
                         Xe=np.concatenate([sp.target_val.X, sp.target_test.X]),
                         ye=np.concatenate([sp.eval_labels.val, sp.eval_labels.test]), n_classes=sp.n_classes)
            out.append(str(f))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=["SourceOnly", "DAN", "DANN", "DeepCoral", "DeepJDOT"])
    ap.add_argument("--out", default="skada.jsonl", help="the results file, in results/ (a name starting 'skada')")
    a = ap.parse_args(argv)
    if not a.out.startswith("skada") or not a.out.endswith(".jsonl") or "/" in a.out:
        ap.error(f"--out must be a file name 'skada*.jsonl' in results/, got {a.out!r}")
    py = ensure_venv()
    files = write_draws(a.pairs, a.seeds)
    (HERE / "results").mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([str(py), str(HERE / "_skada_worker.py"), str(HERE / "results" / a.out),
                    ",".join(a.methods), *files], check=True, env=env)


if __name__ == "__main__":
    main()
