"""Held-out check of the defaults: MNIST<->digits through the one-liner (never used to choose them).

As a new user would: their own MLP 64-256-128-10, seeded **before it is built**
(``fit`` copies the modules it is handed and cannot re-initialise them), then
``DomainAdaptationClassifier(featurizer, head, align=m, seed=s).fit(Xs, ys, Xt)``
with the library's defaults and 30 epochs. ``--adam`` forces Adam at 1e-3 (the
user chose the optimizer); without it, ``optimizer=None`` is each method's own
recipe. Source = source train+val, target = unlabelled target train; the
score is target test accuracy (evaluation only).

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/defaults/mnist_digits_check.py [--adam] [--seeds 0] \
        [--methods None sinkhorn]

Each record carries the ``ALIGNMENT_DEFAULTS_REVISION`` it ran at (none: revision 3); a run is
skipped only if it exists at the current revision.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from da.datasets import load_pair
from da.transfer import DomainAdaptationClassifier
from da.transfer.losses import ALIGNMENT_DEFAULTS_REVISION

OUT = Path(__file__).resolve().parent / "results" / "mnist_digits_check.jsonl"
METHODS = [None, "mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd", "auto"]


def user_mlp(seed: int):
    torch.manual_seed(seed)  # the user's module: seeded before it is built
    return (nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU()), nn.Linear(128, 10))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=["mnist->digits", "digits->mnist"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--methods", nargs="+", default=[str(m) for m in METHODS])
    ap.add_argument("--adam", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    OUT.parent.mkdir(exist_ok=True)
    done = set()
    if OUT.exists():
        # records before revision 4 carry no "revision": they were taken at revision 3
        done = {(r["pair"], r["method"], r["seed"], r["optimizer_arg"], r.get("revision", 3)) for r in
                map(json.loads, OUT.read_text().splitlines())}
    opt = "adam" if a.adam else None
    for pair in a.pairs:
        for seed in a.seeds:
            sp = load_pair(pair).sample(seed=seed)
            Xs = np.concatenate([sp.source_train.X, sp.source_val.X])
            ys = np.concatenate([sp.source_train.y, sp.source_val.y])
            for m in a.methods:
                m = None if m == "None" else m
                if (pair, str(m), seed, str(opt), ALIGNMENT_DEFAULTS_REVISION) in done:
                    continue
                f, h = user_mlp(seed)
                t0 = time.perf_counter()
                kw = {} if opt is None else {"optimizer": "adam", "lr": 1e-3}
                clf = DomainAdaptationClassifier(f, h, align=m, seed=seed, epochs=30, device="cpu", **kw)
                clf.fit(Xs, ys, sp.target_train.X)
                acc = float((clf.predict(sp.target_test.X) == sp.eval_labels.test).mean())
                rec = {"pair": pair, "method": str(m), "seed": seed, "optimizer_arg": str(opt), "target_acc": acc,
                       "revision": ALIGNMENT_DEFAULTS_REVISION, "recipe": clf.recipe_, "seconds": time.perf_counter() - t0}
                if isinstance(clf.selection_, dict):
                    rec["auto_chosen"] = clf.selection_["chosen"]
                with open(OUT, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(pair, m, seed, opt, round(acc, 3), round(rec["seconds"], 1), flush=True)


if __name__ == "__main__":
    sys.exit(main())
