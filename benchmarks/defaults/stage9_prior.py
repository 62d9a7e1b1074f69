"""Stage 9's records under a *prior-order* rule: the first default of a fixed order whose held-out source
accuracy is within ``tol`` of source-only's, else source-only (no training; ``results/stage9.*.jsonl``).

The order is CORAL first because CORAL has the best mean on this benchmark: an in-sample choice, so these
figures flatter the rule. Judging reads the benchmark's target labels (ORACLE, evaluation only). Cells: mean gain
over source-only / harms below -0.01 / mean gap to the best candidate, per seed; then the pair-seeds where CORAL
harms, with every recorded criterion of source-only and CORAL (higher is better).

Usage: PYTHONPATH=. python benchmarks/defaults/stage9_prior.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage9_rules import CRITERIA, load_rows  # noqa: E402


def pick(record, order, tol) -> str:
    scores = {c["name"]: c["scores"] for c in record["auto"]["candidates"] if c.get("scores")}
    floor = scores["source_only"]["source_val"] - tol
    return next((m for m in order if m in scores and scores[m]["source_val"] >= floor), "source_only")


def evaluate(rows, order, tol) -> str:
    cells = []
    for seed in (0, 1, 2):
        acc = [r["candidate_target_acc"] for r in rows if r["seed"] == seed]
        picks = [pick(r, order, tol) for r in rows if r["seed"] == seed]
        g = np.array([a[m] - a["source_only"] for a, m in zip(acc, picks)])
        gap = np.mean([a[m] - max(a.values()) for a, m in zip(acc, picks)])
        cells.append(f"{g.mean():+.3f} / {int((g < -0.01).sum())} / {gap:+.3f}")
    return " | ".join(cells)


def main() -> None:
    rows = load_rows()
    print("| order | source guard | seed 0 | seed 1 | seed 2 |\n|---|---:|---|---|---|")
    for order in (["coral"], ["coral", "mmd"], ["mmd"]):
        for tol in (0.0, 0.02, None):
            print(f"| {', '.join(order)} | {'none' if tol is None else tol} | "
                  f"{evaluate(rows, order, np.inf if tol is None else tol)} |")
    print("\nCORAL's harms (target accuracy minus source-only's), criteria as source-only -> CORAL:")
    for r in rows:
        a = r["candidate_target_acc"]
        if a["coral"] - a["source_only"] < -0.01:
            s = {c["name"]: c["scores"] for c in r["auto"]["candidates"] if c.get("scores")}
            print(f"- {r['pair']} seed {r['seed']}: {a['coral'] - a['source_only']:+.3f}; " + ", ".join(
                f"{k} {s['source_only'][k]:.3g} -> {s['coral'][k]:.3g}" for k in CRITERIA))


if __name__ == "__main__":
    main()
