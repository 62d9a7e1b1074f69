"""``align="auto"`` by candidate training: every label-free rule re-applied to the recorded candidate
scores (no re-training), per pair against source-only and against the oracle (ORACLE: target labels).

The records are ``results/autostrat.*.jsonl`` (configs ``auto_scratch``, ``auto_warmup``, ``auto_finetune``
of ``configs.py``). Judging a rule reads this benchmark's target labels -- the candidates' target accuracy
(``candidate_target_acc``, evaluation only) and the shipped single-method runs: that is what the benchmark
is for. The rules themselves read held-out source labels and unlabelled target data only.

Usage: PYTHONPATH=. python benchmarks/defaults/auto_tables.py [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tables import SHIPPED, with_aliases  # noqa: E402
from summarize import load, per_pair  # noqa: E402

STRATEGIES = ("auto_scratch", "auto_warmup", "auto_finetune")
#: (rule, source-guard tolerance, margin); tolerance None = no guard
RULES = [(r, t, m) for r in ["source_val", "iwcv", "dev", "entropy", "snd", ("iwcv", "dev"), ("iwcv", "entropy"),
                             ("dev", "entropy"), ("iwcv", "dev", "entropy"), ("entropy", "snd"), "borda"]
         for t in (None, 0.02, 0.0) for m in (0.0, 0.005)]


def rule_name(rule, tol, margin) -> str:
    nm = rule if isinstance(rule, str) else " + ".join(rule)
    return f"{nm} | {'none' if tol is None else tol} | {margin:g}"


def oracle(d, pair, seed):
    """ORACLE: the shipped default method (or source-only) with the best target accuracy on (pair, seed)."""
    best = max((c for c in ["source_only"] + SHIPPED if seed in d.get((c, pair), {})),
               key=lambda c: d[(c, pair)][seed])
    return best, d[(best, pair)][seed]


def apply_rule(rec, rule, tol, margin):
    from da.transfer.auto import choose

    name, _ = choose(rec["auto"]["candidates"], rule=rule, tolerance=1e9 if tol is None else tol, margin=margin)
    return name


def evaluate(rows, config, rule, tol, margin, seed):
    """Per pair: (pair, source-only, auto, oracle name, oracle acc, chosen) for one strategy and rule."""
    d = per_pair(rows)
    out = []
    for r in sorted((r for r in rows if r["config"] == config and r["seed"] == seed), key=lambda r: r["pair"]):
        acc = r["candidate_target_acc"]
        name = apply_rule(r, rule, tol, margin)
        oname, oacc = oracle(d, r["pair"], seed)
        out.append({"pair": r["pair"], "source_only": acc["source_only"], "auto": acc[name], "oracle": oname,
                    "oracle_acc": oacc, "chosen": name, "best_candidate": max(acc.values()),
                    "seconds": r["seconds"], "cand_seconds": {c["name"]: c["seconds"] for c in r["auto"]["candidates"]}})
    return out


def summary(per):
    g = np.array([p["auto"] - p["source_only"] for p in per])
    gap = np.array([p["auto"] - p["oracle_acc"] for p in per])
    cand = np.array([p["auto"] - p["best_candidate"] for p in per])
    return {"n": len(g), "gain": g.mean(), "worst": g.min(), "harm": int((g < -0.01).sum()), "gap": gap.mean(),
            "gap_cand": cand.mean(), "adapted": sum(p["chosen"] != "source_only" for p in per)}


def md_rules(rows, seed, strategies=STRATEGIES):
    out = ["| strategy | rule | source guard tau | margin | mean gain vs source-only | worst | "
           "runs below source-only by > .01 | mean gap to the oracle method | mean gap to the oracle candidate | "
           "adapted |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for st in strategies:
        for rule, tol, mg in RULES:
            per = evaluate(rows, st, rule, tol, mg, seed)
            if not per:
                continue
            s = summary(per)
            out.append(f"| {st.removeprefix('auto_')} | {rule_name(rule, tol, mg)} | {s['gain']:+.3f} | {s['worst']:+.3f} "
                       f"| {s['harm']}/{s['n']} | {s['gap']:+.3f} | {s['gap_cand']:+.3f} | {s['adapted']} |")
    return "\n".join(out)


def md_pairs(rows, config, rule, tol, margin, seed):
    per = evaluate(rows, config, rule, tol, margin, seed)
    out = ["| pair | source-only | auto | auto - source-only | best default method (ORACLE) | auto - oracle | "
           "chosen |", "|---|---:|---:|---:|---|---:|---|"]
    for p in per:
        out.append(f"| {p['pair']} | {p['source_only']:.3f} | {p['auto']:.3f} | {p['auto'] - p['source_only']:+.3f} | "
                   f"{p['oracle'].removesuffix('_default')} {p['oracle_acc']:.3f} | {p['auto'] - p['oracle_acc']:+.3f} "
                   f"| {p['chosen']} |")
    s = summary(per)
    out.append(f"| **mean** | {np.mean([p['source_only'] for p in per]):.3f} | {np.mean([p['auto'] for p in per]):.3f} "
               f"| {s['gain']:+.3f} (worst {s['worst']:+.3f}) | {np.mean([p['oracle_acc'] for p in per]):.3f} | "
               f"{s['gap']:+.3f} | adapted on {s['adapted']} |")
    return "\n".join(out)


def md_cost(rows, seed):
    """Seconds per auto fit against its candidates' own single-method fits (same process, same run)."""
    out = ["| strategy | pairs | auto fit (s, mean) | source-only fit | one aligned fit (mean of its candidates) | "
           "auto / one aligned fit |", "|---|---:|---:|---:|---:|---:|"]
    for st in STRATEGIES:
        rs = [r for r in rows if r["config"] == st and r["seed"] == seed]
        if not rs:
            continue
        tot = np.mean([r["seconds"] for r in rs])
        so = np.mean([c["seconds"] for r in rs for c in r["auto"]["candidates"] if c["name"] == "source_only"])
        al = np.mean([c["seconds"] for r in rs for c in r["auto"]["candidates"] if c["name"] != "source_only"])
        out.append(f"| {st.removeprefix('auto_')} | {len(rs)} | {tot:.1f} | {so:.1f} | {al:.1f} | {tot / al:.1f} |")
    return "\n".join(out)


def load_rows():
    return with_aliases(load("stage1", "stage2", "final", "swdcheck", "autostrat"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rows = load_rows()
    print(md_rules(rows, a.seed))
    print()
    print(md_cost(rows, a.seed))
