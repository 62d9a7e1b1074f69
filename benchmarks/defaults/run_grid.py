"""Run named method configurations on the generated pairs; one JSON line per (config, pair, seed).

Protocol (the estimator a new user calls): ``DomainAdaptationClassifier`` with
the MLP d-256-128-C, 30 epochs, batch 128, selection ``source_val``; source =
the source train+val parts, target = the unlabelled target train part. The
score is the target accuracy on the target val+test parts (never seen in
training). Those target labels are what the defaults are chosen on: this is the
tuning benchmark, and it says so (docs/defaults.md).

Resumable: a (config, pair, seed) already in the output file is skipped.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/defaults/run_grid.py STAGE \
        --configs source_only mmd ... [--shard 0/2] [--seeds 0 1 2]

``STAGE`` names the output ``benchmarks/defaults/results/STAGE.<shard>.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import CONFIGS, build_estimator  # noqa: E402
from pairs import N_PER_DOMAIN, PAIRS, make_split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _target_eval(split):
    X = np.concatenate([split.target_val.X, split.target_test.X])
    y = np.concatenate([split.eval_labels.val, split.eval_labels.test])
    return X, y


def run_data(pair: str, seed: int):
    """``(split, Xs, ys, Xt, Xe, ye)`` of a run: source = source train+val, target = the unlabelled target
    train part, and the target evaluation rows (val + test) with their labels."""
    split = make_split(pair, seed)
    Xs = np.concatenate([split.source_train.X, split.source_val.X])
    ys = np.concatenate([split.source_train.y, split.source_val.y])
    return (split, Xs, ys, split.target_train.X, *_target_eval(split))


def run_one(config: str, pair: str, seed: int) -> dict:
    split, Xs, ys, Xt, Xe, ye = run_data(pair, seed)
    t0 = time.perf_counter()
    clf = build_estimator(config, n_features=Xs.shape[1], n_classes=split.n_classes, seed=seed)
    if CONFIGS[config].get("auto"):  # align="auto" with its own options (candidate training)
        from da.transfer.auto import fit_auto

        fit_auto(clf, Xs, ys, Xt, **CONFIGS[config]["auto"])
    else:
        clf.fit(Xs, ys, Xt)
    secs = time.perf_counter() - t0
    rec = {"config": config, "pair": pair, "seed": seed, "target_acc": float((clf.predict(Xe) == ye).mean()),
           "source_val_acc": float(clf.result_.metrics.get("source_val", {}).get("accuracy", np.nan)),
           "best_epoch": int(clf.result_.best_epoch), "seconds": secs}
    if N_PER_DOMAIN != 1000:  # the long-game regime (DA_DEFAULTS_N)
        rec["n_per_domain"] = N_PER_DOMAIN
    if isinstance(clf.selection_, dict):  # align="auto": its label-free record, plus (evaluation only,
        # never read by the choice) each candidate's target accuracy, to compare with the oracle choice
        rec["auto"] = clf.selection_
        logits = candidate_logits(clf, Xe)
        rec["candidate_target_acc"] = {n: float((z.argmax(1) == ye).mean()) for n, z in logits.items()}
        if CONFIGS[config].get("save_probs"):
            _save_probs(config, pair, seed, clf, Xs, ys, Xt, logits, ye)
    return rec


def candidate_logits(clf, X) -> dict:
    """Each of an ``align="auto"`` fit's candidates' logits on ``X`` (evaluation only, never the choice)."""
    from da.transfer.evaluate import predict_outputs

    return {n: predict_outputs(m, X, features=False)["logits"] for n, m in clf.candidates_.items()}


def _save_probs(config, pair, seed, clf, Xs, ys, Xt, logits_e, ye) -> None:
    """Each candidate's softmax outputs (float16) on the target evaluation rows (from their logits
    ``logits_e``) and on the estimator's own held-out source rows (the split ``fit_auto`` made), with their
    labels, in ``results/probs/CONFIG/`` (committed with the records): for rules re-applied to them without
    training (ensembles)."""
    from scipy.special import softmax

    from da.transfer.trainer import make_split

    enc = np.searchsorted(clf.classes_, ys)
    sp = make_split(Xs, enc, Xt, val_fraction=clf.val_fraction, seed=clf.seed, n_classes=len(clf.classes_))
    arrays = {"ye": ye, "ysv": sp.source_val.y}
    for part, logits in (("te", logits_e), ("sv", candidate_logits(clf, sp.source_val.X))):
        for n, z in logits.items():
            arrays[f"{n}@{part}"] = softmax(z, 1).astype(np.float16)
    out = RESULTS / "probs" / config
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{pair}_{seed}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out / f"{pair}_{seed}.npz")  # atomic: a killed run leaves no half-written file


def _failed(config, pair, seed, exc) -> dict:
    """A run that raised: scored as the constant majority-class prediction (what a collapsed model gives)."""
    split = make_split(pair, seed)
    _, ye = _target_eval(split)
    major = np.bincount(split.source_train.y).argmax()
    return {"config": config, "pair": pair, "seed": seed, "target_acc": float((ye == major).mean()),
            "error": f"{type(exc).__name__}: {exc}"[:300], "seconds": float("nan")}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("stage")
    ap.add_argument("--configs", nargs="+", required=True)
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--shard", default="0/1")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    k, n = (int(v) for v in a.shard.split("/"))
    for c in a.configs:
        if c not in CONFIGS:
            raise SystemExit(f"unknown config {c!r}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{a.stage}.{k}.jsonl"
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["config"], r["pair"], r["seed"]))
    for f in RESULTS.glob(f"{a.stage}.*.jsonl"):  # every shard's finished runs: shard the remaining ones
        for line in f.read_text().splitlines():
            r = json.loads(line)
            done.add((r["config"], r["pair"], r["seed"]))
    jobs = [(c, p, s) for p in a.pairs for s in a.seeds for c in a.configs]
    jobs = [j for j in jobs if j not in done]
    jobs = [j for i, j in enumerate(jobs) if i % n == k]
    print(f"{len(jobs)} runs to do -> {out}", flush=True)
    for i, (c, p, s) in enumerate(jobs):
        try:
            rec = run_one(c, p, s)
        except (ValueError, RuntimeError) as e:  # a default that fails is a result too (counted as harm)
            rec = _failed(c, p, s, e)
        with open(out, "a") as fh:  # one line per run: a killed sweep resumes where it stopped
            fh.write(json.dumps(rec) + "\n")
        print(f"[{i + 1}/{len(jobs)}] {c} {p} {s} acc={rec['target_acc']:.3f} {rec['seconds']:.1f}s", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
