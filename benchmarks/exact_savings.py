"""The whole fit with and without the exact CPU savings of ``da``, paired in one process.

On a VM whose speed drifts between runs (docs/benchmarks.md), two trees timed in separate processes
can differ by more than a saving. Here each saving is switched off in this process by putting back
the torch call it replaces, and the two variants are timed alternately, seconds apart:

- ``dropout``: :class:`da._dropout.Dropout`'s mask (``torch.rand(float64) < 1 - p``) against
  :class:`torch.nn.Dropout`'s ``bernoulli_`` (CDAN's discriminator);
- ``clip``: :func:`da.transfer.optim._clip_grad_norm` against ``torch.nn.utils.clip_grad_norm_``
  (the gradient clip of DANN's and CDAN's recipes).

Each round fits source-only, then every method with the savings off and on, in an order that
alternates between rounds (``DomainAdaptationClassifier(align=m, epochs=20, seed=0)`` on
MNIST -> digits). The table gives the median over rounds of each round's own ratios, and whether
the two variants fitted the same model (the checksum of the target logits): they must, since the
savings are exact on this CPU (on Intel CPUs torch's dropout mask comes from MKL and differs).

``--calls N`` also times the two calls themselves, alternating off and on call by call (N each):
CDAN's loss forward + backward at batch 128 + 128 on 128 features (its dropout), and the clip on the
gradients of the estimator's MLP and a DANN discriminator; the 10th percentile and the median of each.

Usage: ``python benchmarks/exact_savings.py [--rounds 7] [--threads 2] [--methods cdan dann] [--calls 3000]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import torch
from train_speed import fit_seconds  # the same fit and checksum as train_speed.py --whole-fit

import da._dropout as dropout_module
import da.transfer.optim as optim_module
from da.datasets import load_pair


@contextmanager
def savings_off():
    """Put back torch's dropout and gradient clip for the duration."""
    forward, clip = dropout_module.Dropout.forward, optim_module._clip_grad_norm
    dropout_module.Dropout.forward = torch.nn.Dropout.forward
    optim_module._clip_grad_norm = lambda params, max_norm: torch.nn.utils.clip_grad_norm_(params, max_norm)
    try:
        yield
    finally:
        dropout_module.Dropout.forward, optim_module._clip_grad_norm = forward, clip


def _alternate(off, on, calls: int) -> dict:
    """Seconds of ``off()`` and ``on()``, called alternately ``calls`` times each (after a warm-up)."""
    for _ in range(50):
        off(), on()
    t_off, t_on = [], []
    for _ in range(calls):
        for fn, out in ((off, t_off), (on, t_on)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    q = lambda xs: (sorted(xs)[len(xs) // 10], statistics.median(xs))  # noqa: E731
    return {"off": q(t_off), "on": q(t_on)}


def call_table(calls: int) -> None:
    from da.align._adversarial import _domain_discriminator
    from da.transfer.losses import make_alignment
    from da.transfer.models import mlp

    g = torch.Generator().manual_seed(0)
    fs, ft = torch.randn(128, 128, generator=g), torch.randn(128, 128, generator=g)
    ls, lt = torch.randn(128, 10, generator=g), torch.randn(128, 10, generator=g)
    loss = make_alignment("cdan", 128, 10, seed=0)

    def cdan_call():
        leaves = [x.clone().requires_grad_() for x in (fs, ft)]
        loss(*leaves, logits_s=ls, logits_t=lt, p=0.5).backward()

    def cdan_off():
        with savings_off():
            cdan_call()

    featurizer, head = mlp(64, (256, 128), 10)
    params = [p for m in (featurizer, head, _domain_discriminator(128, (128,))) for p in m.parameters()]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    rows = [("CDAN loss, forward + backward", _alternate(cdan_off, cdan_call, calls)),
            ("gradient clip at 100 (MLP + discriminator, 10 tensors)",
             _alternate(lambda: torch.nn.utils.clip_grad_norm_(params, 100.0),
                        lambda: optim_module._clip_grad_norm(params, 100.0), calls))]
    print(f"\nThe calls, alternating off and on, {calls} each (ms)\n")
    print("| call | off: p10 | on: p10 | on / off (p10) | off: median | on: median | on / off (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        (a10, amed), (b10, bmed) = r["off"], r["on"]
        print(f"| {name} | {a10 * 1e3:.3f} | {b10 * 1e3:.3f} | {b10 / a10:.2f} | {amed * 1e3:.3f} "
              f"| {bmed * 1e3:.3f} | {bmed / amed:.2f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=["cdan", "dann"])
    ap.add_argument("--calls", type=int, default=0, help="also time the two calls alternately (N each)")
    args = ap.parse_args(argv)
    if args.calls < 0 or args.rounds < 0 or (args.rounds == 0 and args.calls == 0):
        ap.error("--calls and --rounds must be >= 0, and one of them > 0")
    torch.set_num_threads(args.threads)
    if args.calls:
        call_table(args.calls)
        if args.rounds == 0:
            return
    split = load_pair("mnist->digits").sample(seed=0)  # as benchmarks/train_speed.py --whole-fit
    for m in ["source_only", *args.methods]:  # warm-up, untimed
        fit_seconds(split, m, 20)
    times = {(m, v): [] for m in args.methods for v in ("off", "on")}
    base, sums = [], {}
    for r in range(args.rounds):
        base.append(fit_seconds(split, "source_only", 20)[0])
        for m in args.methods:
            for v in (("off", "on") if r % 2 == 0 else ("on", "off")):
                if v == "off":
                    with savings_off():
                        s, digest, _ = fit_seconds(split, m, 20)
                else:
                    s, digest, _ = fit_seconds(split, m, 20)
                times[m, v].append(s)
                sums.setdefault((m, v), set()).add(digest)
    print(f"MNIST->digits, DomainAdaptationClassifier(align=m, epochs=20, seed=0).fit, {args.threads} threads, "
          f"{args.rounds} rounds; per round: each variant / that round's source-only fit")
    print()
    print("| method | savings off: s/fit (min) | on: s/fit (min) | off x source-only, median (range) "
          "| on x source-only, median (range) | on / off, median (range) | same model |")
    print("|---|---:|---:|---:|---:|---:|:---:|")
    for m in args.methods:
        off = [a / b for a, b in zip(times[m, "off"], base)]
        on = [a / b for a, b in zip(times[m, "on"], base)]
        paired = [a / b for a, b in zip(times[m, "on"], times[m, "off"])]
        same = "yes" if len(sums[m, "off"] | sums[m, "on"]) == 1 else "no"
        cell = lambda xs: f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"  # noqa: E731
        print(f"| {m} | {min(times[m, 'off']):.3f} | {min(times[m, 'on']):.3f} | {cell(off)} | {cell(on)} "
              f"| {cell(paired)} | {same} |")
    print(f"\nsource-only: {min(base):.3f} s/fit (min), median {statistics.median(base):.3f}")


if __name__ == "__main__":
    main()
