"""Seconds per training epoch of each method on MNIST -> digits.

MLP 64-256-128-10, batches of 128 source + 128 target, Adam, the library's
default loss for each name (as ``DomainAdaptationClassifier(align=name)``
builds it; ``*_h256`` use a one-hidden-layer discriminator of 256 units), the same number of steps per epoch for every method (one pass
over the larger domain: 28 steps). Per-epoch evaluation (source/target
validation accuracy, the selection criterion) is included, as in a real run.

Each method is timed in ``--rounds`` interleaved rounds and the minimum is
reported (the machine is shared; the minimum is the least disturbed run).

Usage: ``python benchmarks/train_speed.py [--threads 2] [--epochs 1] [--rounds 3] [--methods ...]``
"""

from __future__ import annotations

import argparse
import time

import torch

from da.datasets import load_pair
from da.transfer import FeaturizerHead, finetune, make_alignment, mlp

# name -> (alignment name, constructor overrides); "*_h256": the one-hidden-layer (256)
# discriminator used in experiments/repro instead of the papers' default (1024, 1024)
SPECS = {"source_only": (None, {}), "mmd": ("mmd", {}), "dann": ("dann", {}), "dann_h256": ("dann", {"hidden": (256,)}),
         "cdan": ("cdan", {}), "cdan_h256": ("cdan", {"hidden": (256,)}), "jdot": ("jdot", {}),
         "coral": ("coral", {}), "swd": ("swd", {}), "sinkhorn": ("sinkhorn", {})}
METHODS = [m for m in SPECS if m != "sinkhorn"]


def epoch_seconds(split, method: str, epochs: int) -> float:
    """Wall-clock seconds per epoch of one ``finetune`` run of ``epochs`` epochs."""
    model = FeaturizerHead(*mlp(64, (256, 128), 10, seed=0))
    name, kwargs = SPECS[method]
    losses = None if name is None else [(method, make_alignment(name, 128, 10, seed=0, **kwargs), 1.0)]
    t = time.perf_counter()
    res = finetune(model, split, losses, epochs=epochs, batch_size=128, device="cpu", seed=0)
    return (time.perf_counter() - t) / len(res.history)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=METHODS,
                    help=f"from {list(SPECS)}; sinkhorn is slow and not in the default list")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    split = load_pair("mnist->digits").sample(seed=0)
    for m in args.methods:  # warm-up: lazy imports, first-call allocations
        epoch_seconds(split, m, 1)
    # rounds interleave the methods so that load from other processes hits all alike; keep the minimum
    times = {m: epoch_seconds(split, m, args.epochs) for m in args.methods}
    for _ in range(args.rounds - 1):
        for m in args.methods:
            times[m] = min(times[m], epoch_seconds(split, m, args.epochs))
    rows = list(times.items())
    base = times.get("source_only")
    print(f"MNIST->digits, MLP 64-256-128-10, batch 128+128, {args.threads} threads, "
          f"{args.epochs} epoch(s) of 28 steps, min over {args.rounds} rounds\n")
    print("| method | s/epoch | x source-only |\n|---|---:|---:|")
    for m, s in rows:
        ratio = f"{s / base:.2f}" if base else "-"
        print(f"| {m} | {s:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
