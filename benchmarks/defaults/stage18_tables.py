"""Stage 18 (issue #13): infomax with a distribution-matching term beside it (configs.py, stage 18) next to
revision 10's defaults, in the short regime (seeds 0-2) and the long-game one, and the skada side by side's best
method per pair against ours at revision 10 (infomax among them) and with revision 11's ``infomax_coral`` beside it
(its shipped records, ``infomax_coral_default``, equal the chosen candidate im_coral_w10000's); no training.

"Best" per pair is chosen with the benchmark's target labels (ORACLE), on both sides, as in docs/benchmarks.md.

Usage: PYTHONPATH=. python benchmarks/defaults/stage18_tables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tables as M  # noqa: E402
from stage17_tables import md_best_vs_skada  # noqa: E402
from summarize import load  # noqa: E402

CANDIDATES = ["im_mmd_w3", "im_mmd_w10", "im_sinkhorn_w1", "im_coral_w1000", "im_coral_w3000", "im_coral_w10000",
              "im_coral_w30000", "im1_coral_w10000"]
REFERENCE = ["infomax_default", "coral_default", "mmd_default", "sinkhorn_default"]
#: the stage's best two in the short regime, and the one with infomax at 1, run in the long-game regime too
IN_LONG = ["im_coral_w3000", "im_coral_w10000", "im1_coral_w10000", "infomax_default", "coral_default",
           "sinkhorn_default"]


def md_best_vs_skada11(short, skada, seeds=(0, 1, 2), new="infomax_coral_default") -> str:
    """Per pair: skada's best method, ours at revision 10 (revision 9's shipped defaults, source-only, auto and
    infomax) and with ``new`` among them (means over ``seeds``; ORACLE: the best is chosen with target labels)."""
    labels = ("best ours, revision 10", "infomax_coral", "best ours, revision 11", "rev. 10 / 11")
    return md_best_vs_skada(short, skada, seeds, new=new, base_extra=("infomax_default",), labels=labels)


def tables() -> str:
    short = M.short_rows_now() + load("stage17.") + load("stage18.")
    long = load("long") + load("stage10long") + load("stage17long") + load("stage18long")
    in_long = [c for c in IN_LONG if any(r["config"] == c for r in long)]
    return "\n".join([M.md_seeds(short, CANDIDATES + REFERENCE), "", M.md_regimes(short, long, in_long), "",
                      md_best_vs_skada11(short, load("skada"))])


if __name__ == "__main__":
    print(tables())
