"""Why Sinkhorn at weight 1 collapsed the digits features: the feature scale each configuration ends with.

For each (pair, configuration) of the defaults benchmark (seed 0, the protocol of ``run_grid.py``),
train, then print on the first 128 source and target rows of the final model's features: the median
squared source-target distance (the unit of the Sinkhorn divergence, and of its relative
``reg``), the number of the 128 ReLU units active on some source row, the Sinkhorn divergence of
the revision-3 loss (reg 0.1 relative) between them, and the epoch-0 and last-epoch values of each
loss term. A configuration that raises (features collapsed to a point) is printed as such.
Diagnostic only: nothing is chosen on it. Target accuracy is not printed.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/defaults/feature_scale.py \
        [--pairs digits_noise0.6 moons_rot35] [--configs source_only sinkhorn sinkhorn_w0.3 ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import build_estimator  # noqa: E402
from pairs import make_split  # noqa: E402

from da.align import SinkhornLoss  # noqa: E402
from da.transfer.evaluate import predict_outputs  # noqa: E402


def describe(config: str, pair: str, seed: int = 0) -> str:
    split = make_split(pair, seed)
    Xs = np.concatenate([split.source_train.X, split.source_val.X])
    ys = np.concatenate([split.source_train.y, split.source_val.y])
    Xt = split.target_train.X
    clf = build_estimator(config, Xs.shape[1], split.n_classes, seed)
    try:
        clf.fit(Xs, ys, Xt)
    except ValueError as e:
        return f"{pair:18s} {config:22s} raised: {str(e)[:80]}"
    fs, ft = (torch.from_numpy(predict_outputs(clf.model_, X)["features"]) for X in (Xs, Xt))
    d2 = torch.cdist(fs[:128], ft[:128]) ** 2
    s_eps = SinkhornLoss(reg=0.1, scale="median", tol=1e-4, method="symmetric")(fs[:128], ft[:128])
    active = int((fs.max(0).values > 1e-6).sum())
    terms = [k for k in clf.history_[-1] if k.startswith("loss/") and k != "loss/total"]
    losses = " ".join(f"{k[5:]} {clf.history_[0][k]:.3g}->{clf.history_[-1][k]:.3g}" for k in terms)
    return (f"{pair:18s} {config:22s} median d2 {float(d2.median()):8.3g}  active units {active:3d}/{fs.shape[1]}"
            f"  S_eps {float(s_eps):7.3g}  {losses}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=["digits_noise0.6", "moons_rot35"])
    ap.add_argument("--configs", nargs="+", default=["source_only", "sinkhorn_w1", "sinkhorn_w0.3", "sinkhorn_w0.1",
                                                    "sinkhorn_default"])
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    for p in a.pairs:
        for c in a.configs:
            print(describe(c, p), flush=True)


if __name__ == "__main__":
    main()
