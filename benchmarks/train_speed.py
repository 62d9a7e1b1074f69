"""Seconds per training epoch of each method on MNIST -> digits, or per whole estimator fit.

MLP 64-256-128-10, batches of 128 source + 128 target, the loss each
name builds (``make_alignment(name, 128, 10)``, as ``DomainAdaptationClassifier(align=name)``
and ``method: name`` in a config build it: on these 128-d features DANN and
CDAN get one hidden layer of 128 units and CDAN a 128-d randomized map,
Sinkhorn a median-relative reg, tol 1e-4 and the batched solver; see
:func:`da.transfer.alignment_defaults`). ``*_paper`` use the loss classes'
own defaults instead (the papers' (1024, 1024) discriminator; CDAN's exact
1280-d map; Sinkhorn's absolute reg and log-domain solves to tol 1e-6). The
same number of steps per epoch for every method (one pass over the larger
domain: 28 steps). Per-epoch evaluation (source/target validation accuracy,
the selection criterion) is included, as in a real run.

``--whole-fit`` times instead what a user waits for:
``DomainAdaptationClassifier(align=m, epochs=20, seed=0).fit(Xs, ys, Xt)`` on the
MNIST -> digits source training rows and target rows (each method with its own
recipe: weight, optimizer, learning rate), setup, per-epoch evaluation and
selection, and the final metrics included. The table also gives the target
accuracy of the fitted model (target labels read for this evaluation only) and a
checksum of its logits, so that two trees can be seen to give the same model.

Each method is timed in ``--rounds`` interleaved rounds and the minimum is
reported (the machine is shared; the minimum is the least disturbed run). The
ratio of two minima can come from rounds minutes apart, and this machine's speed
drifts by up to 1.5x within minutes, so the table also gives the median (and the
range) over rounds of each round's own ratio to source-only, two runs seconds
apart.
``--baseline REV`` also times ``da/`` at git revision ``REV`` (exported to a
temporary folder, :mod:`_baseline`): each round then runs one fresh process per
tree, alternating the trees, and the table gives each method's ratio to the
baseline as well.

``--losses CALLS`` times each loss alone instead: one forward + backward of the loss the name
builds on the model's features and logits of 128 source and 128 target rows, the 10th
percentile of ``CALLS`` calls (with the checksum of its value and gradients).

``--pretrain N`` first trains the model N epochs on the source (untimed), so
that the alignment losses see a pretrained model's features, as the quickstart's
fine-tuning does; by default the random initialisation is fine-tuned.

Usage: ``python benchmarks/train_speed.py [--threads 2] [--epochs 1] [--rounds 3] [--pretrain 0] [--clock wall]
[--whole-fit | --losses CALLS] [--baseline REV] [--methods ...]``
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

from da.datasets import load_pair
from da.transfer import FeaturizerHead, finetune, make_alignment, mlp

# name -> (alignment name, constructor overrides); "*_paper": the loss classes' own defaults
_CLASS_DEFAULTS = {"dann": {"hidden": (1024, 1024)},
                   "cdan": {"hidden": (1024, 1024), "randomized": None, "random_dim": 1024},
                   "sinkhorn": {"scale": None, "tol": 1e-6, "method": "sinkhorn_log"}}
SPECS = {"source_only": (None, {}), "mmd": ("mmd", {}), "dann": ("dann", {}), "cdan": ("cdan", {}),
         "jdot": ("jdot", {}), "coral": ("coral", {}), "swd": ("swd", {}), "sinkhorn": ("sinkhorn", {}),
         # the name's defaults with each solver: POT's batched solve, POT's log-domain solves, ours
         "sinkhorn_pot": ("sinkhorn", {"method": "auto"}),
         "sinkhorn_pot_log": ("sinkhorn", {"method": "sinkhorn_log"}),
         "sinkhorn_symmetric": ("sinkhorn", {"method": "symmetric"}),
         **{f"{k}_paper": (k, v) for k, v in _CLASS_DEFAULTS.items()}}
METHODS = [m for m in SPECS if not m.endswith("_paper") and m != "sinkhorn_pot_log"]
#: the names DomainAdaptationClassifier(align=...) takes (None: source only), for --whole-fit
FIT_METHODS = ["source_only", "mmd", "dann", "cdan", "jdot", "coral", "swd", "sinkhorn"]
# rows that replace another: their time is also given as a ratio to the one they replace
REPLACES = {"sinkhorn_symmetric": "sinkhorn_pot", "sinkhorn": "sinkhorn_pot"}


def _model(start=None) -> FeaturizerHead:
    model = FeaturizerHead(*mlp(64, (256, 128), 10, seed=0))
    if start is not None:
        model.load_state_dict(start)
    return model


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _checksum(arrays) -> str:
    """The first 8 hex digits of the SHA-1 of the arrays' bytes: equal only for bit-identical results."""
    h = hashlib.sha1()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:8]


def epoch_seconds(split, method: str, epochs: int, start=None, clock: str = "wall") -> tuple[float, str]:
    """Seconds per epoch of one ``finetune`` run of ``epochs`` epochs (from weights ``start``), and the
    checksum of the trained weights.

    ``clock="cpu"``: this process's CPU time, which other processes' load barely moves (with one
    thread it equals the wall time of an idle machine); ``"wall"``: elapsed time.
    """
    model = _model(start)
    name, kwargs = SPECS[method]
    losses = None if name is None else [(method, make_alignment(name, 128, 10, seed=0, **kwargs), 1.0)]
    t = CLOCKS[clock]()
    res = finetune(model, split, losses, epochs=epochs, batch_size=128, device="cpu", seed=0)
    seconds = (CLOCKS[clock]() - t) / len(res.history)
    return seconds, _checksum(v.detach().numpy() for v in res.model.state_dict().values())


def fit_seconds(split, method: str, epochs: int, clock: str = "wall") -> tuple[float, str, float]:
    """Seconds of one ``DomainAdaptationClassifier(align=method, epochs=epochs, seed=0).fit``, the
    checksum of the fitted model's target logits and its target accuracy (evaluation only)."""
    from da import DomainAdaptationClassifier

    clf = DomainAdaptationClassifier(align=None if method == "source_only" else method, epochs=epochs, seed=0,
                                     device="cpu")
    Xs, ys, Xt = split.source_train.X, split.source_train.y, split.target_train.X
    t = CLOCKS[clock]()
    clf.fit(Xs, ys, Xt)
    seconds = CLOCKS[clock]() - t
    logits = clf.decision_function(Xt)
    return seconds, _checksum([logits]), float((logits.argmax(1) == split.eval_labels.train).mean())


def loss_seconds(split, method: str, repeats: int, start=None, clock: str = "wall") -> tuple[float, str]:
    """Seconds of one forward + backward of the loss ``method`` builds, on the features and logits of
    the first 128 source and 128 target rows (the 10th percentile over ``repeats`` calls), and the
    checksum of its value and input gradients."""
    model = _model(start)
    name, kwargs = SPECS[method]
    loss = make_alignment(name, 128, 10, seed=0, **kwargs)
    ys = torch.as_tensor(split.source_train.y[:128], dtype=torch.long)
    with torch.no_grad():
        fs, ft = (model.featurizer(torch.as_tensor(p.X[:128])) for p in (split.source_train, split.target_train))
        ls, lt = model.head(fs), model.head(ft)
    def call(leaves):
        value = loss(leaves[0], leaves[1], logits_s=leaves[2], logits_t=leaves[3], ys=ys, p=0.5)
        value.backward()
        return value

    times = []
    for _ in range(repeats):
        leaves = [x.clone().requires_grad_() for x in (fs, ft, ls, lt)]
        t = CLOCKS[clock]()
        call(leaves)
        times.append(CLOCKS[clock]() - t)
    # the checksum's call, untimed, from a fixed global RNG state (dropout draws from it), so that
    # it does not depend on how many calls came before in this process
    torch.manual_seed(0)
    leaves = [x.clone().requires_grad_() for x in (fs, ft, ls, lt)]
    value = call(leaves)
    grads = [x.grad.numpy() for x in leaves if x.grad is not None]
    return sorted(times)[len(times) // 10], _checksum([value.detach().numpy()] + grads)


def one_round(methods, *, whole_fit: bool, epochs: int, clock: str, start=None, split=None, warm=False,
              losses: int = 0) -> dict:
    """``{method: [seconds, checksum(, target accuracy)]}`` for one pass over ``methods``
    (``warm``: first one short untimed run of each, for lazy imports and first-call allocations)."""
    split = load_pair("mnist->digits").sample(seed=0) if split is None else split
    if losses:  # ``losses`` timed calls per method (e = 0: a warm-up of 20)
        run = lambda m, e: loss_seconds(split, m, losses if e else 20, start, clock)  # noqa: E731
    elif whole_fit:
        run = lambda m, e: fit_seconds(split, m, e, clock)  # noqa: E731
    else:
        run = lambda m, e: epoch_seconds(split, m, e, start, clock)  # noqa: E731
    if warm:
        for m in methods:
            run(m, 0 if losses else 1)
    return {m: list(run(m, epochs)) for m in methods}


_CHILD = """
import json, sys, torch
sys.path.insert(0, {bench!r})
torch.set_num_threads({threads})
import train_speed as T
start = None
if {pretrain}:
    split = T.load_pair("mnist->digits").sample(seed=0)
    model = T._model()
    T.finetune(model, split, None, epochs={pretrain}, batch_size=128, device="cpu", seed=0)
    start = model.state_dict()
out = T.one_round({methods!r}, whole_fit={whole_fit}, epochs={epochs}, clock={clock!r}, start=start, warm=True,
                  losses={losses})
print(json.dumps(out))
"""


def timed_rounds(args, methods) -> tuple[dict, dict]:
    """``{tree: {method: [best seconds, checksum, ...]}}``: ``args.rounds`` interleaved rounds, the
    minimum; and ``{tree: {method: [ratio to source-only in round r, ...]}}``, each ratio of two runs
    of the same round (seconds apart), which the machine's drift between rounds does not move."""
    best: dict = {}
    paired: dict = {}

    def keep(tree, res):
        for m, r in res.items():
            if m not in best.setdefault(tree, {}) or r[0] < best[tree][m][0]:
                best[tree][m] = r
            if "source_only" in res:
                paired.setdefault(tree, {}).setdefault(m, []).append(r[0] / res["source_only"][0])

    if not args.baseline:  # in this process, as every round before --baseline existed
        split = load_pair("mnist->digits").sample(seed=0)
        start = None
        if args.pretrain:  # features at a pretrained model's scale, as when fine-tuning (the quickstart)
            model = _model()
            finetune(model, split, None, epochs=args.pretrain, batch_size=128, device="cpu", seed=0)
            start = model.state_dict()
        for r in range(args.rounds):  # round 0 warms up first: lazy imports, first-call allocations
            keep("this tree", one_round(methods, whole_fit=args.whole_fit, epochs=args.epochs, clock=args.clock,
                                        start=start, split=split, warm=r == 0, losses=args.losses))
        return best, paired
    from _baseline import ROOT, export_revision, run_child

    trees = {"this tree": ROOT, f"da/ at {args.baseline}": export_revision(args.baseline)}
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent), threads=args.threads, pretrain=args.pretrain,
                         methods=list(methods), whole_fit=args.whole_fit, epochs=args.epochs, clock=args.clock,
                         losses=args.losses)
    for _ in range(args.rounds):  # alternate the trees so that both see the same load
        for tree, path in trees.items():
            keep(tree, run_child(code, path, args.threads))
    return best, paired


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="per timed run (default 1; 20 with --whole-fit)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall: elapsed time; cpu: this process's CPU time (robust to other load with --threads 1)")
    ap.add_argument("--pretrain", type=int, default=0,
                    help="epochs of source-only training before timing (0: fine-tune the random init)")
    ap.add_argument("--whole-fit", action="store_true",
                    help="time DomainAdaptationClassifier(align=m, epochs=20, seed=0).fit instead of epochs")
    ap.add_argument("--losses", type=int, default=0, metavar="CALLS",
                    help="time each loss's forward+backward alone instead (10th percentile of CALLS calls)")
    ap.add_argument("--baseline", metavar="REV", help="also time da/ at this git revision (fresh processes)")
    ap.add_argument("--methods", nargs="+", default=None,
                    help=f"from {list(SPECS)} (--whole-fit: {FIT_METHODS}); the *_paper variants are slow and "
                         "not in the default list")
    args = ap.parse_args(argv)
    methods = args.methods or (FIT_METHODS if args.whole_fit else METHODS)
    if args.losses:
        methods = [m for m in methods if SPECS.get(m, (None,))[0] is not None]
    bad = [m for m in methods if m not in (FIT_METHODS if args.whole_fit else SPECS)]
    if bad:
        ap.error(f"unknown method(s) {bad}")
    if args.whole_fit and (args.pretrain or args.losses):
        ap.error("--pretrain and --losses do not apply to --whole-fit (the estimator trains from its own init)")
    args.epochs = args.epochs or (20 if args.whole_fit else 1)
    torch.set_num_threads(args.threads)
    best, paired = timed_rounds(args, methods)
    print(f"{' '.join(sys.argv[1:] if argv is None else argv)}\n")
    if args.losses:
        init = f"after {args.pretrain} source-only epochs" if args.pretrain else "from the random init"
        print(f"One forward+backward of each loss on the MLP's features ({init}), 128 + 128 rows x 128, "
              f"{args.threads} threads, 10th percentile of {args.losses} calls, min over {args.rounds} rounds, "
              f"{args.clock} clock\n")
        print(format_table(best, "ms/call", scale=1e3))
        return
    if args.whole_fit:
        print(f"MNIST->digits, DomainAdaptationClassifier(align=m, epochs={args.epochs}, seed=0).fit, "
              f"{args.threads} threads, min over {args.rounds} rounds, {args.clock} clock\n")
    else:
        init = f"after {args.pretrain} source-only epochs" if args.pretrain else "from the random init"
        print(f"MNIST->digits, MLP 64-256-128-10 {init}, batch 128+128, {args.threads} threads, "
              f"{args.epochs} epoch(s) of 28 steps, min over {args.rounds} rounds, {args.clock} clock\n")
    print(format_table(best, "s/fit" if args.whole_fit else "s/epoch", paired=paired))


def format_table(best: dict, unit: str = "s/epoch", scale: float = 1.0, paired: dict | None = None) -> str:
    """Markdown rows: seconds (times ``scale``), the ratio to source-only, for a replacement the ratio
    to what it replaces, with a baseline its seconds and ratios and whether the results are
    bit-identical. ``paired`` (:func:`timed_rounds`): also the median and range over rounds of each
    round's own ratio to source-only, for this tree (and the baseline)."""
    if best and not isinstance(next(iter(best.values())), dict):  # {method: seconds}: one tree
        best = {"this tree": {m: [s] for m, s in best.items()}}
    trees = list(best)
    new = best[trees[0]]
    old = best[trees[1]] if len(trees) > 1 else None
    head = f"| method | {unit} | x source-only | x replaced |"
    rule = "|---|---:|---:|---:|"
    pairs = [(t, paired[t]) for t in trees[:2] if t in paired] if paired else []
    for t, _ in pairs:
        head += f" x source-only per round, median (range){'' if t == trees[0] else ' at baseline'} |"
        rule += "---:|"
    if old is not None:
        head += f" {trees[1]} {unit} | x source-only | this tree / baseline | same result |"
        rule += "---:|---:|---:|:---:|"
    if len(next(iter(new.values()))) > 2:
        head += " target acc (eval) |"
        rule += "---:|"
    lines = [head, rule]
    for m, row in new.items():
        s = row[0] * scale
        base = new.get("source_only", [None])[0]
        ref = REPLACES.get(m)
        line = f"| {m} | {s:.3f} | {s / (base * scale):.2f} |" if base else f"| {m} | {s:.3f} | - |"
        line += f" {s / (new[ref][0] * scale):.2f} ({ref}) |" if ref in new else " - |"
        for _, ratios in pairs:
            r = sorted(ratios.get(m, []))
            line += f" {float(np.median(r)):.2f} ({r[0]:.2f}-{r[-1]:.2f}) |" if r else " - |"
        if old is not None and m in old:
            o, obase = old[m][0] * scale, old.get("source_only", [None])[0]
            same = "yes" if len(row) > 1 and row[1] == old[m][1] else "no"
            line += f" {o:.3f} | {o / (obase * scale):.2f} | {s / o:.2f} | {same} |" if obase else \
                f" {o:.3f} | - | {s / o:.2f} | {same} |"
        if len(row) > 2:
            moved = old is not None and m in old and old[m][2] != row[2]
            line += f" {row[2]:.3f}" + (f" (baseline {old[m][2]:.3f})" if moved else "") + " |"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
