"""Stage 14: the shipped Sinkhorn after the solver's change of path (``sinkhorn_solver14``) against its
revision-8 records (``sinkhorn_fsg_w1``, the configuration that became ``align="sinkhorn"``), run by run in both
regimes and on the held-out check; no training.

The change keeps the fixed point and the stopping rule (every marginal violation below ``tol``), so each plan
moves by at most the solver's tolerance; training amplifies that, so the runs are compared as paired samples,
not bit for bit.

Usage: PYTHONPATH=. python benchmarks/defaults/stage14_compare.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tables as M  # noqa: E402
from summarize import RESULTS, TIE, load  # noqa: E402

NEW, OLD = "sinkhorn_solver14", "sinkhorn_fsg_w1"


def _by_key(rows, config):
    return {(r["pair"], r["seed"]): r["target_acc"] for r in rows if r["config"] == config and "error" not in r}


def _paired(new: dict, old: dict, source: dict) -> str | None:
    keys = sorted(k for k in new if k in old and k in source)
    if not keys:
        return None
    n, o, s = (np.array([d[k] for k in keys]) for d in (new, old, source))
    diff = n - o
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(keys)) if len(keys) > 1 else float("nan")
    return (f"{len(keys)} | {int((diff == 0).sum())} | {diff.mean():+.3f} ± {half:.3f} | "
            f"{np.abs(diff).max():.3f} | {(o - s).mean():+.3f} → {(n - s).mean():+.3f} | "
            f"{int((o - s > TIE).sum())} → {int((n - s > TIE).sum())} | "
            f"{int((o - s < -TIE).sum())} → {int((n - s < -TIE).sum())} |")


def check_rows() -> tuple[dict, dict, dict]:
    """(pair, seed) -> target test accuracy on the held-out check: new, revision 8's Sinkhorn, source-only."""
    path = RESULTS / "mnist_digits_check.stage14.jsonl"
    new = {(r["pair"], r["seed"]): r["target_acc"] for r in map(json.loads, path.read_text().splitlines())} \
        if path.exists() else {}
    cur = [json.loads(x) for x in (RESULTS / "mnist_digits_check.jsonl").read_text().splitlines()]
    cur = [r for r in cur if M.check_current(r, 9)]
    pick = lambda m: {(r["pair"], r["seed"]): r["target_acc"] for r in cur if r["method"] == m}  # noqa: E731
    return new, pick("sinkhorn"), pick("None")


def compare() -> list[str]:
    out = ["| regime | runs | identical | new − old, mean ± 95 % | largest change | mean gain over source-only, "
           "old → new | wins (> +0.01) | harms (< −0.01) |", "|---|---:|---:|---:|---:|---|---|---|"]
    short, long = load("stage14."), load("stage14long")
    regimes = [("short (23 pairs × seeds 0–2)", _by_key(short, NEW), _by_key(load("stage8."), OLD),
                _by_key(load("stage1", "final", "seed2"), "source_only")),
               ("long (17 pairs × seeds 0–2, 4× the samples)", _by_key(long, NEW), _by_key(load("stage8long"), OLD),
                _by_key(load("long."), "source_only"))]
    new, old, so = check_rows()
    regimes.append(("held-out check (MNIST↔digits × seeds 0–2)", new, old, so))
    for name, n, o, s in regimes:
        row = _paired(n, o, s)
        out.append(f"| {name} | " + (row or "— | — | — | — | — | — | — |"))
    out += ["", "| held-out check | seeds | mean gain over source-only, revision 8's Sinkhorn | after the change |",
            "|---|---:|---:|---:|"]
    for pair in ("mnist->digits", "digits->mnist"):
        keys = sorted(k for k in new if k[0] == pair and k in old and k in so)
        if keys:
            gain = lambda d: np.mean([d[k] - so[k] for k in keys])  # noqa: E731
            out.append(f"| {pair} | {len(keys)} | {gain(old):+.3f} | {gain(new):+.3f} |")
    return out


if __name__ == "__main__":
    print("\n".join(compare()))
