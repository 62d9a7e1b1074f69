"""When does eps-annealing pay? The Sinkhorn solver on a real fit's costs, one level against the annealed schedule.

``da.align.symmetric_sinkhorn`` anneals eps from the largest cost D down to eps (ratio 0.25) only when
D / eps exceeds ``anneal_above`` (64 by default, ``da.align.sinkhorn.ANNEAL_ABOVE``); below it the iterations
run at eps alone. This script measures that choice:

1. it fits ``DomainAdaptationClassifier(align="sinkhorn", epochs=E, seed=0)`` on MNIST -> digits and keeps
   the costs of every ``--every``-th solve (the three 128 x 128 costs of the debiased divergence);
2. for each relative ``reg`` (eps = reg x the median source-target cost; the loss ships 0.2), it solves
   each kept problem both ways with the numpy iterations of the training path, alternating the two and
   keeping the faster of ``--repeats`` calls, and reports by D / eps bin the iterations, the milliseconds,
   their ratio (one level / annealed, in the same run) and how often a level overflowed (the solver then
   falls back to the log domain, which is much slower);
3. it totals the shipped rule against always annealing, per reg.

Usage: ``python benchmarks/sinkhorn_schedule.py [--epochs 20] [--every 10] [--regs 0.5 0.2 0.1 0.05]``
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import da.align._sinkhorn_iterations as iterations
from da.align.sinkhorn import ANNEAL_ABOVE
from da.datasets import load_pair
from da.transfer import DomainAdaptationClassifier

BINS = (0, 16, 32, 64, 96, 128, 192, 256, 512, math.inf)


def capture(epochs: int, every: int) -> list:
    """The costs (numpy float32, copied) and weights of every ``every``-th Sinkhorn solve of a real fit."""
    kept, calls, inner = [], [0], iterations.numpy_iterations

    def spy(costs, a, b, *args):
        if calls[0] % every == 0:
            kept.append(([c.copy() for c in costs], a.copy(), b.copy()))
        calls[0] += 1
        return inner(costs, a, b, *args)

    split = load_pair("mnist->digits").sample(seed=0)
    iterations.numpy_iterations = spy
    try:
        DomainAdaptationClassifier(align="sinkhorn", epochs=epochs, seed=0, device="cpu").fit(
            split.source_train.X, split.source_train.y, split.target_train.X)
    finally:
        iterations.numpy_iterations = inner
    return kept


def solve_both(costs, a, b, eps: float, tol: float, repeats: int) -> dict:
    """One level and the annealed schedule on one problem: iterations (None: a level overflowed) and the
    fastest of ``repeats`` alternating calls, in ms."""
    floor = math.log(np.finfo(costs[0].dtype).tiny) + 1.0
    diameter = max(float(c.max()) for c in costs)
    schedules = {"single": [eps], "annealed": iterations._eps_schedule(diameter, eps, 0.25)}
    out = {"ratio": diameter / eps}
    best = {k: math.inf for k in schedules}
    for _ in range(repeats):
        for k, schedule in schedules.items():
            t = time.perf_counter()
            res = iterations.numpy_iterations(costs, a, b, schedule, tol, 1000, floor)
            best[k] = min(best[k], time.perf_counter() - t)
            out[f"{k}_iter"] = None if res is None else res[0]["n_iter"]
    out.update({f"{k}_ms": 1e3 * v for k, v in best.items()})
    return out


def table(rows: list) -> list[str]:
    lines = ["| D / eps | solves | iterations: one level | annealed | ms: one level | annealed | one level / annealed "
             "| one level overflowed |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        sel = [r for r in rows if lo <= r["ratio"] < hi]
        if not sel:
            continue
        ok = [r for r in sel if r["single_iter"] is not None and r["annealed_iter"] is not None]
        it_s = np.mean([r["single_iter"] for r in ok]) if ok else float("nan")
        it_a = np.mean([r["annealed_iter"] for r in ok]) if ok else float("nan")
        ms_s, ms_a = np.mean([r["single_ms"] for r in sel]), np.mean([r["annealed_ms"] for r in sel])
        fails = sum(r["single_iter"] is None for r in sel)
        lines.append(f"| [{lo:g}, {hi:g}) | {len(sel)} | {it_s:.1f} | {it_a:.1f} | {ms_s:.3f} | {ms_a:.3f} | "
                     f"{ms_s / ms_a:.2f} | {fails} |")
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--regs", type=float, nargs="+", default=[0.5, 0.2, 0.1, 0.05])
    ap.add_argument("--tol", type=float, default=1e-4, help="the loss's default")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    if a.epochs < 1 or a.every < 1 or a.repeats < 1 or not all(r > 0 for r in a.regs):
        ap.error("--epochs, --every and --repeats must be >= 1 and every --regs value > 0")
    torch.set_num_threads(a.threads)
    problems = capture(a.epochs, a.every)
    print(f"{len(problems)} solves kept from a fit of {a.epochs} epochs (MNIST -> digits, align='sinkhorn'), "
          f"{a.threads} threads, tol {a.tol:g}, fastest of {a.repeats} alternating calls\n")
    every_row, totals = [], []
    for reg in a.regs:
        rows = [solve_both(costs, w_a, w_b, reg * float(np.partition(costs[0].ravel(), (costs[0].size - 1) // 2)
                                                         [(costs[0].size - 1) // 2]), a.tol, a.repeats)
                for costs, w_a, w_b in problems]
        every_row += rows
        # the shipped rule: one level where D / eps <= ANNEAL_ABOVE; the annealed schedule elsewhere
        rule = sum(r["single_ms"] if r["ratio"] <= ANNEAL_ABOVE else r["annealed_ms"] for r in rows)
        always = sum(r["annealed_ms"] for r in rows)
        totals.append(f"| {reg:g} | {np.median([r['ratio'] for r in rows]):.0f} | "
                      f"{sum(r['ratio'] <= ANNEAL_ABOVE for r in rows)} of {len(rows)} | {rule:.1f} | {always:.1f} | "
                      f"{rule / always:.2f} |")
    print("\n".join(table(every_row)))
    print(f"\nThe shipped rule (one level where D / eps <= {ANNEAL_ABOVE:g}) against always annealing:\n")
    print("| reg | median D / eps | one level | ms, the rule | ms, always annealed | rule / always |")
    print("|---:|---:|---:|---:|---:|---:|")
    print("\n".join(totals))


if __name__ == "__main__":
    main()
