"""Why DANN needs SGD on digits -> MNIST: the same DANN under Adam and under plain SGD,
with the diagnostics behind the explanation in docs/reproductions.md (section 2).

For each pair, seed and optimizer, the script trains source-only and DANN (the MLP,
discriminator and schedule of ``mnist_digits.yaml``: 128-256-1, Ganin schedule,
λ_max 1 under SGD and 0.3 under Adam, as there; 20 epochs, ``source_val``
selection), plus MMD under Adam as a non-adversarial reference, and records,
besides target test accuracy:

* ``ce_source_by_epoch``: the mean source cross-entropy of each epoch (how fast
  the source is memorised, leaving only the reversed gradient);
* ``disc_loss_by_epoch``: the discriminator's mean BCE per epoch (above ln 2 =
  0.693 the features over-correct: the discriminator is wrong the other way);
* ``proxy_a_distance``: a fresh standardised logistic regression separating the
  held-out source and target *test* features of the selected model (0: the
  domains look alike, 2: separable);
* ``centroid_ratio``: mean over classes of the distance from the target class
  centroid to the same class's source centroid, over its mean distance to the
  other classes' source centroids (test features, evaluation labels): below 1
  the classes line up across domains, lower is better aligned.

Usage: ``python experiments/repro/dann_optimizer.py [--pairs ...] [--seeds 3] [--epochs 20] [--out DIR]``
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

import da.align as A
from da._io import atomic_write_json
from da.datasets import load_pair
from da.diagnostics import proxy_a_distance
from da.transfer import FeaturizerHead, finetune, mlp, source_only

HERE = Path(__file__).resolve().parent
D, K = 128, 10
OPTIMIZERS = {"adam": {"optimizer": "adam", "lr": 1e-3}, "sgd": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0}}
LAMBDA = {"adam": 0.3, "sgd": 1.0}  # the setting of each optimizer in mnist_digits.yaml
# (optimizer, method); MMD (x10, as in mnist_digits.yaml) is the non-adversarial reference under Adam
RUNS = [("adam", "source_only"), ("adam", "dann"), ("sgd", "source_only"), ("sgd", "dann"), ("adam", "mmd")]


@torch.no_grad()
def _features(model, X) -> np.ndarray:
    model.eval()
    return model.featurizer(torch.as_tensor(X, dtype=torch.float32)).numpy()


def centroid_ratio(fs, ys, ft, yt, n_classes: int) -> float:
    """Mean over classes of d(target c, source c) / mean_{c' != c} d(target c, source c')."""
    cs = np.stack([fs[ys == k].mean(0) for k in range(n_classes)])
    ct = np.stack([ft[yt == k].mean(0) for k in range(n_classes)])
    dist = np.sqrt(((ct[:, None, :] - cs[None, :, :]) ** 2).sum(-1))
    same = np.diag(dist)
    other = (dist.sum(1) - same) / (n_classes - 1)
    return float(np.mean(same / other))


def run_one(pair_name: str, method: str, opt: str, seed: int, epochs: int) -> dict:
    pair = load_pair(pair_name)
    split = pair.sample(seed=seed)
    model = FeaturizerHead(*mlp(64, (256, D), K, seed=seed))
    steps = math.ceil(max(len(split.source_train), len(split.target_train)) / 128)
    cfg = dict(epochs=epochs, batch_size=128, selection="source_val", steps_per_epoch=steps, device="cpu",
               seed=seed, log_every=50, **OPTIMIZERS[opt])
    t = time.perf_counter()
    if method == "source_only":
        res = source_only(model, split, **cfg)
    elif method == "mmd":
        res = finetune(model, split, [("mmd", A.MMDLoss(), 10.0)], **cfg)
    else:
        dann = A.DANNLoss(D, hidden=(256,), schedule="ganin", lambda_=LAMBDA[opt], seed=seed)
        res = finetune(model, split, [("dann", dann, 1.0)], **cfg)
    fs, ft = _features(res.model, split.source_test.X), _features(res.model, split.target_test.X)
    return {"pair": pair_name, "method": method, "optimizer": opt, "seed": seed, "epochs": epochs,
            "lambda_max": LAMBDA[opt] if method == "dann" else None,
            "weight": 10.0 if method == "mmd" else None,
            "target_test_acc": res.metrics["target_test"]["accuracy"], "best_epoch": res.best_epoch,
            "selection": res.selection, "oracle": res.oracle,
            "ce_source_by_epoch": [r["loss/ce_source"] for r in res.history],
            "disc_loss_by_epoch": [r.get("dann/disc_loss") for r in res.history],
            "proxy_a_distance": float(proxy_a_distance(fs, ft, seed=0)),
            "centroid_ratio": centroid_ratio(fs, split.source_test.y, ft, split.eval_labels.test, K),
            "seconds": time.perf_counter() - t}


def table(rows) -> str:
    out = ["| pair | method | optimizer | target test acc. | source CE, last epoch | max disc. loss | "
           "proxy A-distance | centroid ratio |", "|---|---|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["pair"], r["method"], r["optimizer"]) for r in rows))
    for p, m, o in keys:
        rr = [r for r in rows if (r["pair"], r["method"], r["optimizer"]) == (p, m, o)]

        def pm(v):
            return f"{np.mean(v):.3f} ± {np.std(v):.3f}"
        disc = [max(x for x in r["disc_loss_by_epoch"] if x is not None) for r in rr] if m == "dann" else None
        out.append(f"| {p} | {m} | {o} | {pm([r['target_test_acc'] for r in rr])} | "
                   f"{pm([r['ce_source_by_epoch'][-1] for r in rr])} | {pm(disc) if disc else '—'} | "
                   f"{pm([r['proxy_a_distance'] for r in rr])} | {pm([r['centroid_ratio'] for r in rr])} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=["digits->mnist", "mnist->digits"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "dann_optimizer")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for pair in args.pairs:
        for seed in range(args.seeds):
            for opt, method in RUNS:
                rows.append(run_one(pair, method, opt, seed, args.epochs))
                r = rows[-1]
                print(f"{pair:14s} {method:11s} {opt:4s} seed={seed} acc={r['target_test_acc']:.3f} "
                      f"PAD={r['proxy_a_distance']:.2f} ratio={r['centroid_ratio']:.2f} "
                      f"ce_last={r['ce_source_by_epoch'][-1]:.3f} {r['seconds']:.0f}s", flush=True)
                atomic_write_json(args.out / "runs.json", rows)
    atomic_write_json(args.out / "results.json", {"experiment": "dann_optimizer", "epochs": args.epochs,
                                                  "seeds": args.seeds, "selection": "source_val", "runs": rows})
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
