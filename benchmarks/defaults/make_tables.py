"""Markdown tables for docs/defaults.md and docs/benchmarks.md, read from results/*.jsonl (no training).

Usage: PYTHONPATH=. python benchmarks/defaults/make_tables.py
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summarize import RESULTS, TIE, load, per_pair, table  # noqa: E402

SHIPPED = ["mmd_default", "dann_default", "cdan_default", "jdot_default", "coral_default", "sinkhorn_default",
           "swd_default"]
OLD = ["mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd"]
#: the stage-1/2 configuration each shipped default is (same estimator arguments; checked bit-identical on
#: gauss3_rot60 seed 0 for mmd, coral and jdot): their seed-0 runs are the shipped defaults' seed-0 runs.
#: ("sinkhorn" and "swd_w10" ran at revision 2, whose Sinkhorn/SWD losses are the revision-3 ones.)
ALIAS = {"mmd_default": "mmd_lap9_w10", "dann_default": "dann_sgd_lr0.1_w1", "cdan_default": "cdan_sgd_lr0.1_w1",
         "jdot_default": "jdot_scaled_a0.03_l0.1", "coral_default": "coral_w100",
         "sinkhorn_default": "sinkhorn", "swd_default": "swd"}


#: revision 4 (stage 4, issue #13): the shipped default whose records are a stage-4 configuration's
#: (checked bit-identical on moons_rot35 and digits_blur1, seed 0); the others are revision 3's
ALIAS4 = {"sinkhorn_default": "sinkhorn_w0.1_reg0.2"}


def revision4(rows):
    """``rows`` (revision-3 defaults, aliases applied) with each :data:`ALIAS4` default's rows replaced by
    its stage-4 configuration's."""
    kept = [r for r in rows if r["config"] not in ALIAS4]
    return kept + [{**r, "config": new} for new, old in ALIAS4.items() for r in rows if r["config"] == old]


#: the defaults of revision 5 whose records are a later stage's configuration: revision 4's Sinkhorn
#: (stage 4, seeds 0-1; seed 2 ran as ``sinkhorn_default`` at revision 4) and revision 5's CORAL (stage 5,
#: seeds 0-2; checked bit-identical with ``align="coral"`` on digits_blur1 and moons_rot35, seed 0)
ALIAS_REV5 = {"sinkhorn_default": "sinkhorn_w0.1_reg0.2", "coral_default": "coral_w30000"}
#: the defaults revision 6 shipped: as revision 5, with stage 6's MMD, CORAL, DANN, CDAN and SWD whose epoch is
#: the lowest held-out source cross-entropy's (``*_sel_svce``, seeds 0-2; checked bit-identical with
#: ``align=name`` on digits_blur1 and moons_rot35, seed 0)
ALIAS_REV6 = {**ALIAS_REV5, "mmd_default": "mmd_sel_svce", "coral_default": "coral_sel_svce",
              "dann_default": "dann_sel_svce", "cdan_default": "cdan_drop0.5_sel_svce", "swd_default": "swd_sel_svce"}
#: revision 7: as revision 6, with CDAN's records those of ``stage7.sh shipped`` (``cdan_default`` at revision 7,
#: renamed ``cdan_rev7`` by :func:`stage7_rows`; the epoch of ``source_val_drift``)
ALIAS_REV7 = {**ALIAS_REV6, "cdan_default": "cdan_rev7"}
#: revision 8: as revision 7, with stage 8's Sinkhorn (its divergence divided by the mean squared feature distance,
#: in the graph; ``results/stage8.*.jsonl``, seeds 0-2; checked bit-identical with ``align="sinkhorn"`` on
#: moons_rot35 and digits_blur1, seed 0: ``results/rev8check.0.jsonl``, whose JDOT runs are the withdrawn
#: ``jdot_sg_a1``'s)
ALIAS_REV8 = {**ALIAS_REV7, "sinkhorn_default": "sinkhorn_fsg_w1"}
#: revision 9: as revision 8, with stage 10's DANN and CDAN (their SGD recipes' gradient norm clipped at 100;
#: ``results/stage10.*.jsonl``, seeds 0-2; the same target accuracy as revision 8 on every run but the one that
#: diverged there, ``stage10_compare.py``; checked bit-identical with ``align="dann"``/``"cdan"`` on
#: digits_invert1 and moons_rot35, seed 1: ``results/rev9check.0.jsonl``)
ALIAS_NOW = {**ALIAS_REV8, "dann_default": "dann_clip100", "cdan_default": "cdan_clip100"}


def stage7_rows(stage: str = "stage7") -> list:
    """The revision-7 CDAN records of ``results/STAGE.*.jsonl`` (``stage7``: short, ``cdan7long``: long), renamed
    ``cdan_rev7`` so that they do not mix with the ``cdan_default`` records of earlier revisions."""
    return [{**r, "config": "cdan_rev7"} for r in load(stage)]


def current(rows, aliases=None):
    """``rows`` (aliases applied) with each ``aliases`` default's rows (default :data:`ALIAS_NOW`) replaced by
    its stage configuration's wherever that configuration ran the same pair and seed: the defaults as the
    revision ships them (``aliases=ALIAS_REV5`` or ``ALIAS_REV6``: as that revision shipped them)."""
    aliases = ALIAS_NOW if aliases is None else aliases
    have = defaultdict(set)
    for r in rows:
        have[r["config"]].add((r["pair"], r["seed"]))
    drop = {(new, p, s) for new, old in aliases.items() for p, s in have[old]}
    kept = [r for r in rows if (r["config"], r["pair"], r["seed"]) not in drop]
    return kept + [{**r, "config": new} for new, old in aliases.items() for r in rows if r["config"] == old]


def short_rows_now() -> list:
    """The short regime's records of every stage up to revision 9, with the defaults as revision 9 ships them
    (:data:`ALIAS_NOW`): the rows later stages' tables compare their candidates against."""
    rows_to6 = with_aliases(load("stage1", "stage2", "final", "swdcheck", "auto", "stage4", "seed2", "stage5",
                                 "stage6"))
    return current(rows_to6 + stage7_rows() + load("stage8.") + load("stage10."))


def with_aliases(rows):
    have = {(r["config"], r["pair"], r["seed"]) for r in rows}
    extra = [{**r, "config": new} for new, old in ALIAS.items() for r in rows
             if r["config"] == old and (new, r["pair"], r["seed"]) not in have]
    return rows + extra


def md_wth(rows, configs, title):
    t = {r["config"]: r for r in table(rows, configs)}
    out = [f"**{title}**", "", "| config | pairs | mean target acc. | mean gain vs source-only | win | tie | harm | "
           "worst pair |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in configs:
        if c in t:
            r = t[c]
            out.append(f"| {c} | {r['n_pairs']} | {r['acc']:.3f} | {r['gain']:+.3f} | {r['win']} | {r['tie']} | "
                       f"{r['harm']} | {r['worst']:+.3f} |")
    return "\n".join(out)


def md_seeds(rows, configs, seeds=(0, 1, 2)):
    """Per config: the mean gain over source-only on each seed (win/tie/harm, worst pair), and over all the
    (pair, seed) runs; a config missing some pair on a seed gets no cell for that seed."""
    per = {s: {r["config"]: r for r in table([x for x in rows if x["seed"] == s], configs)} for s in seeds}
    d = per_pair(rows)
    out = ["| config | " + " | ".join(f"seed {s}: gain (win/tie/harm, worst)" for s in seeds) +
           " | all seeds: mean gain | harms | worst |", "|---|" + "---:|" * (len(seeds) + 3)]
    for c in configs:
        cells, gains = [], []
        for s in seeds:
            r = per[s].get(c)
            if r is None or r["n_pairs"] < max(t["n_pairs"] for t in per[s].values()):
                cells.append("—")
                continue
            cells.append(f"{r['gain']:+.3f} ({r['win']}/{r['tie']}/{r['harm']}, {r['worst']:+.2f})")
            gains += [d[(c, p)][s] - d[("source_only", p)][s] for (cc, p) in d if cc == c and s in d[(c, p)]]
        g = np.array(gains) if gains else np.array([np.nan])
        out.append(f"| {c} | " + " | ".join(cells) + f" | {np.nanmean(g):+.3f} | {int((g < -TIE).sum())} | "
                   f"{np.nanmin(g):+.2f} |")
    return "\n".join(out)


def md_auto(rows):
    """Per pair: auto vs source-only vs the oracle choice among the default methods (ORACLE: target labels)."""
    from da.transfer.auto import choose

    auto = []
    for r in rows:
        if r["config"] == "auto":  # the shipped rule re-applied to the recorded scores (a pure function of them)
            name, _ = choose(r["auto"]["candidates"])
            auto.append({**r, "target_acc": r["candidate_target_acc"][name], "auto": {**r["auto"], "chosen": name}})
    d = per_pair(rows)
    by = defaultdict(list)
    for r in auto:
        by[r["pair"]].append(r)
    out = ["| pair | seeds | source-only | auto | auto - source-only | best default method (oracle) | "
           "auto - oracle | chosen |", "|---|---:|---:|---:|---:|---|---:|---|"]
    tot = defaultdict(list)
    for p in sorted(by):
        rs = by[p]
        seeds = [r["seed"] for r in rs]
        so = np.mean([d[("source_only", p)][s] for s in seeds if s in d.get(("source_only", p), {})] or [np.nan])
        au = np.mean([r["target_acc"] for r in rs])
        # oracle: the shipped default method with the best mean target accuracy on this pair (same seeds)
        best, best_acc = None, -1
        for c in ["source_only"] + SHIPPED:
            a = d.get((c, p), {})
            if all(s in a for s in seeds):
                m = np.mean([a[s] for s in seeds])
                if m > best_acc:
                    best, best_acc = c, m
        chosen = ",".join(sorted({r["auto"]["chosen"] for r in rs}))
        out.append(f"| {p} | {len(rs)} | {so:.3f} | {au:.3f} | {au - so:+.3f} | {best} {best_acc:.3f} | "
                   f"{au - best_acc:+.3f} | {chosen} |")
        tot["gain"].append(au - so)
        tot["gap"].append(au - best_acc)
        tot["sec"] += [r["seconds"] for r in rs]
        tot["cand"] += [max(r["candidate_target_acc"].values()) - r["target_acc"] for r in rs]
    if tot["gain"]:
        g, gap = np.array(tot["gain"]), np.array(tot["gap"])
        out.append(f"| **mean** | | | | {g.mean():+.3f} (worst {g.min():+.3f}) | | {gap.mean():+.3f} | |")
        out.append("")
        out.append(f"Runs below source-only by more than 0.01: {int((g < -0.01).sum())} of {len(g)}. Mean gap to the "
                   f"best of auto's own candidates (oracle): {-np.mean(tot['cand']):+.3f}. Cost: "
                   f"{np.mean(tot['sec']):.0f} s per auto fit on average under load, against the one-method runs "
                   f"of the same pairs in the stage files.")
    return "\n".join(out)


#: our methods with no counterpart among skada's (revision 10's infomax: stage 17; revision 11's infomax_coral:
#: stage 18), in the side by side's table and its "best ours" column (SHIPPED stays revision 9's seven, the oracle
#: of the earlier stages' tables)
OURS_ONLY = ["infomax_default", "infomax_coral_default"]


def md_skada(rows):
    d = per_pair(rows)
    pairs = sorted({p for (c, p) in d if c.startswith("skada_")})
    ours = {"SourceOnly": "source_only", "DAN": "mmd_default", "DANN": "dann_default",
            "DeepCoral": "coral_default", "DeepJDOT": "jdot_default"}
    cols = []
    for k, v in ours.items():
        cols += [f"skada_{k}", v]
    cols += [c for c in OURS_ONLY if any(cc == c for (cc, _) in d)]  # ours, with no skada counterpart
    out = ["| pair | " + " | ".join(c.replace("_default", " (ours)").replace("skada_", "skada ")
                                    for c in cols) + " | best skada | best ours |",
           "|---|" + "---:|" * (len(cols) + 2)]
    means = defaultdict(list)
    for p in pairs:
        seeds = sorted(d.get(("skada_SourceOnly", p), {}))
        cells, bs, bo = [], -1, -1
        for c in cols:
            a = d.get((c, p), {})
            common = [s for s in seeds if s in a]
            m = np.mean([a[s] for s in common]) if common else np.nan
            cells.append(f"{m:.3f}" if common else "—")
            means[c].append(m)
            if c.startswith("skada_"):
                bs = max(bs, m)
        for c in ["source_only"] + SHIPPED + OURS_ONLY + ["auto"]:
            a = d.get((c, p), {})
            if seeds and all(s in a for s in seeds):
                bo = max(bo, np.mean([a[s] for s in seeds]))
        means["best skada"].append(bs)
        means["best ours"].append(bo)
        out.append(f"| {p} | " + " | ".join(cells) + f" | {bs:.3f} | {bo:.3f} |")
    out.append("| **mean** | " + " | ".join(f"{np.nanmean(means[c]):.3f}" for c in cols) +
               f" | {np.nanmean(means['best skada']):.3f} | {np.nanmean(means['best ours']):.3f} |")
    return "\n".join(out)


RULES = ["source_val", "iwcv", "dev", "entropy", "snd", ("iwcv", "dev"), ("iwcv", "entropy"),
         ("dev", "entropy"), ("iwcv", "dev", "entropy")]


def md_auto_rules(rows, tolerances=(None, 0.02), margins=(0.0, 0.005)):
    """Every label-free rule re-applied to the recorded candidate scores of the auto runs (no re-training):
    mean gain over source-only, worst pair, and gap to the oracle candidate (ORACLE: reads target labels)."""
    from da.transfer.auto import choose

    auto = [r for r in rows if r["config"] == "auto"]
    out = ["| rule (criteria that must all beat source-only) | source guard tau | margin | mean gain vs source-only | "
           "worst | runs below source-only by > .01 | mean gap to the oracle candidate |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for rule in RULES:
        for tol in tolerances:
            for mg in margins:
                gains, gaps = [], []
                for r in auto:
                    acc = r["candidate_target_acc"]
                    name, _ = choose(r["auto"]["candidates"], rule=rule, tolerance=1e9 if tol is None else tol,
                                     margin=mg)
                    gains.append(acc[name] - acc["source_only"])
                    gaps.append(acc[name] - max(acc.values()))
                g = np.array(gains)
                nm = rule if isinstance(rule, str) else " + ".join(rule)
                out.append(f"| {nm} | {'none' if tol is None else tol} | {mg:g} | {g.mean():+.3f} | {g.min():+.3f} | "
                           f"{int((g < -0.01).sum())}/{len(g)} | {np.mean(gaps):+.3f} |")
    return "\n".join(out)


#: the first defaults revision whose held-out check records are the method as shipped now (a method's
#: records from earlier revisions ran a default that has since changed)
CHECK_CURRENT_FROM = {"sinkhorn": 8, "coral": 6, "mmd": 6, "dann": 9, "cdan": 9, "swd": 6}


def check_current(rec, revision: int, valid_from=None) -> bool:
    """Whether a held-out check record ran the method as revision ``revision`` ships it: taken at or after the
    revision that last changed the method, under the method's own recipe (``optimizer=None``), at the current
    recipe weight (this drops e.g. the seed-0 SWD record, which ran a draft weight)."""
    from da.transfer.losses import method_recipe

    m = None if rec["method"] in ("None", "auto") else rec["method"]
    first = (CHECK_CURRENT_FROM if valid_from is None else valid_from).get(rec["method"], 3)
    if rec["optimizer_arg"] != "None" or not first <= rec.get("revision", 3) <= revision:
        return False
    return rec["method"] == "auto" or m is None or rec["recipe"]["weight"] == method_recipe(m)["weight"]


def md_check(check_rows, revision: int, bar: float = 0.02, valid_from=None):
    """The held-out MNIST<->digits check at ``revision``: per pair and method, the target test accuracy of each
    seed, its mean, and the mean of the per-seed gains over source-only (same pair and seed)."""
    cur = [r for r in check_rows if check_current(r, revision, valid_from)]
    acc = defaultdict(dict)
    for r in cur:  # the latest record of a (pair, method, seed) wins
        acc[(r["pair"], r["method"])][r["seed"]] = r["target_acc"]
    methods = ["None"] + sorted({m for (_, m) in acc if m != "None"},
                                key=lambda m: (m == "auto", OLD.index(m) if m in OLD else 99, m))  # name: no set order
    pairs = sorted({p for (p, _) in acc}, reverse=True)
    out = [f"| pair | method | seeds | target test acc. (per seed) | mean | mean gain vs source-only | "
           f"gain >= {bar:g} |", "|---|---|---:|---|---:|---:|---|"]
    for p in pairs:
        so = acc.get((p, "None"), {})
        for m in methods:
            a = acc.get((p, m), {})
            if not a:
                continue
            seeds = sorted(a)
            gains = [a[s] - so[s] for s in seeds if s in so]
            g = f"{np.mean(gains):+.3f}" if gains else "—"
            ok = "" if m == "None" or not gains else ("yes" if np.mean(gains) >= bar else "**no**")
            out.append(f"| {p} | {'source-only' if m == 'None' else m} | {len(seeds)} | "
                       f"{' / '.join(f'{a[s]:.3f}' for s in seeds)} | {np.mean(list(a.values())):.3f} | {g} | {ok} |")
    return "\n".join(out)


ENSV_RULES = [("source_val", 0.02), ("ensv", None), ("ensv", 0.02), (("ensv", "source_val"), 0.02), ("dev", 0.02),
              ("entropy", 0.02), (("ensv", "dev"), 0.02)]


def _best_default(rows_now) -> dict:
    """(pair, seed) -> the best target accuracy of the shipped defaults (ORACLE: chosen with target labels)."""
    best = {}
    for r in rows_now:
        if r["config"] in SHIPPED:
            k = (r["pair"], r["seed"])
            best[k] = max(best.get(k, -1.0), r["target_acc"])
    return best


def md_auto_now(ensv_rows, rows_now, config="auto"):
    """align="auto" as shipped (revision 5, results/ensv.*.jsonl): per pair, the mean over seeds of its gain
    over its own source-only candidate and of its gap to the best shipped default (ORACLE: target labels)."""
    best = _best_default(rows_now)
    per = defaultdict(list)
    for r in ensv_rows:
        if r["config"] == config and "error" not in r:  # a fit that raised (a constant target) has no candidates
            ca = r["candidate_target_acc"]
            per[r["pair"]].append((r["seed"], r["auto"]["chosen"], ca[r["auto"]["chosen"]] - ca["source_only"],
                                   ca[r["auto"]["chosen"]] - best[(r["pair"], r["seed"])]))
    out = ["| pair | chosen (seeds 0 / 1 / 2) | gain vs source-only | gap to the best default (oracle) |",
           "|---|---|---:|---:|"]
    for p in sorted(per):
        v = sorted(per[p])
        out.append(f"| {p} | {' / '.join(c for _, c, _, _ in v)} | {np.mean([g for *_, g, _ in v]):+.3f} | "
                   f"{np.mean([d for *_, d in v]):+.3f} |")
    g, d = [x[2] for v in per.values() for x in v], [x[3] for v in per.values() for x in v]
    out.append(f"| **all {len(g)} pair-seeds** | | {np.mean(g):+.3f} (worst {min(g):+.3f}) | {np.mean(d):+.3f} |")
    return "\n".join(out)


def md_auto_ensv(ensv_rows, rows_now):
    """Each rule of :data:`ENSV_RULES` re-applied to the recorded scores (EnsV included) of the revision-5 auto
    runs, per candidate pool and seed: mean gain over source-only, harms, and the gap to the best shipped
    default (ORACLE: chosen with target labels)."""
    from da.transfer.auto import choose

    best = _best_default(rows_now)
    out = ["| pool | rule | source guard | seed 0: gain / harms / gap | seed 1 | seed 2 |", "|---|---|---:|---|---|---|"]
    for cfg in sorted({r["config"] for r in ensv_rows}):
        for rule, tol in ENSV_RULES:
            cells = []
            for s in (0, 1, 2):
                g, d = [], []
                for r in ensv_rows:
                    if r["config"] == cfg and r["seed"] == s:
                        ca = r["candidate_target_acc"]
                        name, _ = choose(r["auto"]["candidates"], rule=rule, tolerance=tol)
                        g.append(ca[name] - ca["source_only"])
                        d.append(ca[name] - best[(r["pair"], s)])
                g = np.array(g)
                cells.append(f"{g.mean():+.3f} / {int((g < -TIE).sum())} / {np.mean(d):+.3f}")
            nm = rule if isinstance(rule, str) else " + ".join(rule)
            out.append(f"| {cfg} | {nm} | {'none' if tol is None else tol} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def md_regimes(short_rows, long_rows, configs):
    """Per config: mean gain over source-only in the long-game regime (``DA_DEFAULTS_N=4000``, the 17 generated
    pairs that can grow) per seed (harms, worst pair), next to the short regime on the same 17 pairs (all seeds)."""
    long_pairs = sorted({r["pair"] for r in long_rows})
    seeds = sorted({r["seed"] for r in long_rows})

    def gains(rows, c, seed=None):
        a = {(r["config"], r["pair"], r["seed"]): r["target_acc"] for r in rows}
        return np.array([a[(c, p, s)] - a[("source_only", p, s)] for (cc, p, s) in a
                         if cc == c and p in long_pairs and (seed is None or s == seed) and ("source_only", p, s) in a])

    out = ["| config | " + " | ".join(f"long, seed {s}: gain (harms, worst)" for s in seeds)
           + " | long, all | short, same pairs, all seeds |", "|---|" + "---:|" * (len(seeds) + 2)]
    for c in configs:
        cells = []
        for s in seeds:
            g = gains(long_rows, c, s)
            cells.append(f"{g.mean():+.3f} ({int((g < -TIE).sum())}, {g.min():+.2f})" if len(g) == len(long_pairs)
                         else "—")
        g, gs = gains(long_rows, c), gains(short_rows, c)
        cells.append(f"{g.mean():+.3f} ({int((g < -TIE).sum())}/{len(g)})" if len(g) else "—")
        cells.append(f"{gs.mean():+.3f} ({int((gs < -TIE).sum())}/{len(gs)})" if len(gs) else "—")
        out.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    rows = with_aliases(load("stage1", "stage2", "final", "swdcheck", "auto", "skada", "stage4"))
    print(md_wth(rows, ["source_only"] + OLD, "Revision 2 defaults (weight 1)"))
    print()
    print(md_wth(rows, ["source_only"] + SHIPPED, "Revision 3 defaults"))
    print()
    print(md_wth(revision4(rows), ["source_only"] + SHIPPED, "Revision 4 defaults (as shipped now)"))
    print()
    print(md_auto(rows))
    print()
    print(md_skada(rows))
    print()
    print(md_auto_rules(rows))
