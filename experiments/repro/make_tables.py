"""Markdown tables of the reproductions, read from their result records only (nothing is re-run).

Usage: ``python experiments/repro/make_tables.py [--collect RUNS [--results NAME]]`` prints the
tables pasted into ``docs/reproductions.md``. ``--collect runs/mnist_digits`` first reads the run
directories of ``da sweep experiments/repro/mnist_digits.yaml`` (``result.json`` and the epoch
records of ``metrics.jsonl``) into the compact record ``results/mnist_digits/results.json``;
``--collect runs/mnist_digits_cnn --results mnist_digits_cnn`` does the same for the CNN sweep
(``experiments/repro/mnist_digits_cnn.yaml``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
#: criteria every epoch of the MNIST <-> digits sweep scores (its ``train.record_criteria``)
RECORDED = ("source_val", "iwcv", "dev", "entropy", "snd", "oracle")


def _variant(method: str, optimizer: str) -> str:
    """The table's name of a sweep point: the method, and the optimizer where it is the ablation's."""
    if method == "source_only" and optimizer == "sgd":
        return "source_only_sgd"
    if method in ("dann", "cdan") and optimizer != "sgd":
        return f"{method}_adam"
    return {"jdot": "deepjdot"}.get(method, method)


def _mnist_digits_row(result: dict, history: list) -> dict:
    from da.transfer import select_from_history

    cfg, m, train = result["config"], result["metrics"], result["config"]["train"]
    last = history[-1]
    return {"pair": cfg["data"]["pair"], "method": _variant(cfg["method"], train["optimizer"]),
            "seed": cfg["seed"], "target_test_acc": m["target_test_acc"],
            "target_test_macro_f1": m["target_test_f1"], "target_test_ece": m["target_test_ece"],
            "target_val_acc": m["target_val_acc"], "source_val_acc": m["source_val_acc"],
            "best_epoch": m["best_epoch"], "selection": result["selection"], "oracle": result["oracle"],
            "losses": result["losses"], "optimizer": train["optimizer"], "lr": train["lr"],
            "momentum": train["momentum"] if train["optimizer"] == "sgd" else None,
            "disc_acc_last_epoch": next((v for k, v in last.items() if k.endswith("/disc_acc")), None),
            "seconds": m["seconds"], "run_id": result["run_id"],
            "torch_threads": result["runtime"]["torch_threads"],
            # target test accuracy at the epoch each criterion would select (the "oracle" entry
            # reads target validation labels), and the score it gives that epoch
            "target_test_acc_by_criterion": {c: select_from_history(history, c)["target_test_acc"]
                                             for c in RECORDED},
            "score_by_criterion": {c: select_from_history(history, c)[f"selection/{c}"] for c in RECORDED},
            "final_epoch_target_test_acc": last["target_test_acc"]}


def collect_mnist_digits(root, out=None, name: str = "mnist_digits") -> dict:
    """The compact record of the MNIST <-> digits sweep ``experiments/repro/<name>.yaml`` under
    ``root``, written to ``out`` (default ``results/<name>/results.json``)."""
    out = RESULTS / name / "results.json" if out is None else out
    from da._io import atomic_write_json
    from da._runs import METRICS, find_run_dirs, read_jsonl, read_result

    rows, cfg = [], None
    for run_dir in find_run_dirs(root):
        result = read_result(run_dir)
        if result is None:
            raise FileNotFoundError(None, None, f"{run_dir} has no completed result.json")
        history = [r for r in read_jsonl(run_dir / METRICS) if r.get("stage") == "finetune"]
        rows.append(_mnist_digits_row(result, history))
        cfg = result["config"]
    if not rows:
        raise FileNotFoundError(None, None, f"no runs under {root}")
    order = ["source_only", "source_only_sgd", "mmd", "dann", "cdan", "deepjdot", "coral", "target_only",
             "dann_adam", "cdan_adam"]
    rows.sort(key=lambda r: (r["pair"] != "mnist->digits", r["seed"], order.index(r["method"])))
    record = {"experiment": name, "config": f"experiments/repro/{name}.yaml",
              "epochs": cfg["train"]["epochs"], "seeds": len({r["seed"] for r in rows}),
              "selection": cfg["train"]["selection"], "runs": rows, "summary": summarise(rows)}
    atomic_write_json(out, record)
    return record


def summarise(rows) -> dict:
    """pair -> variant -> mean, population std and count of the target test accuracy."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["pair"], {}).setdefault(r["method"], []).append(r["target_test_acc"])
    return {p: {m: {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)} for m, v in d.items()}
            for p, d in out.items()}


def _pm(values, digits=3) -> str:
    v = [x for x in values if x is not None]
    if not v:
        return "—"
    return f"{np.mean(v):.{digits}f} ± {np.std(v):.{digits}f}"


def moons_table() -> str:
    d = json.loads((RESULTS / "dann_moons" / "results.json").read_text())
    paper = {"no_adaptation": "≈ 0.82", "dann": "≈ 0.94"}
    seeds = d["seeds"]
    first = [s for s in seeds if s < 5]
    sources = [("da.transfer.finetune", d["runs"]),
               ("numpy reference, authors' draws", d.get("reference_runs", [])),
               ("numpy reference, our trainer's draws", d.get("reference_on_our_draws_runs", []))]
    rows = [f"| method | run by | target acc., seeds 0–{max(first)} | target acc., {len(seeds)} seeds | "
            f"2000 fresh target points, {len(seeds)} seeds | source acc., {len(seeds)} seeds | quoted |", "|---|---|---|---|---|---|---|"]
    for m in ("no_adaptation", "dann"):
        for who, runs in sources:
            r = [x for x in runs if x["method"] == m]
            if not r:
                continue
            rows.append(f"| {m} | {who} | {_pm([x['target_acc_train_points'] for x in r if x['seed'] < 5])} | "
                        f"{_pm([x['target_acc_train_points'] for x in r])} | "
                        f"{_pm([x['target_acc_fresh_points'] for x in r])} | {_pm([x['source_acc'] for x in r])} | "
                        f"{paper[m]} |")
    return (f"Seeds {seeds[0]}–{seeds[-1]}, {d['epochs']} epochs of sample-wise SGD ({d['sampling']}), "
            f"selection: {d['selection']}; target accuracy on the 150 target training points unless said.\n\n"
            + "\n".join(rows))


def _optimizer_label(run) -> str:
    if run.get("optimizer") == "sgd":
        return f"SGD lr {run['lr']:g}" + (f", momentum {run['momentum']:g}" if run.get("momentum") else "")
    return f"Adam lr {run.get('lr', 1e-3):g}"


def _mnist_digits_record(d=None, name: str = "mnist_digits") -> dict:
    return d if d is not None else json.loads((RESULTS / name / "results.json").read_text())


def mnist_digits_table(d=None) -> str:
    d = _mnist_digits_record(d)
    runs = d["runs"]
    pairs = list(dict.fromkeys(x["pair"] for x in runs))
    order = ["source_only", "source_only_sgd", "mmd", "dann", "cdan", "deepjdot", "coral", "target_only",
             "dann_adam", "cdan_adam"]
    methods = [m for m in order if any(x["method"] == m for x in runs)]

    def acc(p, m):
        return [x["target_test_acc"] for x in runs if x["pair"] == p and x["method"] == m]

    rows = ["| method | optimizer | " + " | ".join(pairs) + " |", "|---|---|" + "---|" * len(pairs)]
    for m in methods:
        first = next(x for x in runs if x["method"] == m)
        opt = _optimizer_label(first)
        # each method against the source-only run with the same optimizer
        base_m = "source_only_sgd" if first.get("optimizer") == "sgd" else "source_only"
        cells = []
        for p in pairs:
            r = acc(p, m)
            base = acc(p, base_m)
            delta = "" if m.startswith("source_only") or m == "target_only" or not base \
                else f" ({np.mean(r) - np.mean(base):+.3f})"
            cells.append(_pm(r) + delta)
        name = m + (" (oracle)" if m == "target_only" else "")
        rows.append(f"| {name} | {opt} | " + " | ".join(cells) + " |")
    return (f"{d['seeds']} seeds, {d['epochs']} epochs, target **test** accuracy, mean ± std (in brackets: "
            f"difference to the source-only run with the same optimizer); selection criterion: "
            f"`{d['selection']}`.\n\n" + "\n".join(rows))


def criteria_table(d=None) -> str:
    d = _mnist_digits_record(d)
    runs = [r for r in d["runs"] if "target_test_acc_by_criterion" in r and r["method"] != "target_only"]
    if not runs:
        raise FileNotFoundError(None, None, "mnist_digits results without per-criterion records")
    crits = [c for c in RECORDED if c in runs[0]["target_test_acc_by_criterion"]]
    out = []
    for pair in dict.fromkeys(r["pair"] for r in runs):
        rows = [f"**{pair}**\n", "| method | " + " | ".join(
            c + (" (oracle)" if c == "oracle" else "") for c in crits) + " | last epoch |",
                "|---|" + "---|" * (len(crits) + 1)]
        for m in dict.fromkeys(r["method"] for r in runs):
            rr = [r for r in runs if r["pair"] == pair and r["method"] == m]
            cells = [_pm([r["target_test_acc_by_criterion"][c] for r in rr]) for c in crits]
            cells.append(_pm([r["final_epoch_target_test_acc"] for r in rr]))
            rows.append(f"| {m} | " + " | ".join(cells) + " |")
        out.append("\n".join(rows))
    return ("Target test accuracy at the epoch each criterion selects (re-selected from the records "
            "of the runs above; mean ± std over seeds).\n\n" + "\n\n".join(out))


def architecture_table(mlp=None, cnn=None) -> str:
    """The MLP and the CNN records side by side, and the architecture chosen per pair, method and
    seed by the held-out **source** validation accuracy of the selected epoch (label-free; a tie
    keeps the MLP)."""
    mlp, cnn = _mnist_digits_record(mlp), _mnist_digits_record(cnn, "mnist_digits_cnn")
    key = lambda r: (r["pair"], r["method"], r["seed"])  # noqa: E731
    by_cnn = {key(r): r for r in cnn["runs"]}
    rows = ["| pair | method | MLP | CNN | chosen by source val. acc. | seeds on the CNN |",
            "|---|---|---|---|---|---|"]
    for pair in dict.fromkeys(r["pair"] for r in mlp["runs"]):
        for m in dict.fromkeys(r["method"] for r in cnn["runs"]):
            both = [(r, by_cnn[key(r)]) for r in mlp["runs"]
                    if r["pair"] == pair and r["method"] == m and key(r) in by_cnn]
            if not both:
                continue
            picks = [c if c["source_val_acc"] > a["source_val_acc"] else a for a, c in both]
            name = m + (" (oracle)" if m == "target_only" else "")
            rows.append(f"| {pair} | {name} | {_pm([a['target_test_acc'] for a, _ in both])} | "
                        f"{_pm([c['target_test_acc'] for _, c in both])} | "
                        f"{_pm([p['target_test_acc'] for p in picks])} | "
                        f"{sum(p is c for p, (_, c) in zip(picks, both))}/{len(both)} |")
    return ("Target test accuracy, mean ± std over seeds: the MLP record, the CNN record, and per seed "
            "the architecture with the higher held-out source validation accuracy (no target label "
            "read).\n\n" + "\n".join(rows))


def transfer_table() -> str:
    d = json.loads((RESULTS / "transfer_vs_scratch" / "results.json").read_text())
    labels = []
    for r in d["runs"]:
        if r["labels"] not in labels:
            labels.append(r["labels"])
    rows = ["| labelled target | optimizer | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    methods = list(dict.fromkeys(r["method"] for r in d["runs"]))
    for m in methods:
        opts = {r.get("optimizer") for r in d["runs"] if r["method"] == m} - {None}
        opt = {"sgd": "SGD lr 0.1", "adam": "Adam lr 1e-3"}.get(opts.pop(), "") if len(opts) == 1 else ""
        cells = [_pm([x["target_test_acc"] for x in d["runs"] if x["method"] == m and x["labels"] == lab])
                 for lab in labels]
        rows.append(f"| {m} | {opt} | " + " | ".join(cells) + " |")
    return (f"mnist->mnist_m, {d['seeds']} seeds, {d['steps']} steps per run, selection: "
            f"`{d['selection']}`; target test accuracy, mean ± std.\n\n" + "\n".join(rows))


def optimizer_selection_table(d=None) -> str:
    """Choosing the adversarial methods' optimizer (Adam or SGD) per run with a selection criterion.

    For each pair, seed and criterion, the DANN (CDAN) run under SGD and the one under Adam are
    compared by the score the criterion gives its own selected epoch; the chosen run's target
    test accuracy at that epoch is reported, with how often SGD was chosen.
    """
    d = _mnist_digits_record(d)
    runs = [r for r in d["runs"] if "score_by_criterion" in r]
    if not runs:
        raise FileNotFoundError(None, None, "mnist_digits results without score_by_criterion")
    crits = [c for c in ("source_val", "iwcv", "dev", "entropy", "oracle") if c in runs[0]["score_by_criterion"]]
    rows = ["| pair | method | " + " | ".join(c + (" (oracle)" if c == "oracle" else "") for c in crits) + " |",
            "|---|---|" + "---|" * len(crits)]
    for pair in dict.fromkeys(r["pair"] for r in runs):
        base = [r for r in d["runs"] if r["pair"] == pair and r["method"] == "source_only"]
        rows.append(f"| {pair} | source-only (Adam) | " + " | ".join(
            _pm([r["target_test_acc_by_criterion"][c] for r in base]) for c in crits) + " |")
        for m in ("dann", "cdan"):
            cells = []
            for c in crits:
                accs, n_sgd = [], 0
                for seed in sorted({r["seed"] for r in runs if r["pair"] == pair}):
                    pick = {}
                    for name in (m, m + "_adam"):
                        pick[name] = next(r for r in runs if (r["pair"], r["method"], r["seed"]) == (pair, name, seed))
                    best = max(pick.values(), key=lambda r: r["score_by_criterion"][c])
                    n_sgd += best["optimizer"] == "sgd"
                    accs.append(best["target_test_acc_by_criterion"][c])
                cells.append(f"{_pm(accs)} (SGD {n_sgd}/{len(accs)})")
            rows.append(f"| {pair} | {m.upper()} | " + " | ".join(cells) + " |")
    return ("Target test accuracy when the criterion also chooses the optimizer of DANN / CDAN per run "
            "(the SGD or the Adam run, by the score of its selected epoch); mean ± std over seeds, "
            "and how many seeds chose SGD.\n\n" + "\n".join(rows))


def method_selection_table(d=None, name: str = "mnist_digits_cnn") -> str:
    """Choosing the method per pair and seed with a criterion, label-free (but the oracle column).

    Every run but ``target_only`` is a candidate (source-only included); the criterion picks the
    run whose own selected epoch it scores highest (ties: the earlier method in the table's
    order, source-only first), and the table gives that run's target test accuracy at that epoch
    and what was picked.
    """
    d = _mnist_digits_record(d, name)
    runs = [r for r in d["runs"] if "score_by_criterion" in r and r["method"] != "target_only"]
    if not runs:
        raise FileNotFoundError(None, None, f"{name} results without score_by_criterion")
    crits = [c for c in RECORDED if c in runs[0]["score_by_criterion"]]
    rows = ["| pair | " + " | ".join(c + (" (oracle)" if c == "oracle" else "") for c in crits) + " |",
            "|---|" + "---|" * len(crits)]
    for pair in dict.fromkeys(r["pair"] for r in runs):
        cells = []
        for c in crits:
            accs, picks = [], []
            for seed in sorted({r["seed"] for r in runs if r["pair"] == pair}):
                cands = [r for r in runs if (r["pair"], r["seed"]) == (pair, seed)]
                best = max(cands, key=lambda r: r["score_by_criterion"][c])  # the first of the highest
                accs.append(best["target_test_acc_by_criterion"][c])
                picks.append(best["method"])
            cells.append(f"{_pm(accs)} ({', '.join(picks)})")
        rows.append(f"| {pair} | " + " | ".join(cells) + " |")
    return ("Target test accuracy when a criterion chooses the method too (per seed, among all the runs "
            "but target-only, by the score of each run's epoch that the criterion selects); mean ± std "
            "over seeds, and the method picked on each seed.\n\n" + "\n".join(rows))


def dann_optimizer_table() -> str:
    import sys

    sys.path.insert(0, str(RESULTS.parent))
    from dann_optimizer import table

    d = json.loads((RESULTS / "dann_optimizer" / "results.json").read_text())
    return (f"{d['seeds']} seeds, {d['epochs']} epochs, selection `{d['selection']}`; mean ± std; "
            "diagnostics on the held-out test features of the selected model.\n\n" + table(d["runs"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collect", type=Path, metavar="RUNS",
                    help="first collect the MNIST <-> digits sweep's run directories under RUNS")
    ap.add_argument("--results", default="mnist_digits", choices=("mnist_digits", "mnist_digits_cnn"),
                    help="which MNIST <-> digits sweep --collect reads (its config's name)")
    args = ap.parse_args(argv)
    if args.collect is not None:
        collect_mnist_digits(args.collect, name=args.results)
    for title, fn in (("DANN moons", moons_table), ("MNIST <-> digits", mnist_digits_table),
                      ("MNIST <-> digits with the CNN",
                       lambda: mnist_digits_table(_mnist_digits_record(name="mnist_digits_cnn"))),
                      ("MLP or CNN, chosen by source validation accuracy", architecture_table),
                      ("The CNN's method chosen by a criterion", method_selection_table),
                      ("DANN under Adam and SGD", dann_optimizer_table),
                      ("Choosing the optimizer with a criterion", optimizer_selection_table),
                      ("Selection criteria on MNIST <-> digits", criteria_table),
                      ("Transfer vs scratch", transfer_table)):
        try:
            print(f"### {title}\n\n{fn()}\n")
        except FileNotFoundError as exc:
            print(f"### {title}\n\n(no results yet: {exc.filename})\n")


if __name__ == "__main__":
    main()
