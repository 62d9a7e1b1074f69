"""Stage 13 (issue #13): JDOT with its weight ramped up (configs.py, stage 13) next to revision 9's JDOT,
stage 8's jdot_sg_a1 and stage 11's best, in the short regime (seeds 0-2 where run) and the long-game one;
no training. The tables are stage11_tables.py's, with stage 13's records added.

Usage: PYTHONPATH=. python benchmarks/defaults/stage13_tables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stage11_tables  # noqa: E402

CANDIDATES = ["jdot_default", "jdot_sg_a1", "jdot_sg_a1_l0.3", "jdot_ramp", "jdot_sg_a1_ramp"]


def tables() -> str:
    return stage11_tables.tables(CANDIDATES, short_stages=("stage11.", "stage11s2", "stage13.", "stage13s2"),
                                 long_stages=("stage11long", "stage13long"))


if __name__ == "__main__":
    print(tables())
