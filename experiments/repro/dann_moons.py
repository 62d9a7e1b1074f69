"""Reproduce DANN on the inter-twinning moons (Ganin et al. 2016, JMLR, section 5.1).

Setup, as in the authors' shallow-DANN code:

* source and target are ``sklearn.datasets.make_moons(150, noise=0.05)`` with
  the authors' fixed ``random_state`` 1 and 2; both are standardised as
  ``2 * (X - mean(X_source))`` and the target is then rotated by 35 degrees
  (their ``make_trans_moons(35, nb=150)``);
* Glorot-uniform initial weights, zero biases, a zero-initialised domain
  regressor, drawn as their code draws them: ``np.random.seed(seed)``, then
  ``W`` then ``V`` (so seed ``s`` starts from the authors' initial weights for
  seed ``s``); seeds 0..4 by default (docs/reproductions.md reports 0..19);
* one hidden layer of 15 sigmoid units, a softmax output layer;
* the domain classifier is a single logistic regressor on the hidden layer
  (``DANNLoss(hidden=())``);
* sample-wise SGD (one source and one target example per step), constant
  learning rate 0.05, 500 epochs, no model selection (the last epoch);
* **the source is visited in its stored order every epoch and each step's
  target example is drawn with replacement** (``source_sampling="stored"``,
  ``target_sampling="replacement"``), as their loop does. This is the one
  difference our trainer had with their code: with the same initial weights and
  the same examples, its parameters equal the float64 reference
  (``dann_moons_numpy.py``, itself equal to the authors' ``DANN.py`` to 1e-14)
  to float32 precision (``tests/transfer/test_dann_moons_reference.py``). Our
  default, a fresh permutation of the source every epoch, costs DANN about .04
  of target accuracy on this problem (``--sampling-ablation``; docs/reproductions.md,
  section 1);
* adaptation parameter lambda = 6. The authors' update adds lambda times the
  domain log-loss **summed** over the source and the target example, to both
  the feature and the domain-regressor gradients; ``DANNLoss`` returns the
  **mean** of the two, behind a reversal of coefficient 1, so the equivalent
  weight is ``2 * 6 = 12``.

DANN is compared with the same network trained without the adversarial term.
Target accuracy is measured on the 150 (unlabelled) target training points,
as in the paper's figure, and on 2000 fresh target points.

Each seed is also run through the float64 numpy reference of the authors' code
(``dann_moons_numpy.py``), with their protocol and their random draws, and again
with the target rows our trainer drew (``reference_on_our_draws``). Each seed's
records go to ``runs/seed_<s>.json`` under ``--out``; ``results.json`` summarises
every seed file there, ours and the reference's side by side (so seeds can run
in separate processes).

Usage: ``python experiments/repro/dann_moons.py [--seeds 0 1 2 3 4] [--epochs 500] [--out DIR]``;
``--summarise-only`` (rebuild ``results.json``), ``--reference-only`` (recompute the
reference entries of existing seed files), ``--sampling-ablation`` (reference only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_moons

from da._io import atomic_write_json
from da.align import DANNLoss
from da.data import Part, Split, TargetLabels, epoch_indices
from da.transfer import FeaturizerHead, finetune, mlp
from da.transfer._rng import torch_seed

LAMBDA = 6.0
HERE = Path(__file__).resolve().parent


def moons_split(seed: int, n: int = 150, n_test: int = 2000, angle: float = 35.0, dtype=np.float32) -> Split:
    """The authors' ``make_trans_moons(35, nb=150)``: fixed draws (random_state 1 and 2).

    ``seed`` only picks the fresh held-out target points (random_state 100 + seed).
    ``dtype``: float32 for the trainer, float64 (the authors' data exactly) for the reference.
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
    f = lambda a: a.astype(dtype)  # noqa: E731
    # no held-out source part: the authors select nothing; source_val is the training set
    return Split(source_train=Part(f(Xs), ys), source_val=Part(f(Xs), ys), source_test=Part(f(Xs), ys),
                 target_train=Part(f(Xt)), target_val=Part(f(Xt)), target_test=Part(f(Xtt)),
                 target_labeled=Part(f(Xt[:0]), np.empty(0, np.int64)),
                 target_labeled_idx=np.empty(0, np.int64),
                 eval_labels=TargetLabels(yt, yt, ytt), n_classes=2, seed=seed)


def _authors_init(model: FeaturizerHead, seed: int) -> None:
    """The authors' initial weights for ``seed``: ``RandomState(seed)`` draws the hidden layer's
    Glorot-uniform ``W`` (``eps * (2 * rand(out, in) - 1)``, ``eps = sqrt(6 / (in + out))``),
    then the output layer's ``V``; zero biases."""
    rs = np.random.RandomState(seed)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]  # hidden, then output
    for m in layers:
        eps = np.sqrt(6.0 / (m.in_features + m.out_features))
        w = eps * (2 * rs.rand(m.out_features, m.in_features) - 1.0)
        with torch.no_grad():
            m.weight.copy_(torch.as_tensor(w, dtype=m.weight.dtype))
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
    # with no alignment there is no target stream; one step per source example either way
    res = finetune(model, split, losses, epochs=epochs, batch_size=1, batch_size_target=1,
                   source_sampling="stored", target_sampling="replacement",
                   optimizer="sgd", momentum=0.0, lr=0.05, lr_schedule="constant", selection="last",
                   eval_every=max(1, epochs // 10), log_every=10_000, device="cpu", seed=seed)
    return {"seed": seed, "method": "dann" if adversarial else "no_adaptation",
            "target_acc_train_points": res.metrics["target_val"]["accuracy"],
            "target_acc_fresh_points": res.metrics["target_test"]["accuracy"],
            "source_acc": res.metrics["source_val"]["accuracy"], "steps": res.n_steps,
            "seconds": res.seconds, "selection": res.selection, "oracle": res.oracle}


def _reference():
    """The float64 numpy reference of the authors' code (a sibling file, loaded by path)."""
    spec = importlib.util.spec_from_file_location("dann_moons_numpy", HERE / "dann_moons_numpy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def trainer_target_rows(seed: int, epochs: int) -> np.ndarray:
    """The target rows :func:`run`'s DANN draws, one per step: the trainer's target stream
    (``target_sampling="replacement"``, batch 1) on its generator seeded from ``seed``; the
    source stream (``"stored"``) draws nothing. ``tests/transfer/test_dann_moons_reference.py``
    checks them against the rows the trainer actually used."""
    gen = torch.Generator().manual_seed(torch_seed(seed))
    n = len(moons_split(seed).target_train)
    return torch.cat([epoch_indices(n, 1, n, gen, "replacement")[:, 0] for _ in range(epochs)]).numpy()


def run_reference(seed: int, adversarial: bool, epochs: int, target_idx=None) -> dict:
    """The authors' protocol for ``seed`` in the numpy reference, on the same data; with
    ``target_idx``, those target rows instead of the authors' draws (e.g. :func:`trainer_target_rows`)."""
    ref, split = _reference(), moons_split(seed, dtype=np.float64)
    Xs, ys, Xt = split.source_train.X, split.source_train.y, split.target_train.X
    t = time.perf_counter()
    init, source_idx, authors_target_idx = ref.authors_protocol(Xs, ys, Xt, seed, epochs=epochs)
    target_idx = authors_target_idx if target_idx is None else target_idx
    params = ref.train(init, Xs, ys, Xt, source_idx, target_idx, lam=LAMBDA, adversarial=adversarial)
    acc = lambda part, y: float(np.mean(ref.predict(params, part.X) == y))  # noqa: E731
    return {"seed": seed, "method": "dann" if adversarial else "no_adaptation",
            "target_acc_train_points": acc(split.target_train, split.eval_labels.train),
            "target_acc_fresh_points": acc(split.target_test, split.eval_labels.test),
            "source_acc": acc(split.source_train, split.source_train.y), "steps": len(source_idx),
            "seconds": time.perf_counter() - t}


#: sample orders of the sampling ablation: (source, target) as the authors or reshuffled each epoch
SAMPLING_VARIANTS = {"authors (source stored, target with replacement)": (False, False),
                     "target reshuffled each epoch": (False, True),
                     "source reshuffled each epoch": (True, False),
                     "both reshuffled each epoch (our default)": (True, True)}


def sampling_ablation(seeds, epochs: int) -> dict:
    """DANN in the numpy reference from the authors' initial weights for each seed, with each
    :data:`SAMPLING_VARIANTS` order (a reshuffled stream draws one permutation per epoch from
    ``RandomState(1000 + seed)``). Returns the target accuracies on the training points."""
    ref, split = _reference(), moons_split(0, dtype=np.float64)
    Xs, Xt = split.source_train.X, split.target_train.X
    ys, yt = split.source_train.y, split.eval_labels.train
    acc = {name: [] for name in SAMPLING_VARIANTS}
    for seed in seeds:
        init, source_idx, target_idx = ref.authors_protocol(Xs, ys, Xt, seed, epochs=epochs)
        for name, (shuffle_s, shuffle_t) in SAMPLING_VARIANTS.items():
            rs = np.random.RandomState(1000 + seed)
            si = np.concatenate([rs.permutation(len(Xs)) for _ in range(epochs)]) if shuffle_s else source_idx
            ti = np.concatenate([rs.permutation(len(Xt)) for _ in range(epochs)]) if shuffle_t else target_idx
            params = ref.train(init, Xs, ys, Xt, si, ti, lam=LAMBDA)
            acc[name].append(float(np.mean(ref.predict(params, Xt) == yt)))
        print(seed, {k: round(v[-1], 3) for k, v in acc.items()}, flush=True)
    base = np.array(acc[next(iter(SAMPLING_VARIANTS))])
    summary = {name: {"mean": float(np.mean(a)), "std": float(np.std(a)),
                      "paired_diff_to_authors": float(np.mean(np.array(a) - base)),
                      "paired_diff_se": float(np.std(np.array(a) - base, ddof=1) / np.sqrt(len(a)))}
               for name, a in acc.items()}
    return {"experiment": "dann_moons sampling ablation (numpy reference, DANN, target training points)",
            "epochs": epochs, "seeds": list(seeds), "accuracy": acc, "summary": summary}


def _summary(rows) -> dict:
    out = {}
    for method in ("no_adaptation", "dann"):
        r = [x for x in rows if x["method"] == method]
        out[method] = {k: {"mean": float(np.mean([x[k] for x in r])), "std": float(np.std([x[k] for x in r]))}
                       for k in ("target_acc_train_points", "target_acc_fresh_points", "source_acc")}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(5)),
                    help="seeds to run (default 0 1 2 3 4)")
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "dann_moons",
                    help="runs/seed_<s>.json and results.json go here")
    ap.add_argument("--sampling-ablation", action="store_true",
                    help="only the numpy reference, DANN under each sample order (SAMPLING_VARIANTS): "
                         "writes sampling_ablation.json")
    ap.add_argument("--summarise-only", action="store_true",
                    help="run nothing: rebuild results.json from the seed files under --out")
    ap.add_argument("--reference-only", action="store_true",
                    help="recompute only the reference entries of the existing seed files (seconds)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.summarise_only:
        return summarise(args.out, args.epochs)
    if args.reference_only:
        for seed in args.seeds:
            path = args.out / "runs" / f"seed_{seed}.json"
            rec = json.loads(path.read_text())
            for row in rec["runs"]:
                adv = row["ours"]["method"] == "dann"
                row["reference"] = run_reference(seed, adv, rec["epochs"])
                row["reference_on_our_draws"] = run_reference(seed, adv, rec["epochs"],
                                                              trainer_target_rows(seed, rec["epochs"]))
            atomic_write_json(path, rec)
        return summarise(args.out, args.epochs)
    if args.sampling_ablation:
        out = sampling_ablation(args.seeds, args.epochs)
        atomic_write_json(args.out / "sampling_ablation.json", out)
        print(json.dumps(out["summary"], indent=1))
        return out
    for seed in args.seeds:
        rows = []
        for adv in (False, True):
            t = time.perf_counter()
            rows.append({"ours": run(seed, adv, args.epochs), "reference": run_reference(seed, adv, args.epochs),
                         # the same reference fed the target rows our trainer drew: what float32 and the
                         # trainer change, with the sample path held fixed
                         "reference_on_our_draws": run_reference(seed, adv, args.epochs,
                                                                 trainer_target_rows(seed, args.epochs))})
            print(json.dumps(rows[-1]), f"({time.perf_counter() - t:.0f}s)", flush=True)
        atomic_write_json(args.out / "runs" / f"seed_{seed}.json", {"seed": seed, "epochs": args.epochs, "runs": rows})
    out = summarise(args.out, args.epochs)
    print(json.dumps({k: out[k] for k in ("seeds", "summary", "reference_summary")}, indent=1))
    return out


def summarise(out_dir: Path, epochs: int) -> dict:
    """``results.json`` from every ``runs/seed_<s>.json`` of ``out_dir`` run for ``epochs`` epochs."""
    recs = sorted((json.loads(f.read_text()) for f in (out_dir / "runs").glob("seed_*.json")),
                  key=lambda r: r["seed"])
    recs = [r for r in recs if r["epochs"] == epochs]
    ours = [x["ours"] for r in recs for x in r["runs"]]
    ref = [x["reference"] for r in recs for x in r["runs"]]
    same_draws = [x["reference_on_our_draws"] for r in recs for x in r["runs"] if "reference_on_our_draws" in x]
    out = {"experiment": "dann_moons", "epochs": epochs, "seeds": [r["seed"] for r in recs], "lambda": LAMBDA,
           "selection": "last (no model selection, as the authors)",
           "sampling": "source in its stored order, target with replacement, as the authors",
           "reference": "dann_moons_numpy.py: float64 numpy, the authors' protocol and random draws",
           "summary": _summary(ours), "reference_summary": _summary(ref)}
    if len(same_draws) == len(ours):
        out["reference_on_our_draws_summary"] = _summary(same_draws)
    first = [r for r in recs if r["seed"] < 5]
    if len(first) < len(recs):  # the paper-sized subset, seeds 0..4, beside the whole set
        out["summary_seeds_0_4"] = _summary([x["ours"] for r in first for x in r["runs"]])
        out["reference_summary_seeds_0_4"] = _summary([x["reference"] for r in first for x in r["runs"]])
    out.update(runs=ours, reference_runs=ref)
    if len(same_draws) == len(ours):
        out["reference_on_our_draws_runs"] = same_draws
    atomic_write_json(out_dir / "results.json", out)
    return out


if __name__ == "__main__":
    main()
