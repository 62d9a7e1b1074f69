"""Exact 2-Wasserstein at scale: ``da.diagnostics.wasserstein`` against POT's own ``ot.emd2``.

Usage::

    python benchmarks/ot_exact.py                   # n = m = 1000, 2500, 5000; d = 32
    python benchmarks/ot_exact.py --sizes 1000 2500 # fewer sizes

For each size, in one process and the same minute: POT's ``ot.emd2`` on a
precomputed cost matrix (``numItermax`` raised so it converges), then
``wasserstein(Xs, Xt)`` with its defaults (cost matrix included), their ratio
in CPU seconds (the network simplex is single-threaded, so CPU time is what a
loaded machine does not distort; wall seconds are printed too),
and what the previous default (``max_exact = 2500``: exact OT on a seeded
2500-row subsample per domain above that) returned, with its error against the
exact value. Then the subsample estimator at several subsample sizes against
the exact value of the largest sample: its error shrinks as the subsample grows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _pair(n, d, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d)) * 1.1 + 0.1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2500, 5000])
    ap.add_argument("--d", type=int, default=32)
    args = ap.parse_args(argv)
    import ot

    from da.diagnostics import wasserstein
    from da.diagnostics.gaps import _EMD_ITER, WASSERSTEIN_DEFAULTS

    load = os.getloadavg()
    print(f"exact W2, d = {args.d}, load average {load[0]:.1f} / {load[1]:.1f}; "
          f"default max_exact = {WASSERSTEIN_DEFAULTS['max_exact']}")
    print(f"{'n = m':>7}{'ot.emd2 cpu s':>15}{'wasserstein cpu s':>19}{'ratio':>7}{'(wall ratio)':>13}"
          f"{'W2 exact':>10}{'estimator':>11}{'old default':>13}{'old error':>11}")
    exact_of = {}
    for n in args.sizes:
        Xs, Xt = _pair(n, args.d)
        M = ot.dist(Xs, Xt)
        a = b = np.full(n, 1.0 / n)
        t, c = time.perf_counter(), time.process_time()
        ref = float(np.sqrt(ot.emd2(a, b, M, numItermax=_EMD_ITER)))
        t_pot, c_pot = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        value = wasserstein(Xs, Xt)
        t_da, c_da = time.perf_counter() - t, time.process_time() - c
        est = "emd2" if n <= WASSERSTEIN_DEFAULTS["max_exact"] else "subsample"
        old = wasserstein(Xs, Xt, max_exact=2500, seed=0)
        exact_of[n] = (Xs, Xt, ref)
        print(f"{n:>7}{c_pot:>15.2f}{c_da:>19.2f}{c_da / c_pot:>7.2f}{t_da / t_pot:>13.2f}{ref:>10.4f}"
              f"{est:>11}{old:>13.4f}{(old - ref) / ref:>+11.2%}")
        assert abs(value - ref) <= 1e-9 * ref, (value, ref)
    n = max(exact_of)
    Xs, Xt, ref = exact_of[n]
    print(f"\nsubsample estimator (exact OT on s rows per domain, 5 seeds) against the exact W2 of n = {n}")
    print(f"{'s':>7}{'mean':>10}{'mean error':>12}{'cpu s/solve':>13}")
    for s in [n // 16, n // 8, n // 4, n // 2]:
        c = time.process_time()
        vals = [wasserstein(Xs, Xt, max_exact=s, seed=k) for k in range(5)]
        sec = (time.process_time() - c) / 5
        print(f"{s:>7}{np.mean(vals):>10.4f}{(np.mean(vals) - ref) / ref:>+12.2%}{sec:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
