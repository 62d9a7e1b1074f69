"""``align="auto"`` by candidate training: every label-free rule re-applied to the recorded candidate
scores (no re-training), per pair against source-only and against the oracle (ORACLE: target labels).

The records are ``results/autostrat.*.jsonl`` (configs ``auto_scratch``, ``auto_warmup``, ``auto_finetune``
of ``configs.py``). Judging a rule reads this benchmark's target labels -- the candidates' target accuracy
(``candidate_target_acc``, evaluation only) and the shipped single-method runs: that is what the benchmark
is for. The rules themselves read held-out source labels and unlabelled target data only.

Usage: PYTHONPATH=. python benchmarks/defaults/auto_tables.py [--write-docs]
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
    """ORACLE: the shipped default method (or source-only) with the best target accuracy on (pair, seed);
    ``(None, nan)`` where the single-method runs of that seed were not made."""
    have = [c for c in ["source_only"] + SHIPPED if seed in d.get((c, pair), {})]
    if len(have) < len(SHIPPED) + 1:
        return None, float("nan")
    best = max(have, key=lambda c: d[(c, pair)][seed])
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
                    "seconds": r["seconds"]})
    return out


def summary(per):
    g = np.array([p["auto"] - p["source_only"] for p in per])
    gap = np.array([p["auto"] - p["oracle_acc"] for p in per])
    cand = np.array([p["auto"] - p["best_candidate"] for p in per])
    return {"n": len(g), "gain": g.mean(), "worst": g.min(), "harm": int((g < -0.01).sum()), "gap": gap.mean(),
            "gap_cand": cand.mean(), "adapted": sum(p["chosen"] != "source_only" for p in per)}


def md_rules(rows, seeds=(0, 1, 2), strategies=STRATEGIES, tolerances=(None, 0.02), margins=(0.0,)):
    """One row per (strategy, rule, guard, margin); per seed: harms, worst, mean gain, gaps to the oracles."""
    head = "| strategy | rule | source guard tau | margin |" + "".join(
        f" s{s}: below source-only by > .01 | s{s}: worst | s{s}: mean gain | s{s}: gap to oracle method | "
        f"s{s}: gap to oracle candidate |" for s in seeds)
    out = [head, "|---|---|---:|---:|" + "---:|" * (5 * len(seeds))]
    for st in strategies:
        for rule, tol, mg in RULES:
            if tol not in tolerances or mg not in margins:
                continue
            cells = []
            for seed in seeds:
                per = evaluate(rows, st, rule, tol, mg, seed)
                if not per:
                    cells.append(" — |" * 5)
                    continue
                x = summary(per)
                gap = "—" if np.isnan(x["gap"]) else f"{x['gap']:+.3f}"
                cells.append(f" {x['harm']}/{x['n']} | {x['worst']:+.3f} | {x['gain']:+.3f} | {gap} | "
                             f"{x['gap_cand']:+.3f} |")
            out.append(f"| {st.removeprefix('auto_')} | {rule_name(rule, tol, mg)} |" + "".join(cells))
    return "\n".join(out)


def md_pairs(rows, config, rule, tol, margin, seed):
    per = evaluate(rows, config, rule, tol, margin, seed)
    out = ["| pair | source-only | auto | auto - source-only | best default method (ORACLE) | auto - oracle | "
           "best of auto's candidates (ORACLE) | chosen |", "|---|---:|---:|---:|---|---:|---:|---|"]
    for p in per:
        orc = "—" if p["oracle"] is None else f"{p['oracle'].removesuffix('_default')} {p['oracle_acc']:.3f}"
        gap = "—" if p["oracle"] is None else f"{p['auto'] - p['oracle_acc']:+.3f}"
        out.append(f"| {p['pair']} | {p['source_only']:.3f} | {p['auto']:.3f} | {p['auto'] - p['source_only']:+.3f} | "
                   f"{orc} | {gap} | {p['best_candidate']:.3f} | {p['chosen']} |")
    s = summary(per)
    mo = np.mean([p["oracle_acc"] for p in per])
    out.append(f"| **mean** | {np.mean([p['source_only'] for p in per]):.3f} | {np.mean([p['auto'] for p in per]):.3f} "
               f"| {s['gain']:+.3f} (worst {s['worst']:+.3f}) | {'—' if np.isnan(mo) else f'{mo:.3f}'} | "
               f"{'—' if np.isnan(s['gap']) else format(s['gap'], '+.3f')} | "
               f"{np.mean([p['best_candidate'] for p in per]):.3f} | adapted on {s['adapted']} |")
    return "\n".join(out)


def md_cost(rows, seeds=(0, 1, 2)):
    """Seconds per auto fit against one single-method fit: the ``scratch`` run's aligned candidates, which
    are exactly ``DomainAdaptationClassifier(align=m)`` fits, timed in the same process (seeds 0 and 1
    interleave the three strategies pair by pair, so they share the machine's load)."""
    out = ["| strategy | seed | pairs | auto fit (s, mean) | its source-only fit (s) | its aligned candidate fit (s) | "
           "one single-method fit (s) | auto / one single-method fit |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for st in STRATEGIES:
        for seed in seeds:
            rs = [r for r in rows if r["config"] == st and r["seed"] == seed]
            ref = [c["seconds"] for r in rows if r["config"] == "auto_scratch" and r["seed"] == seed
                   for c in r["auto"]["candidates"] if c["name"] != "source_only"]
            if not rs:
                continue
            tot = np.mean([r["seconds"] for r in rs])
            so = np.mean([c["seconds"] for r in rs for c in r["auto"]["candidates"] if c["name"] == "source_only"])
            al = np.mean([c["seconds"] for r in rs for c in r["auto"]["candidates"] if c["name"] != "source_only"])
            one = np.mean(ref) if ref else np.nan
            out.append(f"| {st.removeprefix('auto_')} | {seed} | {len(rs)} | {tot:.1f} | {so:.1f} | {al:.1f} | "
                       f"{one:.1f} | {tot / one:.1f} |")
    return "\n".join(out)


def load_rows():
    return with_aliases(load("stage1", "stage2", "final", "swdcheck", "autostrat"))


def md_docs(rows, chosen=("auto_finetune", "source_val", 0.02, 0.0), seeds=(0, 1, 2)) -> str:
    """The AUTO_TABLES block of docs/defaults.md."""
    config, rule, tol, mg = chosen
    parts = []
    for seed in seeds:
        if evaluate(rows, config, rule, tol, mg, seed):
            label = f"{config.removeprefix('auto_')} + {rule if isinstance(rule, str) else ' + '.join(rule)}"
            parts += [f"**Shipped: {label}, source guard {tol}, margin {mg:g}; seed {seed}** (auto and "
                      "source-only are the same run's candidates; ORACLE = the best shipped default method on "
                      "the pair and seed, chosen with "
                      "target labels)", "", md_pairs(rows, config, rule, tol, mg, seed), ""]
    parts += ["**Every rule, re-applied to each strategy's records** (margin 0; margin 0.005 changes no "
              "conclusion, `auto_tables.RULES` has it)", "", md_rules(rows, seeds), "",
              "**Cost** (the same runs: each candidate's own fit time is in its record)", "", md_cost(rows, seeds)]
    return "\n".join(parts)


def replace_block(path, key: str, block: str) -> None:
    """Replace only the ``<!-- KEY -->`` ... ``<!-- /KEY -->`` block of the Markdown file ``path`` (atomically)."""
    import re

    from da._io import atomic_write_text

    doc = Path(path).read_text()
    new = re.sub(rf"<!-- {key} -->.*?<!-- /{key} -->", lambda m: f"<!-- {key} -->\n{block}\n<!-- /{key} -->", doc,
                 flags=re.S)
    atomic_write_text(path, new)


def write_docs(path="docs/defaults.md", **kw):
    """Replace only the AUTO_TABLES block of ``path``."""
    replace_block(path, "AUTO_TABLES", md_docs(load_rows(), **kw))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-docs", action="store_true", help="rewrite docs/defaults.md's AUTO_TABLES block")
    a = ap.parse_args()
    if a.write_docs:
        write_docs()
    else:
        print(md_docs(load_rows()))
