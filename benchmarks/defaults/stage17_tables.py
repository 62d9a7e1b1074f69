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


def md_best_vs_skada(short, skada, seeds=(0, 1, 2), new="infomax_default", base_extra=(),
                     labels=("best ours, revision 9", "infomax", "best ours with infomax",
                             "rev. 9 / with infomax")) -> str:
    """Per pair: skada's best method, ours at revision 9 (the shipped defaults, source-only and auto, as in
    docs/benchmarks.md; with ``base_extra``'s configs too) and with ``new``
    among them (means over ``seeds``; ORACLE: the best is chosen with target labels). ``labels`` name the
    columns: the base's best, ``new``, the best with it, and the comparison."""
    d = per_pair(short + skada)
    pairs = sorted({p for (c, p) in d if c == "skada_SourceOnly"})
    out = [f"| pair | best skada | {labels[0]} | {labels[1]} | {labels[2]} | ours >= skada: {labels[3]} |",
           "|---|---:|---:|---:|---:|---|"]
    n9 = n10 = 0
    for p in pairs:
        bs = max(_mean(d, c, p, seeds) for c in SKADA)
        b9 = max(_mean(d, c, p, seeds) for c in ["source_only"] + M.SHIPPED + ["auto"] + list(base_extra))
        im = _mean(d, new, p, seeds)
        b10 = max(b9, im)
        ok9, ok10 = b9 >= bs, b10 >= bs
        n9, n10 = n9 + ok9, n10 + ok10
        out.append(f"| {p} | {bs:.3f} | {b9:.3f} | {im:.3f} | {b10:.3f} | {'yes' if ok9 else 'no'} / "
                   f"{'yes' if ok10 else '**no**'} |")
    out.append(f"| **pairs** | | | | | {n9} / {n10} of {len(pairs)} |")
    return "\n".join(out)


POOL9 = "auto_pool9_scratch17"
#: (rule, source guard) on the nine-candidate pool, as stage16_rules.py names them; "ens_all8" is stage 16's
#: ensemble of all eight, from the same runs (infomax left out); the last is the best of stage16_rules.search's
#: 246 rules on seeds 0-1 (``--search`` prints its top ten, with their seed-2 figures)
POOL_RULES = [("source_val", 0.02), ("class_ami", 0.02), ("ens_all8", None), ("ens_all", None), ("ens_guard", 0.02),
              ("ens_aligned", 0.02), ("ens_top4:bnm", None)]


def pool_rows() -> list:
    """The nine-candidate pool's records (stage 16's eight scratch candidates and infomax), each with its
    candidates' kept softmax outputs and ``oracle``: the best candidate's target accuracy (ORACLE)."""
    import stage16_rules as R

    return R.load_rows(POOL9, stage="stage17pool.", pool=POOL9)


def _without_infomax(r) -> dict:
    """A pool record as stage 16's eight-candidate pool saw it (its ``oracle`` still the best of the nine)."""
    return {**r, "auto": {**r["auto"], "candidates": [c for c in r["auto"]["candidates"] if c["name"] != "infomax"]}}


def md_pool(rows, seed_sets=((0, 1), (2,))) -> str:
    """Gain over source-only / harms (< -0.01) / worst / gap to the best of the nine (ORACLE), per seed set
    (stage16_rules.evaluate)."""
    import stage16_rules as R

    rows8 = [_without_infomax(r) for r in rows]
    out = ["| rule | source guard | " + " | ".join(f"seeds {'-'.join(map(str, s))}: gain / harms / worst / gap"
                                                 for s in seed_sets) + " |", "|---|---|" + "---|" * len(seed_sets)]
    for rule, tol in POOL_RULES:
        rs, r_rule = (rows8, "ens_all") if rule == "ens_all8" else (rows, rule)
        cells = [R.evaluate(rs, r_rule, tol, seeds) for seeds in seed_sets]
        out.append(f"| {rule} | {'none' if tol is None else tol} | " + " | ".join(
            f"{e['gain']:+.3f} / {e['harms']} / {e['worst']:+.3f} / {e['gap']:+.3f}" for e in cells) + " |")
    return "\n".join(out)


def tables() -> str:
    short = M.short_rows_now() + load("stage17.")
    long = load("long") + load("stage10long") + load("stage17long")
    in_long = [c for c in CANDIDATES + ["dann_clip100"] if any(r["config"] == c for r in long)]
    pool = pool_rows()
    return "\n".join([M.md_seeds(short, CANDIDATES + REFERENCE), "", M.md_regimes(short, long, in_long), "",
                      md_best_vs_skada(short, load("skada"))] + (["", md_pool(pool)] if pool else []))


def md_search(rows, top: int = 10) -> str:
    """stage16_rules.py's rule search (seeds 0-1) on the nine-candidate pool, its best ``top`` with seed 2's
    figures (gain / harms / worst / gap to the best of the nine)."""
    import stage16_rules as R

    out = ["| rule | source guard | seeds 0-1 (searched) | seed 2 (fresh) |", "|---|---|---|---|"]
    for rule, tol, e in R.search(rows)[:top]:
        f = R.evaluate(rows, rule, tol, R.FRESH_SEEDS)
        out.append(f"| {R._name(rule)} | {'none' if tol is None else tol} | " + " | ".join(
            f"{x['gain']:+.3f} / {x['harms']} / {x['worst']:+.3f} / {x['gap']:+.3f}" for x in (e, f)) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print(md_search(pool_rows()) if "--search" in sys.argv else tables())
