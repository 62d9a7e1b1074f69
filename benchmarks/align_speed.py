"""Forward+backward time of the alignment losses in :mod:`da.align`.

Prints one table per device: milliseconds per call (median over repeats, after
warm-up) for each loss, per-domain batch size and feature width, each with its
ratio (in the same run) to the distance-matrix floor below or, for the Sinkhorn
solvers, to POT's ``sinkhorn_log`` solves they replace. The
``pairwise_sq_dists`` rows are the floor the MMD rows should sit near: one
pooled squared-distance matrix, forward and backward, with no kernel at all.

    python benchmarks/align_speed.py            # batch 128/256/512 x d 64/256/2048
    python benchmarks/align_speed.py --quick    # batch 128/256 x d 64/256
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch

from da._kernels import pairwise_sq_dists
from da.align import (CDANLoss, CORALLoss, DANNLoss, JDOTLoss, MMDLoss, SinkhornLoss,
                      SlicedWassersteinLoss)

N_CLASSES = 10


class _PairwiseOnly(torch.nn.Module):
    """Reference cost: the pooled squared-distance matrix MMD is built from, summed."""

    def forward(self, fs, ft, **_):
        return pairwise_sq_dists(torch.cat([fs, ft])).sum()


def _losses(d: int):
    return [
        ("pairwise_sq_dists only", lambda: _PairwiseOnly()),
        ("MMD 1 kernel", lambda: MMDLoss(multipliers=(1,))),
        ("MMD 5 kernels (MK)", lambda: MMDLoss()),
        ("MMD 5 kernels, fixed h", lambda: MMDLoss(bandwidth=float(d) ** 0.5)),
        ("MMD linear", lambda: MMDLoss(estimator="linear", bandwidth=float(d) ** 0.5)),
        ("JMMD", lambda: MMDLoss(joint=True)),
        ("CORAL", lambda: CORALLoss()),
        ("Sinkhorn POT sinkhorn_log", lambda: SinkhornLoss(reg=0.1, scale="median", tol=1e-4)),
        ("Sinkhorn POT auto", lambda: SinkhornLoss(reg=0.1, scale="median", tol=1e-4, method="auto")),
        ("Sinkhorn symmetric", lambda: SinkhornLoss(reg=0.1, scale="median", tol=1e-4, method="symmetric")),
        ("Sliced W2 (128 proj)", lambda: SlicedWassersteinLoss()),
        ("JDOT emd", lambda: JDOTLoss(alpha=1.0 / d)),
        ("DANN 1024x1024", lambda: DANNLoss(d)),
        ("CDAN 1024x1024", lambda: CDANLoss(d, N_CLASSES)),
        ("CDAN+E 1024x1024", lambda: CDANLoss(d, N_CLASSES, entropy=True)),
    ]


def _inputs(n: int, d: int, device: torch.device, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return dict(
        fs=torch.randn(n, d, generator=g).to(device).requires_grad_(),
        ft=(torch.randn(n, d, generator=g) + 0.3).to(device).requires_grad_(),
        logits_s=torch.randn(n, N_CLASSES, generator=g).to(device).requires_grad_(),
        logits_t=torch.randn(n, N_CLASSES, generator=g).to(device).requires_grad_(),
        ys=torch.randint(0, N_CLASSES, (n,), generator=g).to(device),
        p=0.5,
    )


def _time_ms(loss, inputs, device, warmup: int, repeats: int, budget_s: float) -> float:
    def step():
        for key in ("fs", "ft", "logits_s", "logits_t"):
            inputs[key].grad = None
        loss(**inputs).backward()

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def run(device: torch.device, batches, dims, warmup: int, repeats: int, budget_s: float) -> dict:
    results: dict = {}
    for d in dims:
        for n in batches:
            inputs = _inputs(n, d, device)
            for name, make in _losses(d):
                loss = make().to(device)
                results[(name, n, d)] = _time_ms(loss, inputs, device, warmup, repeats, budget_s)
    return results


# each row's ratio is to this row at the same batch and width (default: the distance-matrix floor)
REFERENCE = {"Sinkhorn POT auto": "Sinkhorn POT sinkhorn_log", "Sinkhorn symmetric": "Sinkhorn POT sinkhorn_log"}
FLOOR = "pairwise_sq_dists only"


def _print_table(results: dict, device: torch.device, batches, dims) -> None:
    names = [name for name, _ in _losses(dims[0])]
    width = max(len(name) for name in names) + 2
    head = f"{'loss':<{width}}{'batch':>6}" + "".join(f"{'d=' + str(d):>19}" for d in dims) + "  ratio to"
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    load = ", load average %.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    print(f"\nforward+backward, ms per call (median) (x the reference row), float32, {device}{threads}{load}")
    print(head)
    print("-" * len(head))
    for name in names:
        for n in batches:
            ref = REFERENCE.get(name, FLOOR)
            cells = "".join(f"{results[(name, n, d)]:>11.2f} ({results[(name, n, d)] / results[(ref, n, d)]:>4.2f}x)"
                            for d in dims)
            print(f"{name:<{width}}{n:>6}{cells}  {ref}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="batch 128/256 x d 64/256 only")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per cell (at most)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per cell before stopping early")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on CPU")
    parser.add_argument("--no-cuda", action="store_true")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    batches = (128, 256) if args.quick else (128, 256, 512)
    dims = (64, 256) if args.quick else (64, 256, 2048)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.no_cuda:
        devices.append(torch.device("cuda"))
    warnings.filterwarnings("ignore", message="Sinkhorn did not converge")

    for device in devices:
        results = run(device, batches, dims, args.warmup, args.repeats, args.budget)
        _print_table(results, device, batches, dims)
        if (256, 256) in {(n, d) for n in batches for d in dims}:
            mk = results[("MMD 5 kernels (MK)", 256, 256)]
            one = results[("MMD 1 kernel", 256, 256)]
            floor = results[("pairwise_sq_dists only", 256, 256)]
            print(f"MMD at batch 256, d=256: 5 kernels {mk:.2f} ms, 1 kernel {one:.2f} ms, "
                  f"distance matrix alone {floor:.2f} ms (MK / 1 kernel = {mk / one:.2f})")


if __name__ == "__main__":
    main()
