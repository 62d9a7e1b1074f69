"""Runs inside the skada virtual environment (see skada_side_by_side.py); imports nothing from ``da``.

argv: OUT.jsonl METHODS(comma-separated) DRAW.npz...  -- one JSON line per (method, draw), resumable.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from skada.deep import DAN, DANN, DeepCoral, DeepJDOT, SourceOnly


class MLP(nn.Module):
    """d-256-128-C, as da.transfer.mlp(d, (256, 128), C): the features are the 128 ReLU outputs."""

    def __init__(self, d, n_classes):
        super().__init__()
        self.feature = nn.Sequential(nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())
        self.head = nn.Linear(128, n_classes)

    def forward(self, x, sample_weight=None):
        return self.head(self.feature(x))


def build(method, d, k, seed):
    torch.manual_seed(seed)
    common = dict(layer_name="feature", batch_size=128, max_epochs=30, train_split=False,
                  optimizer=torch.optim.Adam, lr=1e-3, verbose=0, device="cpu")
    module = MLP(d, k)
    if method == "SourceOnly":
        return SourceOnly(module, **common)
    if method == "DAN":
        return DAN(module, **common)
    if method == "DANN":
        return DANN(module, num_features=128, **common)
    if method == "DeepCoral":
        return DeepCoral(module, **common)
    if method == "DeepJDOT":
        return DeepJDOT(module, **common)
    raise ValueError(method)


def main():
    out, methods, files = Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3:]
    torch.set_num_threads(1)
    done = set()
    if out.exists():
        done = {(r["config"], r["pair"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    for f in files:
        pair, seed = Path(f).stem.rsplit("__", 1)
        seed = int(seed)
        z = np.load(f)
        Xs, ys, Xt, Xe, ye, k = z["Xs"], z["ys"], z["Xt"], z["Xe"], z["ye"], int(z["n_classes"])
        X = np.concatenate([Xs, Xt]).astype(np.float32)
        y = np.concatenate([ys, np.full(len(Xt), -1)]).astype(np.int64)
        sd = np.concatenate([np.ones(len(Xs)), -np.ones(len(Xt))]).astype(np.int64)
        for m in methods:
            key = f"skada_{m}"
            if (key, pair, seed) in done:
                continue
            t0 = time.perf_counter()
            net = build(m, X.shape[1], k, seed)
            net.fit(X, y, sample_domain=sd)
            pred = net.predict(Xe.astype(np.float32), sample_domain=-np.ones(len(Xe), dtype=np.int64))
            rec = {"config": key, "pair": pair, "seed": seed, "target_acc": float((pred == ye).mean()),
                   "seconds": time.perf_counter() - t0}
            with open(out, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(key, pair, seed, round(rec["target_acc"], 3), round(rec["seconds"], 1), flush=True)


if __name__ == "__main__":
    main()
