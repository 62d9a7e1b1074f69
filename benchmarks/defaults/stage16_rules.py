"""Stage 16 (issue #13): the literature's IM, BNM and ClassAMI, and ensembles of the candidates, re-applied.

The records are ``results/stage16.*.jsonl`` (config ``auto_pool8_scratch16``: source-only and the seven
shipped defaults as ``"scratch"`` candidates, each exactly ``DomainAdaptationClassifier(align=m)``'s fit, as in
stage 9, now also scored by ``im``, ``bnm`` and ``class_ami``) and the candidates' softmax outputs that
``stage16.sh run`` keeps in ``results/probs/CONFIG/`` (committed; ``stage16.sh run`` remakes them).
Config ``auto16`` is ``align="auto"`` as shipped (its five ``finetune`` candidates), with the same outputs.

Judging a rule reads the benchmark's target labels (ORACLE); the rules read held-out source labels and
unlabelled target rows only. Seeds 0-1 are searched, seed 2 is read only for the rules reported.

- a **criterion rule** picks one candidate (:func:`da.transfer.auto.choose`);
- an **ensemble rule** averages the softmax outputs of a label-free set of candidates: ``ens_all`` (all
  eight), ``ens_guard``
  (the candidates within the source guard tau of source-only's held-out source accuracy, source-only
  included), ``ens_aligned`` (the same without source-only), ``ens_top{k}:{criterion}`` (the k guarded
  candidates with the highest criterion);
- a **gate** ``gate:t`` keeps source-only's prediction on each target row where its largest softmax output is at
  least ``t``, and takes the ensemble of all eight elsewhere (printed after the table, not in it).

Usage: PYTHONPATH=. python benchmarks/defaults/stage16_rules.py [--search] [--write-docs]
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage9_rules import _cell, _name, rules_cli  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SEARCH_SEEDS, FRESH_SEEDS = (0, 1), (2,)
CRITERIA = ("im", "bnm", "class_ami", "ensv", "snd", "entropy", "dev", "iwcv", "source_val_loss", "source_val")
ENSEMBLE_CRITERIA = ("im", "bnm", "class_ami", "ensv", "snd", "entropy", "dev", "source_val_loss")
#: (rule, source guard) reported in docs/defaults.md
REPORTED = [("source_val", 0.02), ("im", 0.02), ("bnm", 0.02), ("class_ami", 0.02), ("entropy", 0.02),
            ("ens_all", None), ("ens_guard", 0.02), ("ens_guard", 0.0), ("ens_aligned", 0.02), ("ens_top3:im", 0.02),
            ("ens_top3:class_ami", 0.02), ("ens_top2:class_ami", None)]
#: per-row gates (printed, not in the docs table): source-only's prediction where its max softmax is >= t, the
#: ensemble of all eight elsewhere
GATES = (0.8, 0.9, 0.95, 0.99)
#: the same on the shipped auto's own candidates (source_val at 0.02 is ``align="auto"`` as shipped)
REPORTED_SHIPPED = [("source_val", 0.02), ("ens_all", None), ("ens_guard", 0.02), ("ens_aligned", 0.02)]


POOL, SHIPPED = "auto_pool8_scratch16", "auto16"


def load_rows(config=POOL, stage="stage16.", pool=POOL) -> list:
    """The records of ``config`` in ``results/STAGE*.jsonl``, each with its candidates' softmax outputs
    (``probs``) and ``oracle``: the target accuracy of the best shipped default on its pair and seed (the best
    candidate of ``pool``'s record there)."""
    rows = [json.loads(line) for f in sorted(RESULTS.glob(f"{stage}*.jsonl")) for line in open(f)]
    best = {(r["pair"], r["seed"]): max(r["candidate_target_acc"].values())
            for r in rows if r["config"] == pool and "auto" in r}
    rows = [r for r in rows if r["config"] == config and "auto" in r]  # digits_invert0.5: refused before a fit
    for r in rows:
        with np.load(RESULTS / "probs" / config / f"{r['pair']}_{r['seed']}.npz") as z:
            r["probs"] = {k: z[k].astype(np.float64) for k in z.files}
        r["oracle"] = best[(r["pair"], r["seed"])]
    return rows


def _members(r, rule, tol) -> list:
    """The candidates an ensemble rule averages (label-free: held-out source accuracy and target scores):
    ``ens_all``/``ens_guard``/``ens_aligned`` are :func:`da.transfer.ensemble.ensemble_members`'s sets."""
    from da.transfer.ensemble import ensemble_members

    cands = r["auto"]["candidates"]
    if rule in ("ens_all", "ens_guard", "ens_aligned"):
        return ensemble_members(cands, rule="ensemble_aligned" if rule == "ens_aligned" else "ensemble",
                                tolerance=None if rule == "ens_all" else tol)[0]
    # ens_top{k}:{criterion} is the library's top-k ensemble (align="auto", rule="ensemble_top{k}:{criterion}")
    return ensemble_members(cands, rule="ensemble_" + rule[len("ens_"):], tolerance=tol)[0]


def target_acc(r, rule, tol) -> tuple:
    """(target accuracy of the rule's output, what it chose)."""
    acc = r["candidate_target_acc"]
    if isinstance(rule, str) and rule.startswith("gate:"):  # per row: source-only where it is confident, else all 8
        t, p = float(rule[len("gate:"):]), r["probs"]
        ens = np.mean([p[f"{n}@te"] for n in _members(r, "ens_all", None)], axis=0)
        pred = np.where(p["source_only@te"].max(1) >= t, p["source_only@te"].argmax(1), ens.argmax(1))
        return float((pred == p["ye"]).mean()), f"gate {t}"
    if isinstance(rule, str) and rule.startswith("ens_"):
        names = _members(r, rule, tol)
        p = np.mean([r["probs"][f"{n}@te"] for n in names], axis=0)
        return float((p.argmax(1) == r["probs"]["ye"]).mean()), "+".join(names)
    from da.transfer.auto import choose

    name, _ = choose(r["auto"]["candidates"], rule=rule, tolerance=tol)
    return acc[name], name


def evaluate(rows, rule, tol, seeds) -> dict:
    """Mean gain over source-only, harms (< -0.01), worst gain and mean gap to the best candidate (ORACLE)."""
    gain, gap = [], []
    for r in rows:
        if r["seed"] not in seeds:
            continue
        a, _ = target_acc(r, rule, tol)
        acc = r["candidate_target_acc"]
        gain.append(a - acc["source_only"])
        gap.append(a - r["oracle"])
    g = np.array(gain)
    return {"n": len(g), "gain": g.mean(), "harms": int((g < -0.01).sum()), "worst": g.min(), "gap": np.mean(gap)}


def search(rows) -> list:
    rules = (list(CRITERIA) + list(itertools.combinations(CRITERIA, 2)) + ["ens_all", "ens_guard", "ens_aligned"]
             + [f"ens_top{k}:{c}" for k in (2, 3, 4) for c in ENSEMBLE_CRITERIA])
    out = [(rule, tol, evaluate(rows, rule, tol, SEARCH_SEEDS)) for rule in rules for tol in (0.02, 0.0, None)]
    return sorted(out, key=lambda x: (x[2]["harms"], -x[2]["gain"]))


def md_table(pool, shipped) -> str:
    """The table of docs/defaults.md: the reported rules on the pool's and on the shipped auto's candidates."""
    lines = ["| candidates | rule | source guard | seeds 0-1 (searched): gain / harms / worst / gap to ORACLE | "
             "seed 2 (fresh): gain / harms / worst / gap to ORACLE |", "|---|---|---|---|---|"]
    for label, rows, reported in (("8, scratch", pool, REPORTED), ("shipped (5, finetune)", shipped, REPORTED_SHIPPED)):
        for rule, tol in reported:
            cells = " | ".join(_cell(evaluate(rows, rule, tol, seeds)) for seeds in (SEARCH_SEEDS, FRESH_SEEDS))
            lines.append(f"| {label} | {_name(rule)} | {'none' if tol is None else tol} | {cells} |")
    oracle = [np.mean([r["oracle"] - r["candidate_target_acc"]["source_only"]
                       for r in pool if r["seed"] in seeds]) for seeds in (SEARCH_SEEDS, FRESH_SEEDS)]
    lines.append("| -- | ORACLE: the best default per pair | -- | "
                 + " | ".join(f"mean gain {g:+.3f}" for g in oracle) + " |")
    return "\n".join(lines)


def harms(rows, rule, tol) -> list:
    """The pair-seeds where ``rule`` ends more than 0.01 below source-only: (pair, seed, gain, chosen)."""
    out = []
    for r in rows:
        a, what = target_acc(r, rule, tol)
        g = a - r["candidate_target_acc"]["source_only"]
        if g < -0.01:
            out.append((r["pair"], r["seed"], round(g, 3), what))
    return out


def write_docs(path="docs/defaults.md"):
    """Replace only the STAGE16_TABLE block of ``path``."""
    from auto_tables import replace_block

    replace_block(path, "STAGE16_TABLE", md_table(load_rows(), load_rows(SHIPPED)))


if __name__ == "__main__":
    rows = rules_cli("STAGE16_TABLE", write_docs, load_rows, search, 20)
    shipped = load_rows(SHIPPED)
    print(md_table(rows, shipped))
    for label, rs, reported in (("pool", rows, REPORTED), ("shipped", shipped, REPORTED_SHIPPED)):
        for rule, tol in reported:
            if isinstance(rule, str) and rule.startswith("ens_"):
                print(label, _name(rule), tol, "harms:", harms(rs, rule, tol))
    for t in GATES:
        print(f"gate {t}: seeds 0-1 {_cell(evaluate(rows, f'gate:{t}', None, SEARCH_SEEDS))}; "
              f"seed 2 {_cell(evaluate(rows, f'gate:{t}', None, FRESH_SEEDS))}")
