"""Stage 12 (issue #13): JDOT's alpha on the probe pairs (pairs.PROBES, not in the benchmark: 10 Gaussian classes,
3 digit classes, photo patches): mean gain over
source-only per pair over seeds 0-2, source-only's accuracy first; no training.

Usage: PYTHONPATH=. python benchmarks/defaults/stage12_tables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summarize import load  # noqa: E402

CONFIGS = ["jdot_default", "jdot_sg_a0.1", "jdot_sg_a0.3", "jdot_sg_a1", "jdot_sg_a3"]


def table(rows) -> str:
    acc = {(r["config"], r["pair"], r["seed"]): r["target_acc"] for r in rows}
    seeds = sorted({s for (_, _, s) in acc})
    out = ["| probe pair | source-only | " + " | ".join(CONFIGS) + " |", "|---|---:|" + "---:|" * len(CONFIGS)]
    for p in sorted({p for (_, p, _) in acc}):
        so = np.mean([acc[("source_only", p, s)] for s in seeds])
        gains = [np.mean([acc[(c, p, s)] - acc[("source_only", p, s)] for s in seeds]) for c in CONFIGS]
        out.append(f"| {p} | {so:.3f} | " + " | ".join(f"{g:+.3f}" for g in gains) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(load("stage12probe")))
