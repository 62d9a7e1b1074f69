"""Per-epoch traces of the defaults benchmark's runs: label-free scores and (ORACLE) target accuracy.

Each (config, pair, seed) runs exactly as in :mod:`run_grid` (the same estimator, data and seed; the
per-epoch hook only reads the model in eval mode, so the run is bit-identical: its final
``target_acc`` is checked against the stored records by ``--check``). At every epoch the hook
records, from held-out source rows and unlabelled target rows only:

- ``sv_acc``, ``sv_ce``: accuracy and mean cross-entropy on the held-out source rows;
- ``pt``: the mean predicted class probabilities on the unlabelled target rows, and ``ht``: the
  histogram of their predicted classes (fractions); ``psv``, ``hsv``: the same on held-out source;
- ``ent_t``: the mean entropy of the target predictions;

and, for the analysis only (never read by any rule), ``ORACLE_acc``: the accuracy on the target
evaluation rows (val + test), the same rows ``run_grid`` scores. The rules of epoch selection are
then compared offline (:mod:`epoch_rules`) without retraining.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/defaults/epoch_trace.py NAME \
        --configs dann_default cdan_default ... [--shard 0/2] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import CONFIGS, build_estimator  # noqa: E402
from pairs import N_PER_DOMAIN, PAIRS  # noqa: E402
from run_grid import RESULTS, run_data  # noqa: E402


def _stats(model, split, Xe, ye) -> dict:
    from da.transfer.evaluate import predict_outputs

    C = split.n_classes
    lsv = torch.as_tensor(predict_outputs(model, split.source_val.X, features=False)["logits"], dtype=torch.float64)
    lt = torch.as_tensor(predict_outputs(model, split.target_train.X, features=False)["logits"], dtype=torch.float64)
    le = predict_outputs(model, Xe, features=False)["logits"]
    ysv = torch.as_tensor(split.source_val.y, dtype=torch.long)
    psv, pt = torch.softmax(lsv, 1), torch.softmax(lt, 1)
    hist = lambda lg: (np.bincount(lg.argmax(1).numpy(), minlength=C) / lg.shape[0]).round(5).tolist()  # noqa: E731
    return {"sv_acc": float((lsv.argmax(1) == ysv).double().mean()),
            "sv_ce": float(torch.nn.functional.cross_entropy(lsv, ysv)),
            "pt": pt.mean(0).numpy().round(5).tolist(), "ht": hist(lt),
            "psv": psv.mean(0).numpy().round(5).tolist(), "hsv": hist(lsv),
            "ent_t": float(-(pt * torch.log(pt.clamp_min(1e-300))).sum(1).mean()),
            "ORACLE_acc": float((le.argmax(1) == ye).mean())}


def trace_one(config: str, pair: str, seed: int) -> dict:
    import da.transfer.estimator as E

    split0, Xs, ys, Xt, Xe, ye = run_data(pair, seed)
    epochs, seen = [], {}

    class Traced(E.Trainer):
        def __init__(self, *a, **k):
            k["hooks"] = [(1, lambda model, epoch: epochs.append(_stats(model, seen["split"], Xe, ye)))]
            super().__init__(*a, **k)

        def fit(self, model, split, *a, **k):
            seen["split"] = split
            return super().fit(model, split, *a, **k)

    clf = build_estimator(config, n_features=Xs.shape[1], n_classes=split0.n_classes, seed=seed)
    orig, E.Trainer = E.Trainer, Traced
    try:
        clf.fit(Xs, ys, Xt)
        failed = None
    except Exception as exc:  # a diverged run: its epochs so far are kept, scored as in run_grid
        failed = repr(exc)[:300]
    finally:
        E.Trainer = orig
    rec = {"config": config, "pair": pair, "seed": seed, "epochs": epochs,
           "source_prior": (np.bincount(seen["split"].source_train.y, minlength=split0.n_classes)
                            / len(seen["split"].source_train.y)).round(5).tolist()}
    if failed:
        rec["failed"] = failed
    else:
        rec["target_acc"] = float((clf.predict(Xe) == ye).mean())
        rec["best_epoch"] = int(clf.result_.best_epoch)
        rec["selection"] = clf.result_.history[0].get("selection")
    if N_PER_DOMAIN != 1000:
        rec["n_per_domain"] = N_PER_DOMAIN
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--configs", nargs="+", required=True)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--pairs", nargs="+", default=None)
    ap.add_argument("--shard", default="0/1")
    args = ap.parse_args(argv)
    i, n = map(int, args.shard.split("/"))
    out = RESULTS / f"trace_{args.name}.{i}.jsonl"
    done = set()
    if out.exists():
        done = {(r["config"], r["pair"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    pairs = args.pairs or list(PAIRS)
    jobs = [(c, p, s) for s in args.seeds for p in pairs for c in args.configs]
    for k, job in enumerate(jobs):
        if k % n != i or job in done or (job[0] not in CONFIGS):
            continue
        rec = trace_one(*job)
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
        print(job, rec.get("target_acc"), flush=True)


if __name__ == "__main__":
    main()
