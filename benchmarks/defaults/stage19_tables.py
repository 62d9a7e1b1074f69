"""Stage 19 (issue #13, auto far from the oracle): stage 17's nine-candidate scratch pool with revision 11's
``infomax_coral`` as a tenth candidate (config ``auto_pool10_scratch19``, ``results/stage19pool.*.jsonl``, the
candidates' softmax outputs in ``results/probs/auto_pool10_scratch19/``); rules re-applied, no training.

The rules read held-out source labels and unlabelled target rows only; judging them reads the benchmark's target
labels (ORACLE: the gap is to the best of the ten candidates on each pair and seed). Seeds 0-1 are searched, seed 2
is read only for the rules reported.

Usage: PYTHONPATH=. python benchmarks/defaults/stage19_tables.py [--search] [--harms]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stage16_rules as R  # noqa: E402
from stage17_tables import md_search  # noqa: E402  (stage 16's rule search, its best with the fresh seed's figures)
from stage9_rules import _name  # noqa: E402

POOL10, POOL9 = "auto_pool10_scratch19", "auto_pool9_scratch17"
#: (rule, source guard) reported, as stage16_rules.py names them; "ens_all9" is stage 17's ensemble of the nine
#: (infomax_coral left out), from the same runs; the last two were the best of stage 17's search (top 4 by BNM)
#: and of stage 16's
POOL_RULES = [("source_val", 0.02), ("class_ami", 0.02), ("ens_all9", None), ("ens_all", None), ("ens_guard", 0.02),
              ("ens_aligned", 0.02), ("ens_top4:bnm", None), ("ens_top3:bnm", None)]


def pool_rows() -> list:
    """The ten-candidate pool's records, each with its candidates' softmax outputs and ``oracle``: the best of the
    ten candidates' target accuracies (ORACLE)."""
    return R.load_rows(POOL10, stage="stage19pool.", pool=POOL10)


def _without(r, name) -> dict:
    """A pool record without candidate ``name`` (its ``oracle`` still the best of all ten)."""
    return {**r, "auto": {**r["auto"], "candidates": [c for c in r["auto"]["candidates"] if c["name"] != name]}}


def nine_reproduced(rows) -> tuple:
    """(pair-seeds compared, those where every one of the nine shared candidates' target accuracy equals its
    stage-17 record's): the tenth candidate leaves the other nine's training untouched."""
    old = {(r["pair"], r["seed"]): r["candidate_target_acc"] for r in R.load_rows(POOL9, "stage17pool.", POOL9)}
    same = [all(r["candidate_target_acc"][k] == v for k, v in old[(r["pair"], r["seed"])].items())
            for r in rows if (r["pair"], r["seed"]) in old]
    return len(same), sum(same)


def md_pool(rows, seed_sets=((0, 1), (2,)), heads=None) -> str:
    """Gain over source-only / harms (< -0.01) / worst / gap to the best of the ten (ORACLE), per seed set
    (``heads``: the seed sets' column titles; default ``seeds 0-1`` and so on)."""
    rows9 = [_without(r, "infomax_coral") for r in rows]
    heads = heads or [f"seeds {'-'.join(map(str, s))}" for s in seed_sets]
    out = ["| rule | source guard | " + " | ".join(f"{h}: gain / harms / worst / gap" for h in heads) + " |",
           "|---|---|" + "---|" * len(seed_sets)]
    for rule, tol in POOL_RULES:
        rs, r_rule = (rows9, "ens_all") if rule == "ens_all9" else (rows, rule)
        cells = [R.evaluate(rs, r_rule, tol, seeds) for seeds in seed_sets]
        out.append(f"| {_name(rule) if rule != 'ens_all9' else rule} | {'none' if tol is None else tol} | "
                   + " | ".join(f"{e['gain']:+.3f} / {e['harms']} / {e['worst']:+.3f} / {e['gap']:+.3f}"
                                for e in cells) + " |")
    oracle = [np.mean([r["oracle"] - r["candidate_target_acc"]["source_only"] for r in rows if r["seed"] in s])
              for s in seed_sets]
    out.append("| ORACLE: the best of the ten per pair-seed | -- | " + " | ".join(f"{g:+.3f} / 0 / -- / +0.000"
                                                                            for g in oracle) + " |")
    return "\n".join(out)


def long_rows() -> list:
    """The same pool in the long-game regime (``auto_pool10_scratch19long``, 17 pairs x seeds 0-2, never searched)."""
    return R.load_rows(POOL10 + "long", stage="stage19poollong.", pool=POOL10 + "long")


def finetune_rows() -> list:
    """The ten as ``"finetune"`` candidates (``auto_pool10_finetune19``; ``oracle``: the best of these ten)."""
    return R.load_rows("auto_pool10_finetune19", stage="stage19ft.", pool="auto_pool10_finetune19")


def md_long(rows) -> str:
    """The reported rules on the long-game pool, all seeds: gain / harms / worst / gap to the best of the ten."""
    return md_pool(rows, ((0, 1, 2),), heads=["long, seeds 0-2 (51 pair-seeds, fresh)"])


def md_shipped_long(rows) -> str:
    """``align="auto"`` as shipped (``auto``: five finetune candidates, source_val within 0.02) in the long-game
    regime: gain over source-only per seed (harms, worst), and what it chose."""
    from collections import Counter

    out = ["| seed | gain over source-only | harms (< -0.01) | worst | chosen |", "|---:|---:|---:|---:|---|"]
    for seed in (0, 1, 2):
        rs = [r for r in rows if r["seed"] == seed and "auto" in r]
        g = np.array([r["target_acc"] - r["candidate_target_acc"]["source_only"] for r in rs])
        chosen = Counter(r["auto"]["chosen"] for r in rs)
        out.append(f"| {seed} | {g.mean():+.3f} | {int((g < -0.01).sum())} of {len(g)} | {g.min():+.3f} | "
                   + ", ".join(f"{k} {v}" for k, v in sorted(chosen.items(), key=lambda kv: (-kv[1], kv[0]))) + " |")
    return "\n".join(out)


def shipped_long_rows(stage="stage19autolong") -> list:
    """``align="auto"``'s long-regime records: revision 10's candidates (``stage19autolong``, JDOT among them) or
    revision 11's (``stage19auto11long``)."""
    from summarize import load

    return [r for r in load(stage) if r["config"] == "auto"]


def tables() -> str:
    """Every stage-19 table of docs/defaults.md."""
    return "\n\n".join([md_pool(pool_rows()), md_long(long_rows()), md_pool(finetune_rows()),
                         md_shipped_long(shipped_long_rows()), md_shipped_long(shipped_long_rows("stage19auto11long"))])


if __name__ == "__main__":
    pool = pool_rows()
    n, same = nine_reproduced(pool)
    print(f"{len(pool)} pool records; the nine shared candidates reproduce stage 17's on {same} of {n} pair-seeds\n")
    print(md_search(pool) if "--search" in sys.argv else tables())
    if "--harms" in sys.argv:
        for label, rs in (("short", pool), ("long", long_rows())):
            for rule, tol in POOL_RULES[1:]:
                if rule != "ens_all9":
                    print(label, _name(rule), tol, R.harms(rs, rule, tol))
