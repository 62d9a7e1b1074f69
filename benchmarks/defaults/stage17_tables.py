"""Stage 17 (issue #13, revision 10): the infomax method's candidates (configs.py, stage 17) next to revision 9's
defaults, in the short regime (seeds 0-2) and the long-game one, and the skada side by side's best method per pair
with infomax among ours; no training.

"Best" per pair is chosen with the benchmark's target labels (ORACLE), on both sides, as in docs/benchmarks.md.

Usage: PYTHONPATH=. python benchmarks/defaults/stage17_tables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tables as M  # noqa: E402
from summarize import load, per_pair  # noqa: E402

CANDIDATES = ["infomax_w0.3", "infomax_w1", "infomax_w3", "infomax_w10", "infomax_svl_w1", "infomax_svl_w2",
              "infomax_svl_w3", "infomax_svl_w5", "infomax_default"]
REFERENCE = ["mmd_default", "coral_default", "sinkhorn_default", "dann_default"]
SKADA = ["skada_SourceOnly", "skada_DAN", "skada_DANN", "skada_DeepCoral", "skada_DeepJDOT"]


def _mean(d, config, pair, seeds):
    a = d.get((config, pair), {})
    return float(np.mean([a[s] for s in seeds])) if all(s in a for s in seeds) else np.nan


def md_best_vs_skada(short, skada, seeds=(0, 1, 2), new="infomax_default") -> str:
    """Per pair: skada's best method, ours at revision 9 (the shipped defaults, source-only and auto, as in
    docs/benchmarks.md) and with ``new``
    among them (means over ``seeds``; ORACLE: the best is chosen with target labels)."""
    d = per_pair(short + skada)
    pairs = sorted({p for (c, p) in d if c == "skada_SourceOnly"})
    out = ["| pair | best skada | best ours, revision 9 | infomax | best ours with infomax | ours >= skada: rev. 9 / "
           "with infomax |", "|---|---:|---:|---:|---:|---|"]
    n9 = n10 = 0
    for p in pairs:
        bs = max(_mean(d, c, p, seeds) for c in SKADA)
        b9 = max(_mean(d, c, p, seeds) for c in ["source_only"] + M.SHIPPED + ["auto"])
        im = _mean(d, new, p, seeds)
        b10 = max(b9, im)
        ok9, ok10 = b9 >= bs, b10 >= bs
        n9, n10 = n9 + ok9, n10 + ok10
        out.append(f"| {p} | {bs:.3f} | {b9:.3f} | {im:.3f} | {b10:.3f} | {'yes' if ok9 else 'no'} / "
                   f"{'yes' if ok10 else '**no**'} |")
    out.append(f"| **pairs** | | | | | {n9} / {n10} of {len(pairs)} |")
    return "\n".join(out)


def tables() -> str:
    short = M.short_rows_now() + load("stage17.")
    long = load("long") + load("stage10long") + load("stage17long")
    in_long = [c for c in CANDIDATES + ["dann_clip100"] if any(r["config"] == c for r in long)]
    return "\n".join([M.md_seeds(short, CANDIDATES + REFERENCE), "", M.md_regimes(short, long, in_long), "",
                      md_best_vs_skada(short, load("skada"))])


if __name__ == "__main__":
    print(tables())
