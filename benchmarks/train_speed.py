"""Seconds per training epoch of each method on MNIST -> digits.

MLP 64-256-128-10, batches of 128 source + 128 target, Adam, the library's
default loss for each name (as ``DomainAdaptationClassifier(align=name)``
builds it), the same number of steps per epoch for every method (one pass
over the larger domain: 28 steps). Per-epoch evaluation (source/target
validation accuracy, the selection criterion) is included, as in a real run.

Usage: ``python benchmarks/train_speed.py [--threads 2] [--epochs 3] [--methods ...]``
"""

from __future__ import annotations

import argparse
import time

import torch

from da.datasets import load_pair
from da.transfer import FeaturizerHead, finetune, mlp

METHODS = ["source_only", "mmd", "dann", "cdan", "jdot", "coral", "swd", "sinkhorn"]


def seconds_per_epoch(split, method: str, epochs: int) -> float:
    model = FeaturizerHead(*mlp(64, (256, 128), 10, seed=0))
    losses = None if method == "source_only" else [(method, 1.0)]
    # warm-up epoch (first-call allocations, lazy imports) is not timed
    finetune(FeaturizerHead(*mlp(64, (256, 128), 10, seed=0)), split, losses, epochs=1, batch_size=128,
             device="cpu", seed=0)
    t = time.perf_counter()
    res = finetune(model, split, losses, epochs=epochs, batch_size=128, device="cpu", seed=0)
    return (time.perf_counter() - t) / len(res.history)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=METHODS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    split = load_pair("mnist->digits").sample(seed=0)
    rows = [(m, seconds_per_epoch(split, m, args.epochs)) for m in args.methods]
    base = dict(rows).get("source_only")
    print(f"MNIST->digits, MLP 64-256-128-10, batch 128+128, {args.threads} threads, "
          f"{args.epochs} epochs of 28 steps")
    print(f"| method | s/epoch | x source-only |\n|---|---:|---:|")
    for m, s in rows:
        ratio = f"{s / base:.2f}" if base else "-"
        print(f"| {m} | {s:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
