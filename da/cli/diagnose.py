"""``da diagnose``: a shift report on two sample files or a named domain pair.

Examples::

    da diagnose source.npy target.npy
    da diagnose samples.npz                       # arrays "Xs" and "Xt"
    da diagnose --pair mnist->digits --n 2000 --out report.json
"""

from __future__ import annotations

import sys

from da._lazy import lazy_module

np = lazy_module("numpy")  # `da --help` imports this module; numpy only when the command runs


#: Two-sample test names accepted on the command line (aliases of da.diagnostics.TEST_NAMES).
_DEFAULT_TESTS = "mmd,energy,c2st,ks"
_DEFAULT_METRICS = ("mmd2,energy_distance,coral_distance,wasserstein,sliced_wasserstein,"
                    "proxy_a_distance")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "diagnose", help="two-sample tests and gap metrics between a source and a target sample",
        description="Shift report between a source and a target sample: .npy files (one array "
                    "each), one .npz file (arrays Xs and Xt), or a named pair (--pair).")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="SOURCE.npy TARGET.npy, or one .npz holding arrays Xs and Xt")
    p.add_argument("--pair", help="a named domain pair (da.datasets.load_pair), compared on its "
                                  "held-out test parts")
    p.add_argument("--n", type=int, default=None,
                   help="with --pair: rows per domain to sample over train+val+test (default: "
                        "all); the report compares the held-out test parts")
    p.add_argument("--metrics", default=_DEFAULT_METRICS, help="comma-separated gap metrics")
    p.add_argument("--tests", default=_DEFAULT_TESTS, help="comma-separated two-sample tests")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-exact", type=int, default=2000,
                   help="rows per domain above which quadratic-cost estimators switch")
    p.add_argument("--n-permutations", type=int, default=500)
    p.add_argument("--n-bootstrap", type=int, default=100)
    p.add_argument("--bandwidth", type=float, default=None,
                   help="Gaussian-kernel bandwidth (default: median heuristic)")
    p.add_argument("--out", help="also save the report as JSON here (atomic write)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.set_defaults(func=run)
    return p


def _load_arrays(files):
    if len(files) == 1 and files[0].endswith(".npz"):
        with np.load(files[0], allow_pickle=False) as z:
            missing = [k for k in ("Xs", "Xt") if k not in z.files]
            if missing:
                raise ValueError(f"{files[0]} has arrays {z.files}; expected 'Xs' and 'Xt'")
            return z["Xs"], z["Xt"]
    if len(files) == 2:
        return tuple(np.load(f, allow_pickle=False) for f in files)
    raise ValueError("give SOURCE.npy TARGET.npy, one .npz with arrays Xs and Xt, or --pair NAME")


def run(args) -> int:
    from da.diagnostics import shift_report

    if args.pair and args.files:
        raise ValueError("give either files or --pair, not both")
    ground_truth = None
    if args.pair:
        from da.datasets import load_pair  # imported lazily: heavy, and optional for file input

        pair = load_pair(args.pair)
        data = pair.sample(args.n, args.n, seed=args.seed)
        ground_truth = pair
        desc = f"pair {args.pair}"
    else:
        data = _load_arrays(args.files)
        desc = " ".join(args.files)
    report = shift_report(
        data, metrics=[m for m in args.metrics.split(",") if m],
        tests=[t for t in args.tests.split(",") if t], seed=args.seed, ground_truth=ground_truth,
        max_exact=args.max_exact, n_permutations=args.n_permutations, n_bootstrap=args.n_bootstrap,
        bandwidth=args.bandwidth)
    report.meta["source"] = desc
    if args.out:
        report.save(args.out)
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        print(f"da diagnose: {desc}")
        print(report.summary())
        if args.out:
            print(f"saved {args.out}")
    return 0
