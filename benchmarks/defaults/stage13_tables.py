"""Stage 13 (issue #13): JDOT with its weight ramped up (configs.py, stage 13) next to revision 9's JDOT,
stage 8's jdot_sg_a1 and stage 11's best, in the short regime (seeds 0-2 where run) and the long-game one;
no training.

Usage: PYTHONPATH=. python benchmarks/defaults/stage13_tables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tables as M  # noqa: E402
from summarize import load  # noqa: E402

CANDIDATES = ["jdot_default", "jdot_sg_a1", "jdot_sg_a1_l0.3", "jdot_ramp", "jdot_sg_a1_ramp"]


def tables() -> str:
    rows_to6 = M.with_aliases(load("stage1", "stage2", "final", "swdcheck", "auto", "stage4", "seed2", "stage5",
                                   "stage6"))
    short = M.current(rows_to6 + M.stage7_rows() + load("stage8.") + load("stage10.")) + load("stage11.", "stage11s2", "stage13.", "stage13s2")
    long = load("long") + load("stage8long") + load("stage11long") + load("stage13long")
    return "\n".join([M.md_seeds(short, CANDIDATES), "", M.md_regimes(short, long, [
        c for c in CANDIDATES if any(r["config"] == c for r in long)])])


if __name__ == "__main__":
    print(tables())
