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

``--config NAME --out FILE`` runs a candidate of the benchmark instead (``configs.CONFIGS[NAME]``: its loss
arguments on top of the name's defaults, its weight and estimator arguments), recorded in ``FILE`` under
``results/`` (a draft: never the table's ``mnist_digits_check.jsonl``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import CONFIGS, estimator_args  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "mnist_digits_check.jsonl"
METHODS = [None, "mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd", "infomax", "infomax_coral", "auto"]


def user_mlp(seed: int):
    torch.manual_seed(seed)  # the user's module: seeded before it is built
    return (nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU()), nn.Linear(128, 10))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=["mnist->digits", "digits->mnist"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--methods", nargs="+", default=[str(m) for m in METHODS])
    ap.add_argument("--adam", action="store_true")
    ap.add_argument("--config", help="a configs.CONFIGS candidate instead of --methods")
    ap.add_argument("--out", help="with --config: the results/ file to append to")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = OUT
    if a.config:
        if a.config not in CONFIGS:
            ap.error(f"--config: unknown configuration {a.config!r} (see configs.CONFIGS)")
        if not a.out or Path(a.out).name == OUT.name:
            ap.error("--config needs --out, a draft file other than " + OUT.name)
        out, a.methods = OUT.parent / Path(a.out).name, [a.config]
    OUT.parent.mkdir(exist_ok=True)
    done = set()
    if out.exists():
        # records before revision 4 carry no "revision": they were taken at revision 3
        done = {(r["pair"], r["method"], r["seed"], r["optimizer_arg"], r.get("revision", 3)) for r in
                map(json.loads, out.read_text().splitlines())}
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
                kw.update(estimator_args(a.config, 10, seed) if a.config else {"align": m})
                clf = DomainAdaptationClassifier(f, h, seed=seed, epochs=30, device="cpu", **kw)
                if a.config and CONFIGS[a.config].get("auto"):  # align="auto" with the config's own options
                    from da.transfer.auto import fit_auto

                    fit_auto(clf, Xs, ys, sp.target_train.X, **CONFIGS[a.config]["auto"])
                else:
                    clf.fit(Xs, ys, sp.target_train.X)
                acc = float((clf.predict(sp.target_test.X) == sp.eval_labels.test).mean())
                rec = {"pair": pair, "method": str(m), "seed": seed, "optimizer_arg": str(opt), "target_acc": acc,
                       "revision": ALIGNMENT_DEFAULTS_REVISION, "recipe": clf.recipe_, "seconds": time.perf_counter() - t0}
                if isinstance(clf.selection_, dict):
                    rec["auto_chosen"] = clf.selection_["chosen"]
                    if "members" in clf.selection_:
                        rec["auto_members"] = clf.selection_["members"]
                    if a.config:  # a draft's candidates, scored the same way (evaluation only, never the choice)
                        from run_grid import candidate_logits

                        rec["candidate_target_acc"] = {
                            n: float((z.argmax(1) == sp.eval_labels.test).mean())
                            for n, z in candidate_logits(clf, sp.target_test.X).items()}
                with open(out, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(pair, m, seed, opt, round(acc, 3), round(rec["seconds"], 1), flush=True)


if __name__ == "__main__":
    sys.exit(main())
