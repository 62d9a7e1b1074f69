"""Where a whole ``DomainAdaptationClassifier.fit`` spends its time, phase by phase, for every method.

``benchmarks/train_speed.py --whole-fit`` gives each method's fit as a multiple of the source-only
fit. This script splits the same fits (MNIST -> digits, ``align=m, epochs=20, seed=0``) into the
phases of :class:`da.transfer.Trainer`, timed by wrapping its methods in this process (the library
is not changed):

- ``steps``: the optimisation steps (``Trainer._step``: forward, losses, backward, optimizer);
- ``epoch loop``: the rest of each epoch (batches drawn, sums, the last-good snapshot);
- ``evaluation``: the per-epoch selection scores (``Trainer._evaluate``);
- ``end of epoch``: records and the best-epoch bookkeeping (``Trainer._end_epoch``);
- ``setup`` and ``finish``: the trainer's setup, and restoring the kept epoch plus the final metrics;
- ``outside the trainer``: the rest: the estimator's input checks, label encoding, split and model
  building, and ``Trainer.fit``'s own split check, seeding and loop.

Each method's fit is timed ``--rounds`` times (the first round after an untimed warm-up) and the
round with the smallest total is reported. The last table gives each method's extra time over
source-only, split by phase, so the ratios are measured in the same run.

Usage: ``python benchmarks/fit_breakdown.py [--threads 2] [--rounds 3] [--methods ...]``
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import torch

from da import DomainAdaptationClassifier
from da.datasets import load_pair
from da.transfer import trainer as trainer_module

METHODS = ["source_only", "mmd", "dann", "cdan", "jdot", "coral", "swd", "sinkhorn"]
#: Trainer method -> phase; ``_epoch`` includes ``_step``, whose time is subtracted from it
PHASES = {"_setup": "setup", "_epoch": "epoch loop", "_step": "steps", "_evaluate": "evaluation",
          "_end_epoch": "end of epoch", "_finish": "finish"}
ORDER = ["steps", "epoch loop", "evaluation", "end of epoch", "setup", "finish", "outside the trainer"]
#: the phases of one fit sum to its total: ``outside the trainer`` is the total less the others


@contextmanager
def phase_timers(totals: dict, counts: dict):
    """Wrap the :data:`PHASES` methods of ``Trainer`` so that each call adds its seconds to ``totals``."""
    cls = trainer_module.Trainer
    originals = {name: getattr(cls, name) for name in PHASES}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[name] = totals.get(name, 0.0) + time.perf_counter() - t
                counts[name] = counts.get(name, 0) + 1
        return wrapper

    for name, fn in originals.items():
        setattr(cls, name, timed(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(cls, name, fn)


def one_fit(split, method: str, epochs: int) -> dict:
    """Seconds per phase of one fit (``total`` and ``n_steps`` too)."""
    totals, counts = {}, {}
    clf = DomainAdaptationClassifier(align=None if method == "source_only" else method, epochs=epochs, seed=0,
                                     device="cpu")
    Xs, ys, Xt = split.source_train.X, split.source_train.y, split.target_train.X
    with phase_timers(totals, counts):
        t = time.perf_counter()
        clf.fit(Xs, ys, Xt)
        total = time.perf_counter() - t
    out = {PHASES[k]: v for k, v in totals.items()}
    out["epoch loop"] -= totals.get("_step", 0.0)
    inside = sum(totals.get(k, 0.0) for k in PHASES if k != "_step")  # _step is inside _epoch
    out.update({"outside the trainer": total - inside, "total": total, "n_steps": counts.get("_step", 0)})
    return out


def breakdown(methods, rounds: int, epochs: int) -> dict:
    """``{method: phases}`` of the round with the smallest total, after one untimed warm-up fit each."""
    split = load_pair("mnist->digits").sample(seed=0)
    for m in methods:
        one_fit(split, m, 1)
    best: dict = {}
    for _ in range(rounds):
        for m in methods:
            res = one_fit(split, m, epochs)
            if m not in best or res["total"] < best[m]["total"]:
                best[m] = res
    return best


def format_tables(best: dict) -> str:
    head = "| method | total s | x source-only | " + " | ".join(ORDER) + " | ms/step |"
    rule = "|---|---:|---:|" + "---:|" * (len(ORDER) + 1)
    lines = ["Seconds per phase (share of the fit in brackets)", "", head, rule]
    so = best.get("source_only")
    for m, r in best.items():
        ratio = f"{r['total'] / so['total']:.2f}" if so else "-"
        cells = [f"{r.get(p, 0.0):.3f} ({r.get(p, 0.0) / r['total']:.0%})" for p in ORDER]
        ms = 1e3 * r.get("steps", 0.0) / max(r["n_steps"], 1)
        lines.append(f"| {m} | {r['total']:.3f} | {ratio} | " + " | ".join(cells) + f" | {ms:.2f} |")
    if so:
        lines += ["", "Extra seconds over source-only, by phase (share of the extra in brackets)", "",
                  "| method | extra s | " + " | ".join(ORDER) + " |", "|---|---:|" + "---:|" * len(ORDER)]
        for m, r in best.items():
            if m == "source_only":
                continue
            extra = r["total"] - so["total"]
            cells = [f"{r.get(p, 0.0) - so.get(p, 0.0):+.3f} ({(r.get(p, 0.0) - so.get(p, 0.0)) / extra:.0%})"
                     for p in ORDER]
            lines.append(f"| {m} | {extra:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    best = breakdown(args.methods, args.rounds, args.epochs)
    print(f"MNIST->digits, DomainAdaptationClassifier(align=m, epochs={args.epochs}, seed=0).fit, "
          f"{args.threads} threads, the fastest of {args.rounds} rounds, wall clock\n")
    print(format_tables(best))


if __name__ == "__main__":
    main()
