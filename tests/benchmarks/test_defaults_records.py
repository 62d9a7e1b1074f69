"""benchmarks/defaults/summarize.py: the probe pairs' records (stage 12) stay out of every load that does not
name them, so the tables of docs/defaults.md are built from the benchmark's pairs only."""

from tests.benchmarks._scripts import BENCHMARKS, load_script


def test_probe_records_are_read_only_by_a_load_that_names_them():
    summarize = load_script("defaults/summarize", "defaults_summarize")
    probes = {r["pair"] for r in summarize.load("stage12probe")}
    assert probes  # the records are in the repository
    benchmark = summarize.load("stage1", "stage2", "final", "seed2", "auto", "long")
    assert benchmark and not probes & {r["pair"] for r in benchmark}
    assert any(r["config"] == "dann_clip100" for r in summarize.load("stage1"))  # a prefix still reads stage10


def test_stage16_table_is_the_records_and_the_ensembles_are_their_members_softmax():
    """docs/defaults.md's STAGE16_TABLE is what stage16_rules.py builds from the committed records and softmax
    outputs; the shipped rule re-applied to the auto16 records gives each run's recorded choice; and an ensemble's
    accuracy is its members' mean softmax, recomputed here in float64 from the kept outputs."""
    import re
    import sys

    import numpy as np

    sys.path.insert(0, str(BENCHMARKS / "defaults"))
    try:
        rules = load_script("defaults/stage16_rules", "defaults_stage16_rules")
        pool, shipped = rules.load_rows(), rules.load_rows(rules.SHIPPED)
    finally:
        sys.path.remove(str(BENCHMARKS / "defaults"))
    assert len(pool) == len(shipped) == 66
    doc = (BENCHMARKS.parent / "docs" / "defaults.md").read_text()
    block = re.search(r"<!-- STAGE16_TABLE -->\n(.*?)\n<!-- /STAGE16_TABLE -->", doc, re.S).group(1)
    assert block == rules.md_table(pool, shipped)
    from da.transfer.auto import choose

    for r in shipped:
        assert choose(r["auto"]["candidates"], rule="source_val", tolerance=0.02)[0] == r["auto"]["chosen"]
        assert r["candidate_target_acc"][r["auto"]["chosen"]] == r["target_acc"]
    r = pool[0]
    names = [c["name"] for c in r["auto"]["candidates"]]
    p = sum(r["probs"][f"{n}@te"] for n in names) / len(names)
    assert rules.target_acc(r, "ens_all", None)[0] == np.mean(p.argmax(1) == r["probs"]["ye"])
    for n in names:  # the kept outputs are the candidates' recorded accuracies
        assert np.mean(r["probs"][f"{n}@te"].argmax(1) == r["probs"]["ye"]) == r["candidate_target_acc"][n]


def test_the_readmes_auto_ensemble_pipeline_figures_are_its_records():
    """README's `experiments/auto_ensemble.yaml` figures (3 seeds, both directions, against source-only through the
    same pipeline) are the committed result records, rounded; each auto run is the ensemble of all eight."""
    import json

    recs = [json.loads(line) for line in
            open(BENCHMARKS / "defaults" / "results" / "pipeline_auto_ensemble.jsonl")]
    readme = (BENCHMARKS.parent / "README.md").read_text().replace("\n  ", " ")
    for pair, method in [(p, m) for p in ("digits->mnist", "mnist->digits") for m in ("auto", "source_only")]:
        accs = [r["target_test_acc"] for r in sorted(recs, key=lambda r: r["seed"])
                if r["pair"] == pair and r["method"] == method]
        assert len(accs) == 3
        assert " / ".join(f"{a:.3f}" for a in accs) in readme, (pair, method)
    for pair in ("digits->mnist", "mnist->digits"):
        mean = {m: sum(r["target_test_acc"] for r in recs if r["pair"] == pair and r["method"] == m) / 3
                for m in ("auto", "source_only")}
        assert f"(+{mean['auto'] - mean['source_only']:.3f})" in readme, pair
    assert all(len(r["auto"]["members"]) == 8 and r["auto"]["chosen"] == "ensemble"
               for r in recs if r["method"] == "auto")


def test_a_short_stage_prefix_reads_no_long_regime_file():
    """``load("stage1")`` matches ``stage17long.*.jsonl`` by its prefix; those runs share their config names with the
    short regime's, so they must be read only by a prefix that names the long regime."""
    summarize = load_script("defaults/summarize", "defaults_summarize")
    short = summarize.load("stage1")
    assert short and not [r for r in short if "n_per_domain" in r]
    long = summarize.load("stage10long")
    assert long and all(r["n_per_domain"] == 4000 for r in long)
    assert {r["config"] for r in long} <= {r["config"] for r in short}  # the shared names the guard is for


def test_stage17_tables_in_the_docs_are_the_records():
    """docs/defaults.md's stage-17 tables (the infomax grid, its long regime and the nine-candidate pool) carry the
    cells stage17_tables.py builds from the committed records and kept outputs (the first column is relabelled)."""
    import sys

    sys.path.insert(0, str(BENCHMARKS / "defaults"))
    try:
        t = load_script("defaults/stage17_tables", "defaults_stage17_tables")
        short = t.M.short_rows_now() + t.load("stage17.")
        long = t.load("long") + t.load("stage10long") + t.load("stage17long")
        pool = t.pool_rows()
        built = [t.M.md_seeds(short, t.CANDIDATES + t.REFERENCE[:2]),
                 t.M.md_regimes(short, long, ["infomax_svl_w1", "infomax_default", "infomax_svl_w3", "dann_clip100"]),
                 t.md_pool(pool)]
    finally:
        sys.path.remove(str(BENCHMARKS / "defaults"))
    assert len(pool) == 66 and all(len(r["candidate_target_acc"]) == 9 for r in pool)
    doc = (BENCHMARKS.parent / "docs" / "defaults.md").read_text().replace("−", "-")
    section = doc[doc.index("#### Revision 10 (stage 17)"):doc.index("#### Revision 11 (stage 18)")]
    rows = [line for table in built for line in table.splitlines()[2:]]
    assert len(rows) == 11 + 4 + 7
    for line in rows:
        assert "|" + "|".join(line.split("|")[2:]) in section, line


def test_stage18_tables_in_the_docs_are_the_records_and_the_shipped_name_is_the_chosen_candidate():
    """docs/defaults.md's stage-18 tables (infomax with a matching term beside it, short and long regimes, and the
    best per pair beside skada's) carry the cells stage18_tables.py builds from the committed records; and
    ``align="infomax_coral"`` as shipped (``infomax_coral_default``) reproduced the chosen candidate
    ``im_coral_w10000`` on every pair-seed of both regimes, bit for bit in accuracy and kept epoch."""
    import sys

    sys.path.insert(0, str(BENCHMARKS / "defaults"))
    try:
        t = load_script("defaults/stage18_tables", "defaults_stage18_tables")
        built = t.tables()
        short, long = t.load("stage18."), t.load("stage18long")
    finally:
        sys.path.remove(str(BENCHMARKS / "defaults"))
    for rows, n in ((short, 69), (long, 51)):
        by = {}
        for r in rows:
            by.setdefault(r["config"], {})[(r["pair"], r["seed"])] = (r["target_acc"], r.get("best_epoch"))
        assert len(by["infomax_coral_default"]) == n and by["infomax_coral_default"] == by["im_coral_w10000"]
    doc = (BENCHMARKS.parent / "docs" / "defaults.md").read_text().replace("−", "-")
    section = doc[doc.index("#### Revision 11 (stage 18)"):doc.index("#### Stage 19 (revision 11)")]
    lines = [line for line in built.splitlines() if line.startswith("| ") and not line.startswith("| config")
             and not line.startswith("| pair")]
    assert len(lines) == 12 + 6 + 24
    for line in lines:
        assert "|" + "|".join(line.split("|")[2:]) in section, line


def test_stage19_tables_in_the_docs_are_the_records_and_auto_without_jdot_changed_only_jdots_choices():
    """docs/defaults.md's stage-19 tables (the ten-candidate pool in both regimes and as finetune candidates, and
    auto in the long-game regime) are what stage19_tables.py builds from the committed records and kept outputs;
    and revision 11's auto (JDOT out of its candidates) chose as revision 10's did on every pair-seed where
    revision 10 did not choose JDOT, in both regimes (a refused constant target aside)."""
    import sys

    sys.path.insert(0, str(BENCHMARKS / "defaults"))
    try:
        t = load_script("defaults/stage19_tables", "defaults_stage19_tables")
        built = t.tables()
        old_long, new_long = t.shipped_long_rows(), t.shipped_long_rows("stage19auto11long")
        summarize = load_script("defaults/summarize", "defaults_summarize")
        # revision 5's records of the shipped auto (results/ensv.0.jsonl), which the docs cite
        old_short = [r for r in summarize.load("ensv") if r["config"] == "auto" and r["pair"] != "digits_invert0.5"]
        new_short = {(r["pair"], r["seed"]): r for r in summarize.load("stage19auto11.")
                     if r["config"] == "auto" and "auto" in r}
    finally:
        sys.path.remove(str(BENCHMARKS / "defaults"))
    doc = (BENCHMARKS.parent / "docs" / "defaults.md").read_text().replace("−", "-")
    section = doc[doc.index("#### Stage 19 (revision 11)"):doc.index("#### The long-game regime")]
    lines = [line for line in built.splitlines() if line.startswith("| ") and not line.startswith(("| rule", "| seed"))]
    assert len(lines) == 9 + 9 + 9 + 3 + 3
    for line in lines:
        assert "|" + "|".join(line.split("|")[2:]) in section, line
    by = {(r["pair"], r["seed"]): r for r in new_long}
    assert len(old_long) == len(new_long) == 51
    for r in old_long:
        if r["auto"]["chosen"] != "jdot":
            assert (by[(r["pair"], r["seed"])]["auto"]["chosen"], by[(r["pair"], r["seed"])]["target_acc"]) == (
                r["auto"]["chosen"], r["target_acc"])
    assert {r["auto"]["chosen"] for r in new_long} == {"source_only"}
    assert len(old_short) == len(new_short) == 66 and "jdot" not in {r["auto"]["chosen"] for r in old_short}
    for r in old_short:
        assert new_short[(r["pair"], r["seed"])]["auto"]["chosen"] == r["auto"]["chosen"]
        assert new_short[(r["pair"], r["seed"])]["target_acc"] == r["target_acc"]
