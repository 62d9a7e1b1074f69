"""Reproduce DANN on the inter-twinning moons (Ganin et al. 2016, JMLR, section 5.1).

Setup, as in the authors' shallow-DANN code:

* source and target are ``sklearn.datasets.make_moons(150, noise=0.05)`` with
  the authors' fixed ``random_state`` 1 and 2; both are standardised as
  ``2 * (X - mean(X_source))`` and the target is then rotated by 35 degrees
  (their ``make_trans_moons(35, nb=150)``);
* Glorot-uniform initial weights, zero biases, a zero-initialised domain
  regressor (as their code); seeds 0..4 vary the initialisation and order;
* one hidden layer of 15 sigmoid units, a softmax output layer;
* the domain classifier is a single logistic regressor on the hidden layer
  (``DANNLoss(hidden=())``);
* sample-wise SGD (one source and one target example per step), constant
  learning rate 0.05, 500 epochs, no model selection (the last epoch);
* adaptation parameter lambda = 6. The authors' update adds lambda times the
  domain log-loss **summed** over the source and the target example, to both
  the feature and the domain-regressor gradients; ``DANNLoss`` returns the
  **mean** of the two, behind a reversal of coefficient 1, so the equivalent
  weight is ``2 * 6 = 12``.

DANN is compared with the same network trained without the adversarial term.
Target accuracy is measured on the 150 (unlabelled) target training points,
as in the paper's figure, and on 2000 fresh target points.

Usage: ``python experiments/repro/dann_moons.py [--seeds 5] [--epochs 500] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_moons

from da._io import atomic_write_json
from da.align import DANNLoss
from da.data import Part, Split, TargetLabels
from da.transfer import FeaturizerHead, finetune, mlp

LAMBDA = 6.0
HERE = Path(__file__).resolve().parent


def moons_split(seed: int, n: int = 150, n_test: int = 2000, angle: float = 35.0) -> Split:
    """The authors' ``make_trans_moons(35, nb=150)``: fixed draws (random_state 1 and 2).

    ``seed`` only picks the fresh held-out target points (random_state 100 + seed).
    """
    Xs, ys = make_moons(n, noise=0.05, random_state=1)
    Xt, yt = make_moons(n, noise=0.05, random_state=2)
    Xtt, ytt = make_moons(n_test, noise=0.05, random_state=100 + seed)
    trans = -Xs.mean(0)
    th = -np.deg2rad(angle)
    R = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    Xs = 2 * (Xs + trans)
    Xt = (2 * (Xt + trans)) @ R.T
    Xtt = (2 * (Xtt + trans)) @ R.T
    f = lambda a: a.astype(np.float32)  # noqa: E731
    # no held-out source part: the authors select nothing; source_val is the training set
    return Split(source_train=Part(f(Xs), ys), source_val=Part(f(Xs), ys), source_test=Part(f(Xs), ys),
                 target_train=Part(f(Xt)), target_val=Part(f(Xt)), target_test=Part(f(Xtt)),
                 target_labeled=Part(f(Xt[:0]), np.empty(0, np.int64)),
                 target_labeled_idx=np.empty(0, np.int64),
                 eval_labels=TargetLabels(yt, yt, ytt), n_classes=2, seed=seed)


def _authors_init(module: torch.nn.Module, seed: int) -> None:
    """Glorot-uniform weights, zero biases; the domain regressor starts at zero (as the authors)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            eps = np.sqrt(6.0 / (m.in_features + m.out_features))
            with torch.no_grad():
                m.weight.copy_(eps * (2 * torch.rand(m.weight.shape, generator=g) - 1))
                m.bias.zero_()


def run(seed: int, adversarial: bool, epochs: int) -> dict:
    split = moons_split(seed)
    model = FeaturizerHead(*mlp(2, (15,), 2, activation="sigmoid", seed=seed))
    _authors_init(model, seed)
    losses = None
    if adversarial:
        # one logistic regressor on the 15 hidden units; reversal coefficient 1, weight 2*lambda
        dann = DANNLoss(15, hidden=(), schedule="constant", lambda_=1.0, seed=seed)
        torch.nn.init.zeros_(dann.discriminator[-1].weight)
        torch.nn.init.zeros_(dann.discriminator[-1].bias)
        losses = [("dann", dann, 2 * LAMBDA)]
    # with no alignment the target stream is idle; one step per source example either way
    res = finetune(model, split, losses, epochs=epochs, batch_size=1, batch_size_target=1,
                   optimizer="sgd", momentum=0.0, lr=0.05, lr_schedule="constant", selection="last",
                   eval_every=max(1, epochs // 10), log_every=10_000, device="cpu", seed=seed)
    return {"seed": seed, "method": "dann" if adversarial else "no_adaptation",
            "target_acc_train_points": res.metrics["target_val"]["accuracy"],
            "target_acc_fresh_points": res.metrics["target_test"]["accuracy"],
            "source_acc": res.metrics["source_val"]["accuracy"], "steps": res.n_steps,
            "seconds": res.seconds, "selection": res.selection, "oracle": res.oracle}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "dann_moons")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for seed in range(args.seeds):
        for adv in (False, True):
            t = time.perf_counter()
            rows.append(run(seed, adv, args.epochs))
            print(json.dumps(rows[-1]), f"({time.perf_counter() - t:.0f}s)", flush=True)
    summary = {}
    for method in ("no_adaptation", "dann"):
        r = [x for x in rows if x["method"] == method]
        summary[method] = {k: {"mean": float(np.mean([x[k] for x in r])), "std": float(np.std([x[k] for x in r]))}
                           for k in ("target_acc_train_points", "target_acc_fresh_points", "source_acc")}
    out = {"experiment": "dann_moons", "epochs": args.epochs, "seeds": args.seeds, "lambda": LAMBDA,
           "selection": "last (no model selection, as the authors)", "runs": rows, "summary": summary}
    atomic_write_json(args.out / "results.json", out)
    print(json.dumps(summary, indent=1))
    return out


if __name__ == "__main__":
    main()
