"""Stage 11 (issue #13): JDOT's candidates (configs.py, stage 11) next to revision 9's JDOT and stage 8's
jdot_sg_a1, in the short regime (seeds 0-2 where run) and the long-game one; no training.

Usage: PYTHONPATH=. python benchmarks/defaults/stage11_tables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tables as M  # noqa: E402
from summarize import load  # noqa: E402

CANDIDATES = ["jdot_default", "jdot_sg_a1", "jdot_sg_a1_l0.3", "jdot_sg_a1_l1", "jdot_sg_a1_svce", "jdot_sg_a0.3_l1"]


def tables(candidates=CANDIDATES, short_stages=("stage11.", "stage11s2"), long_stages=("stage11long",)) -> str:
    """The per-seed table of ``candidates`` (short regime) and the regimes table (those that ran long), from
    the records up to revision 9 plus ``short_stages`` and ``long_stages`` (used by later stages' scripts)."""
    short = M.short_rows_now() + load(*short_stages)
    long = load("long") + load("stage8long") + load(*long_stages)
    return "\n".join([M.md_seeds(short, candidates), "", M.md_regimes(short, long, [
        c for c in candidates if any(r["config"] == c for r in long)])])


if __name__ == "__main__":
    print(tables())
