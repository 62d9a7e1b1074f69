"""Stage 10 (revision 9): DANN's and CDAN's recipes with the gradient norm clipped at 100, run by run against
the revision-8 records of the same (pair, seed), in both regimes; no training.

A clip that never binds multiplies the gradients by exactly 1, so every run whose norm stayed below 100 must
give revision 8's target accuracy bit for bit; the others are listed with both figures.

Usage: PYTHONPATH=. python benchmarks/defaults/stage10_compare.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tables as M  # noqa: E402
from summarize import TIE, load  # noqa: E402

#: revision 8's records of each method (make_tables.ALIAS_REV8's configurations, in both regimes)
REV8 = {"dann": "dann_sel_svce", "cdan": "cdan_rev7"}


def _by_key(rows, config):
    return {(r["pair"], r["seed"]): r for r in rows if r["config"] == config}


def compare(short=None, long=None) -> list[str]:
    short = short if short is not None else load("stage6", "stage10.") + M.stage7_rows()
    long = long if long is not None else load("long_svce", "stage10long") + M.stage7_rows("cdan7long")
    sources = {"short": _by_key(load("stage1", "final", "seed2"), "source_only"),
               "long": _by_key(load("long."), "source_only")}
    out = ["| method | regime | runs | same target accuracy as revision 8 | differ (revision 8 → 9) | revision 8 "
           "failed | mean gain over source-only, rev. 8 → 9 | runs below source-only by > 0.01, rev. 8 → 9 |",
           "|---|---|---:|---:|---|---:|---|---|"]
    for m, old in REV8.items():
        for regime, rows in (("short", short), ("long", long)):
            new, ref = _by_key(rows, f"{m}_clip100"), _by_key(rows, old)
            so = sources[regime]
            # the constant-target pair (digits_invert0.5: 0.5 x + 0.5 (1 - x) = 0.5) is refused since its records
            # at revisions 6-7 (check_alignment_target): scored as the majority class, it says nothing of the clip
            keys = sorted(k for k in new if k in ref and "is constant" not in new[k].get("error", ""))
            same = [k for k in keys if new[k]["target_acc"] == ref[k]["target_acc"]]
            diff = [f"{p} s{s}: {ref[(p, s)]['target_acc']:.3f} → {new[(p, s)]['target_acc']:.3f}"
                    for p, s in keys if (p, s) not in same]
            failed = sum("error" in ref[k] and "error" not in new[k] for k in keys)
            g8 = np.array([ref[k]["target_acc"] - so[k]["target_acc"] for k in keys if k in so])
            g9 = np.array([new[k]["target_acc"] - so[k]["target_acc"] for k in keys if k in so])
            out.append(f"| {m} | {regime} | {len(keys)} | {len(same)} | {'; '.join(diff) or '—'} | {failed} | "
                       f"{g8.mean():+.3f} → {g9.mean():+.3f} | {int((g8 < -TIE).sum())} → {int((g9 < -TIE).sum())} |")
    return out


if __name__ == "__main__":
    print("\n".join(compare()))
