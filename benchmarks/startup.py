"""Start-up time: imports and ``da --help`` in fresh interpreters, beside ``import torch`` alone.

Usage::

    python benchmarks/startup.py                      # this tree, best of 5
    python benchmarks/startup.py --baseline 69be940   # and da/ at that revision, alternated

Each statement runs in a new process (``python -c``); the table gives the best
wall time of ``--repeat`` runs and its ratio to ``import torch`` measured in the
same loop, since every ``da`` subpackage but the CLI needs torch and the
machine's load moves all rows together.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _baseline import ROOT, export_revision  # noqa: E402

STATEMENTS = [
    ("import torch  (the floor)", "import torch"),
    ("import da", "import da"),
    ("import da, da.align, da.diagnostics", "import da, da.align, da.diagnostics"),
    ("import da.transfer", "import da.transfer"),
    ("import da.experiments, da.plot", "import da.experiments, da.plot"),
    ("da --help", "import sys; sys.argv = ['da', '--help']; from da.cli.main import main; main()"),
]


def _time(code: str, tree) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, cwd="/", stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", metavar="REV", help="also time da/ at this git revision")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    trees = {"this tree": ROOT}
    if args.baseline:
        trees[args.baseline] = export_revision(args.baseline)
    best = {(label, t): float("inf") for label, _ in STATEMENTS for t in trees}
    for _ in range(args.repeat):
        for label, code in STATEMENTS:
            for name, tree in trees.items():
                best[label, name] = min(best[label, name], _time(code, tree))
    load = os.getloadavg()
    print(f"start-up, best of {args.repeat} fresh processes, load average {load[0]:.1f} / {load[1]:.1f}")
    head = f"{'statement':<38}" + "".join(f"{n + ' s':>14}{'/ torch':>9}" for n in trees)
    if args.baseline:
        head += f"{'this / base':>13}"
    print(head)
    for label, _ in STATEMENTS:
        row = f"{label:<38}"
        for name in trees:
            row += f"{best[label, name]:>14.2f}{best[label, name] / best[STATEMENTS[0][0], name]:>9.2f}"
        if args.baseline:
            row += f"{best[label, 'this tree'] / best[label, args.baseline]:>13.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
