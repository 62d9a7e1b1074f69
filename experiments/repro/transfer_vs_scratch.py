"""Transfer vs scratch on MNIST -> MNIST-M: target test accuracy against the number of
labelled target examples (0, 10, 50, 100, 500, all), 3 seeds.

* ``scratch``: a freshly initialised CNN trained on the labelled target examples only
  (undefined with 0 labels: recorded as ``null``);
* ``finetune``: the CNN pretrained on the labelled source (MNIST, grey as RGB), then
  fine-tuned on the labelled target examples only (0 labels: the pretrained model as is);
* ``finetune_align``: the same pretrained CNN fine-tuned on labelled source +
  labelled target cross-entropy plus a DANN term on the unlabelled target, with
  plain SGD (lr 0.1, no momentum);
* ``finetune_align_adam``: the same with Adam, as the other runs. Kept as the
  ablation that shows why the adversarial term gets SGD: under Adam, whose
  per-parameter normalisation rescales the reversed gradient to full-size
  steps, DANN fine-tuning at 0 labels collapses the pretrained model
  (docs/reproductions.md, section 2 has the same finding on digits -> MNIST).

CNN: :func:`da.transfer.lenet` ``(3, 28, 28)``, channels (16, 32), 128 features.
Every fine-tuning/scratch run takes the same number of steps (Adam lr 1e-3
unless stated, batches of 64); model selection is ``last`` (a fixed budget:
there are no labelled target validation data in the few-shot regime). Target
labels of the validation/test parts are used only for reporting.

Writes ``results.json`` and ``results.csv`` (one row per run) under ``--out``.

Usage: ``python experiments/repro/transfer_vs_scratch.py [--seeds 3] [--steps 100] [--pretrain-epochs 3] [--out DIR]``
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

import da.align as A
from da._io import atomic_write_json, atomic_write_text
from da.datasets import load_pair
from da.transfer import FeaturizerHead, finetune, finetune_no_align, lenet, pretrain, scratch

HERE = Path(__file__).resolve().parent
SHAPE = (3, 28, 28)
LABELS = [0, 10, 50, 100, 500, "all"]
METHODS = ("scratch", "finetune", "finetune_align", "finetune_align_adam")
SGD = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0}


def cnn(seed):
    return FeaturizerHead(*lenet(SHAPE, 10, channels=(16, 32), hidden=128, seed=seed))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100, help="optimisation steps of every fine-tuning run")
    ap.add_argument("--pretrain-epochs", type=int, default=3)
    ap.add_argument("--labels", nargs="+", default=[str(k) for k in LABELS])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "transfer_vs_scratch")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    pair = load_pair("mnist->mnist_m")
    rows = []
    common = dict(batch_size=64, lr=1e-3, optimizer="adam", device="cpu", log_every=50)
    for seed in range(args.seeds):
        base = pair.sample(seed=seed)
        t = time.perf_counter()
        pre = pretrain(cnn(seed), base, epochs=args.pretrain_epochs, selection="source_val", seed=seed,
                       checkpoint=args.out / f"pretrained_seed{seed}.pt", **common)
        print(f"seed={seed} pretrained: source val {pre.metrics['source_val']['accuracy']:.3f} "
              f"({time.perf_counter() - t:.0f}s)", flush=True)
        n_tt = len(base.target_train)
        for lab in args.labels:
            k = n_tt if lab == "all" else int(lab)
            split = pair.sample(seed=seed, n_target_labeled=k)
            for method in METHODS:
                t = time.perf_counter()
                cfg = dict(common, epochs=1, steps_per_epoch=args.steps, selection="last", seed=seed)
                acc = None
                res = None
                if method == "scratch":
                    if k > 0:
                        res = scratch(cnn(1000 + seed), split, **cfg)
                elif method == "finetune":
                    model = copy.deepcopy(pre.model)
                    if k > 0:
                        res = finetune_no_align(model, split, source_weight=0.0, **cfg)
                    else:
                        from da.transfer import evaluate
                        acc = evaluate(model, split.target_test.X, split.eval_labels.test)["accuracy"]
                else:
                    if method == "finetune_align":
                        cfg.update(SGD)
                    model = copy.deepcopy(pre.model)
                    dann = A.DANNLoss(128, hidden=(256,), schedule="ganin", lambda_=0.3, seed=seed)
                    res = finetune(model, split, [("dann", dann, 1.0)], **cfg)
                if res is not None:
                    acc = res.metrics["target_test"]["accuracy"]
                rows.append({"seed": seed, "n_labeled": k, "labels": str(lab), "method": method,
                             "optimizer": cfg["optimizer"] if res is not None else None,
                             "target_test_acc": acc, "selection": "last", "oracle": False,
                             "steps": args.steps if res is not None else 0,
                             "seconds": time.perf_counter() - t})
                print(f"seed={seed} k={lab:>4} {method:15s} acc={acc if acc is None else round(acc, 3)} "
                      f"({rows[-1]['seconds']:.0f}s)", flush=True)
                atomic_write_json(args.out / "runs.json", rows)
    summary = {}
    for r in rows:
        if r["target_test_acc"] is not None:
            summary.setdefault(r["method"], {}).setdefault(r["labels"], []).append(r["target_test_acc"])
    summary = {m: {lab: {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)} for lab, v in d.items()}
               for m, d in summary.items()}
    atomic_write_json(args.out / "results.json", {
        "experiment": "transfer_vs_scratch", "pair": "mnist->mnist_m", "seeds": args.seeds, "steps": args.steps,
        "pretrain_epochs": args.pretrain_epochs, "selection": "last", "runs": rows, "summary": summary})
    fields = ["seed", "n_labeled", "labels", "method", "optimizer", "target_test_acc", "selection", "oracle", "steps",
              "seconds"]
    lines = [",".join(fields)] + [",".join("" if r[f] is None else str(r[f]) for f in fields) for r in rows]
    atomic_write_text(args.out / "results.csv", "\n".join(lines) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
