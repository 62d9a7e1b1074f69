"""Epoch-selection rules compared offline on the per-epoch traces of :mod:`epoch_trace` (no training).

Every rule reads only the label-free columns of a trace (held-out source accuracy and cross-entropy,
the predicted class marginals on unlabelled target and held-out source rows); the table then reads
each chosen epoch's ``ORACLE_acc`` (target labels of the tuning benchmark: the comparison, never the
choice) and reports the mean gain over source-only (its own shipped selection), harms below -0.01
and the worst pair-seed, per config.

Usage: PYTHONPATH=. python benchmarks/defaults/epoch_rules.py NAME [--configs ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_grid import RESULTS  # noqa: E402

TIE = 0.01
SHIPPED = ["mmd_default", "coral_default", "dann_default", "cdan_default", "swd_default", "jdot_default",
           "sinkhorn_default"]


def load(name: str) -> list:
    """The traces ``results/trace_NAME.*.jsonl`` (and their committed ``.jsonl.gz``)."""
    rows = []
    for f in sorted(RESULTS.glob(f"trace_{name}.*.jsonl*")):
        text = gzip.decompress(f.read_bytes()).decode() if f.suffix == ".gz" else f.read_text()
        rows += [json.loads(x) for x in text.splitlines() if x.strip()]
    return rows


def _kl(p, q) -> float:
    """KL(p || q) of two class-proportion vectors, as in :func:`da.transfer.selection.source_val_drift` but on
    the traces' stored proportions: rounded to 5 decimals, and histograms with empty classes, hence a floor
    of 1e-6 and a renormalisation (the library's 1e-12 floor on unrounded soft means gave the same epochs:
    ``stage7.sh shipped`` reproduced this rule on all 120 runs)."""
    p, q = np.clip(np.asarray(p, float), 1e-6, None), np.clip(np.asarray(q, float), 1e-6, None)
    p, q = p / p.sum(), q / q.sum()
    return float((p * np.log(p / q)).sum())


def _first_argmax(scores) -> int:
    """The first epoch with the highest score (``score > best``, as the trainer keeps it)."""
    best, arg = -np.inf, 0
    for e, s in enumerate(scores):
        if s > best:
            best, arg = s, e
    return arg


def drift(ep, kind: str = "kl") -> float:
    """How far the target's predicted class marginal is from held-out source's: ``"kl"``:
    KL(target || source) of the mean soft predictions; ``"rkl"``: KL(source || target); ``"hard"``:
    KL(target || source) of the predicted-class histograms."""
    if kind == "hard":
        return _kl(ep["ht"], ep["hsv"])
    return _kl(ep["pt"], ep["psv"]) if kind == "kl" else _kl(ep["psv"], ep["pt"])


RULES = {
    "source_val": lambda eps: _first_argmax([e["sv_acc"] for e in eps]),
    "source_val_loss": lambda eps: _first_argmax([-e["sv_ce"] for e in eps]),
    "last": lambda eps: len(eps) - 1,
}
for kind in ("kl", "rkl", "hard"):
    for beta in (0.1, 0.3, 1.0, 3.0):
        RULES[f"svce-{beta:g}{kind}"] = (lambda b, k: lambda eps: _first_argmax(
            [-e["sv_ce"] - b * drift(e, k) for e in eps]))(beta, kind)


def _guarded(eps, delta: float) -> int:
    """source_val_loss among the epochs whose drift is within ``delta`` of the smallest drift of the
    trained epochs (sv_acc at least half its best)."""
    best_acc = max(e["sv_acc"] for e in eps)
    trained = [i for i, e in enumerate(eps) if e["sv_acc"] >= 0.5 * best_acc]
    d = {i: drift(eps[i]) for i in trained}
    floor = min(d.values())
    ok = [i for i in trained if d[i] <= floor + delta]
    return max(ok, key=lambda i: (-eps[i]["sv_ce"], -i))


for delta in (0.05, 0.1, 0.2, 0.5):
    RULES[f"svce|drift+{delta:g}"] = (lambda dl: lambda eps: _guarded(eps, dl))(delta)


def _anchored(eps, beta: float, frac: float) -> int:
    """source_val_loss minus ``beta`` KL(target proportions || the target proportions at the anchor), over the
    epochs from the anchor on: the first epoch whose held-out source accuracy reaches ``frac`` of its best (a
    model trained on the source before the alignment has moved the target much)."""
    best = max(e["sv_acc"] for e in eps)
    a = next(i for i, e in enumerate(eps) if e["sv_acc"] >= frac * best)
    return _first_argmax([-e["sv_ce"] - beta * _kl(e["pt"], eps[a]["pt"]) if i >= a else -np.inf
                          for i, e in enumerate(eps)])


for beta in (0.3, 1.0):
    for frac in (0.8, 0.9, 0.95):
        RULES[f"svce-{beta:g}anchor@{frac:g}"] = (lambda b, f: lambda eps: _anchored(eps, b, f))(beta, frac)


def evaluate(rows, configs=None, rules=None):
    """``{(config, rule): [(gain, pair, seed), ...]}`` against source-only's shipped selection."""
    so = {(r["pair"], r["seed"]): r for r in rows if r["config"] == "source_only"}
    out = {}
    for r in rows:
        if r["config"] == "source_only" or (configs and r["config"] not in configs) or not r["epochs"]:
            continue
        base = so.get((r["pair"], r["seed"]))
        if base is None:
            continue
        b = base["epochs"][base["best_epoch"]]["ORACLE_acc"]
        for name, rule in (rules or RULES).items():
            acc = r["epochs"][rule(r["epochs"])]["ORACLE_acc"] if "failed" not in r else np.nan
            out.setdefault((r["config"], name), []).append((acc - b, r["pair"], r["seed"]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--configs", nargs="+")
    args = ap.parse_args(argv)
    rows = load(args.name)
    # consistency: the shipped selection's epoch is the one the run kept
    bad = [(r["config"], r["pair"], r["seed"]) for r in rows if "best_epoch" in r and
           abs(r["epochs"][r["best_epoch"]]["ORACLE_acc"] - r["target_acc"]) > 1e-9]
    print(f"{len(rows)} traces; kept epoch's ORACLE_acc != final target_acc: {bad[:5]}")
    res = evaluate(rows, args.configs)
    configs = [c for c in SHIPPED if any(k[0] == c for k in res)]
    print(f"mean gain over source-only (harms below -{TIE}) of each rule's epoch, {args.name} traces")
    print("| rule | " + " | ".join(c.replace("_default", "") for c in configs) + " |")
    print("|---|" + "---:|" * len(configs))
    for name in RULES:
        cells = []
        for c in configs:
            v = np.array([x[0] for x in res.get((c, name), [])])
            cells.append(f"{np.nanmean(v):+.4f} ({int((v < -TIE).sum())})" if v.size else "—")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
