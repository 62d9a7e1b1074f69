"""Training steps per second on 1 and W processes (torch.distributed, DDP), MNIST -> digits.

MLP 64-256-128-10, global batch ``--batch`` (128: each of W processes takes 128/W
source and 128/W target rows of the same global batch), SGD, ``--steps`` steps per
epoch. Steps/s are timed between the ends of epochs 1 and ``--epochs`` (setup and the
first epoch are excluded; per-epoch evaluation, on every rank, is included, capped at
500 rows per part). Each configuration runs in its own freshly spawned processes
(``torch.multiprocessing``, a file store), one after the other, in ``--rounds``
interleaved rounds; the best round is reported (the machine is shared).

* CPU (gloo): 1 process x T threads against W processes x T/W threads (the same
  cores), and 1 process x T/W threads (one process's share);
* CUDA (nccl): 1 GPU against all ``torch.cuda.device_count()`` GPUs (one process each).

The ratio column is steps/s over the 1-process steps/s on the same cores (CPU) or
over 1 GPU, measured in the same invocation.

Usage: ``python benchmarks/ddp_scaling.py [--methods source_only dann mmd] [--epochs 4] [--steps 60]
[--rounds 2] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
import torch.multiprocessing as mp


def _worker(rank, world, store, method, epochs, batch, steps, threads, cuda, out):
    import torch.distributed as dist

    from da.datasets import load_pair
    from da.transfer import FeaturizerHead, finetune, make_alignment, mlp

    torch.set_num_threads(threads)
    device = f"cuda:{rank}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(rank)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", init_method=f"file://{store}", rank=rank,
                                world_size=world)
    split = load_pair("mnist->digits").sample(seed=0)
    model = FeaturizerHead(*mlp(64, (256, 128), 10, seed=0))
    losses = None if method == "source_only" else [(method, make_alignment(method, 128, 10, seed=0), 1.0)]
    stamps = []

    def stamp(model, epoch):
        if cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        return {}

    res = finetune(model, split, losses, epochs=epochs, batch_size=batch, optimizer="sgd", lr=0.05,
                   device=device, seed=0, max_eval_samples=500, hooks=[(1, stamp)], log_every=0,
                   steps_per_epoch=steps)
    steps_per_epoch = res.config["train"]["steps_per_epoch"]
    if rank == 0:
        torch.save({"steps_per_s": steps_per_epoch * (epochs - 1) / (stamps[-1] - stamps[0]),
                    "steps_per_epoch": steps_per_epoch}, out)
    if world > 1:
        dist.destroy_process_group()


def steps_per_second(method: str, world: int, threads: int, epochs: int, batch: int, steps: int,
                     cuda: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.pt")
        mp.start_processes(_worker, args=(world, os.path.join(tmp, "store"), method, epochs, batch, steps, threads,
                                          cuda, out), nprocs=world, start_method="spawn")
        return float(torch.load(out)["steps_per_s"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=["source_only", "dann", "mmd"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=60, help="steps per epoch")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU cores to use in all")
    p.add_argument("--world", type=int, default=None, help="processes (default: 2 on CPU, all GPUs)")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    world = args.world or (torch.cuda.device_count() if cuda else 2)
    if cuda:
        configs = [("1 GPU", 1, 1), (f"{world} GPUs", world, 1)]
    else:
        share = max(1, args.threads // world)
        configs = [(f"1 proc x {args.threads} thr", 1, args.threads), (f"1 proc x {share} thr", 1, share),
                   (f"{world} procs x {share} thr", world, share)]
    print(f"global batch {args.batch}, {args.epochs} epochs, {'cuda' if cuda else 'cpu'}")
    print("| method | processes x threads | steps/s | ratio |")
    print("|---|---|---:|---:|")
    configs = [c for c in configs if c[1] == 1 or world >= 2]
    for method in args.methods:
        best = {label: 0.0 for label, _, _ in configs}
        for _ in range(args.rounds):
            for label, w, t in configs:
                sps = steps_per_second(method, w, t, args.epochs, args.batch, args.steps, cuda)
                best[label] = max(best[label], sps)
        base = best[configs[0][0]]
        for label, _, _ in configs:
            print(f"| {method} | {label} | {best[label]:.1f} | {best[label] / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
