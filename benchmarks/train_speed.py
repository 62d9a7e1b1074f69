"""Seconds per training epoch of each method on MNIST -> digits.

MLP 64-256-128-10, batches of 128 source + 128 target, Adam, the loss each
name builds (``make_alignment(name, 128, 10)``, as ``DomainAdaptationClassifier(align=name)``
and ``method: name`` in a config build it: on these 128-d features DANN and
CDAN get one hidden layer of 128 units and CDAN a 128-d randomized map,
Sinkhorn a median-relative reg, tol 1e-4 and the batched solver; see
:func:`da.transfer.alignment_defaults`). ``*_paper`` use the loss classes'
own defaults instead (the papers' (1024, 1024) discriminator; CDAN's exact
1280-d map; Sinkhorn's absolute reg and log-domain solves to tol 1e-6). The
same number of steps per epoch for every method (one pass over the larger
domain: 28 steps). Per-epoch evaluation (source/target validation accuracy,
the selection criterion) is included, as in a real run.

Each method is timed in ``--rounds`` interleaved rounds and the minimum is
reported (the machine is shared; the minimum is the least disturbed run).

``--pretrain N`` first trains the model N epochs on the source (untimed), so
that the alignment losses see a pretrained model's features, as the quickstart's
fine-tuning does; by default the random initialisation is fine-tuned.

Usage: ``python benchmarks/train_speed.py [--threads 2] [--epochs 1] [--rounds 3] [--pretrain 0] [--clock wall]
[--methods ...]``
"""

from __future__ import annotations

import argparse
import time

import torch

from da.datasets import load_pair
from da.transfer import FeaturizerHead, finetune, make_alignment, mlp

# name -> (alignment name, constructor overrides); "*_paper": the loss classes' own defaults
_CLASS_DEFAULTS = {"dann": {"hidden": (1024, 1024)},
                   "cdan": {"hidden": (1024, 1024), "randomized": None, "random_dim": 1024},
                   "sinkhorn": {"scale": None, "tol": 1e-6, "method": "sinkhorn_log"}}
SPECS = {"source_only": (None, {}), "mmd": ("mmd", {}), "dann": ("dann", {}), "cdan": ("cdan", {}),
         "jdot": ("jdot", {}), "coral": ("coral", {}), "swd": ("swd", {}), "sinkhorn": ("sinkhorn", {}),
         # the name's defaults with each solver: POT's batched solve, POT's log-domain solves, ours
         "sinkhorn_pot": ("sinkhorn", {"method": "auto"}),
         "sinkhorn_pot_log": ("sinkhorn", {"method": "sinkhorn_log"}),
         "sinkhorn_symmetric": ("sinkhorn", {"method": "symmetric"}),
         **{f"{k}_paper": (k, v) for k, v in _CLASS_DEFAULTS.items()}}
METHODS = [m for m in SPECS if not m.endswith("_paper") and m != "sinkhorn_pot_log"]
# rows that replace another: their time is also given as a ratio to the one they replace
REPLACES = {"sinkhorn_symmetric": "sinkhorn_pot", "sinkhorn": "sinkhorn_pot"}


def _model(start=None) -> FeaturizerHead:
    model = FeaturizerHead(*mlp(64, (256, 128), 10, seed=0))
    if start is not None:
        model.load_state_dict(start)
    return model


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def epoch_seconds(split, method: str, epochs: int, start=None, clock: str = "wall") -> float:
    """Seconds per epoch of one ``finetune`` run of ``epochs`` epochs (from weights ``start``).

    ``clock="cpu"``: this process's CPU time, which other processes' load barely moves (with one
    thread it equals the wall time of an idle machine); ``"wall"``: elapsed time.
    """
    model = _model(start)
    name, kwargs = SPECS[method]
    losses = None if name is None else [(method, make_alignment(name, 128, 10, seed=0, **kwargs), 1.0)]
    t = CLOCKS[clock]()
    res = finetune(model, split, losses, epochs=epochs, batch_size=128, device="cpu", seed=0)
    return (CLOCKS[clock]() - t) / len(res.history)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall: elapsed time; cpu: this process's CPU time (robust to other load with --threads 1)")
    ap.add_argument("--pretrain", type=int, default=0,
                    help="epochs of source-only training before timing (0: fine-tune the random init)")
    ap.add_argument("--methods", nargs="+", default=METHODS,
                    help=f"from {list(SPECS)}; the *_paper variants are slow and not in the default list")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    split = load_pair("mnist->digits").sample(seed=0)
    start = None
    if args.pretrain:  # features at a pretrained model's scale, as when fine-tuning (the quickstart)
        model = _model()
        finetune(model, split, None, epochs=args.pretrain, batch_size=128, device="cpu", seed=0)
        start = model.state_dict()
    for m in args.methods:  # warm-up: lazy imports, first-call allocations
        epoch_seconds(split, m, 1, start, args.clock)
    # rounds interleave the methods so that load from other processes hits all alike; keep the minimum
    times = {m: epoch_seconds(split, m, args.epochs, start, args.clock) for m in args.methods}
    for _ in range(args.rounds - 1):
        for m in args.methods:
            times[m] = min(times[m], epoch_seconds(split, m, args.epochs, start, args.clock))
    init = f"after {args.pretrain} source-only epochs" if args.pretrain else "from the random init"
    print(f"MNIST->digits, MLP 64-256-128-10 {init}, batch 128+128, {args.threads} threads, "
          f"{args.epochs} epoch(s) of 28 steps, min over {args.rounds} rounds, {args.clock} clock\n")
    print(format_table(times))


def format_table(times: dict) -> str:
    """Markdown rows: s/epoch, the ratio to source-only and, for a replacement, to what it replaces."""
    base = times.get("source_only")
    lines = ["| method | s/epoch | x source-only | x replaced |", "|---|---:|---:|---:|"]
    for m, s in times.items():
        ratio = f"{s / base:.2f}" if base else "-"
        ref = REPLACES.get(m)
        replaced = f"{s / times[ref]:.2f} ({ref})" if ref in times else "-"
        lines.append(f"| {m} | {s:.3f} | {ratio} | {replaced} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
