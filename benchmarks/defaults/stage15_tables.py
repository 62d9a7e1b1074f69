"""Stage 15: the shipped JDOT with its source rows weighted by an online-EM estimate of the target prior
(``jdot_em``; ``jdot_em_clip2`` / ``jdot_em_clip4``: each class's ratio clipped to [1/c, c]) against the shipped
JDOT's records (the tables' ``jdot_default``), on the short regime; no training. Judging reads the benchmark's
target labels, as every stage does.

Usage: PYTHONPATH=. python benchmarks/defaults/stage15_tables.py
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tables as M  # noqa: E402
from summarize import TIE, load  # noqa: E402

CONFIGS = ["jdot_default", "jdot_em", "jdot_em_clip2", "jdot_em_clip4"]


def tables() -> list[str]:
    rows = M.short_rows_now() + load("stage15.")
    acc = defaultdict(dict)
    for r in rows:
        if "error" not in r:
            acc[r["config"]][(r["pair"], r["seed"])] = r["target_acc"]
    so = acc["source_only"]
    keys = sorted(k for k in acc["jdot_em"] if all(k in acc[c] for c in CONFIGS) and k in so)
    out = ["| config | pair-seeds | mean gain over source-only | harms (< −0.01) | wins (> +0.01) | worst |",
           "|---|---:|---:|---:|---:|---:|"]
    for c in CONFIGS:
        g = np.array([acc[c][k] - so[k] for k in keys])
        out.append(f"| {c} | {len(keys)} | {g.mean():+.3f} | {int((g < -TIE).sum())} | {int((g > TIE).sum())} | "
                   f"{g.min():+.3f} |")
    out += ["", "| pair (mean gain over seeds) | " + " | ".join(CONFIGS) + " |", "|---|" + "---:|" * len(CONFIGS)]
    for p in sorted({p for p, _ in keys}):
        gains = [np.mean([acc[c][k] - so[k] for k in keys if k[0] == p]) for c in CONFIGS]
        out.append(f"| {p} | " + " | ".join(f"{g:+.3f}" for g in gains) + " |")
    return out


if __name__ == "__main__":
    print("\n".join(tables()))
