"""Stage 19 (issue #13, auto far from the oracle): stage 17's nine-candidate scratch pool with revision 11's
``infomax_coral`` as a tenth candidate (config ``auto_pool10_scratch19``, ``results/stage19pool.*.jsonl``, the
candidates' softmax outputs in ``results/probs/auto_pool10_scratch19/``); rules re-applied, no training.

The rules read held-out source labels and unlabelled target rows only; judging them reads the benchmark's target
labels (ORACLE: the gap is to the best of the ten candidates on each pair and seed). Seeds 0-1 are searched, seed 2
is read only for the rules reported.

Usage: PYTHONPATH=. python benchmarks/defaults/stage19_tables.py [--search]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stage16_rules as R  # noqa: E402
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


def md_pool(rows, seed_sets=((0, 1), (2,))) -> str:
    """Gain over source-only / harms (< -0.01) / worst / gap to the best of the ten (ORACLE), per seed set."""
    rows9 = [_without(r, "infomax_coral") for r in rows]
    out = ["| rule | source guard | " + " | ".join(f"seeds {'-'.join(map(str, s))}: gain / harms / worst / gap"
                                                 for s in seed_sets) + " |", "|---|---|" + "---|" * len(seed_sets)]
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


def md_search(rows, top: int = 10) -> str:
    """stage16_rules.py's rule search (seeds 0-1) on the ten-candidate pool, its best ``top`` with seed 2's figures."""
    out = ["| rule | source guard | seeds 0-1 (searched) | seed 2 (fresh) |", "|---|---|---|---|"]
    for rule, tol, e in R.search(rows)[:top]:
        f = R.evaluate(rows, rule, tol, R.FRESH_SEEDS)
        out.append(f"| {_name(rule)} | {'none' if tol is None else tol} | " + " | ".join(
            f"{x['gain']:+.3f} / {x['harms']} / {x['worst']:+.3f} / {x['gap']:+.3f}" for x in (e, f)) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    pool = pool_rows()
    n, same = nine_reproduced(pool)
    print(f"{len(pool)} pool records; the nine shared candidates reproduce stage 17's on {same} of {n} pair-seeds\n")
    print(md_search(pool) if "--search" in sys.argv else md_pool(pool))
    if "--harms" in sys.argv:
        for rule, tol in POOL_RULES[1:]:
            if rule != "ens_all9":
                print(_name(rule), tol, R.harms(pool, rule, tol))
