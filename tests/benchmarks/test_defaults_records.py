"""benchmarks/defaults/summarize.py: the probe pairs' records (stage 12) stay out of every load that does not
name them, so the tables of docs/defaults.md are built from the benchmark's pairs only."""

from tests.benchmarks._scripts import load_script


def test_probe_records_are_read_only_by_a_load_that_names_them():
    summarize = load_script("defaults/summarize", "defaults_summarize")
    probes = {r["pair"] for r in summarize.load("stage12probe")}
    assert probes  # the records are in the repository
    benchmark = summarize.load("stage1", "stage2", "final", "seed2", "auto", "long")
    assert benchmark and not probes & {r["pair"] for r in benchmark}
    assert any(r["config"] == "dann_clip100" for r in summarize.load("stage1"))  # a prefix still reads stage10
