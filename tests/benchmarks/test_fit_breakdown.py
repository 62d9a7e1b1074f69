"""benchmarks/fit_breakdown.py: its phases split the whole fit exactly, and the trainer is left as it was."""

import pytest

from da.transfer.trainer import Trainer
from tests.benchmarks._scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("fit_breakdown", "fit_breakdown_bench")


def test_phases_add_up_to_the_fit_and_the_trainer_is_restored(bench):
    before = {name: getattr(Trainer, name) for name in bench.PHASES}
    # two rounds, the faster kept: a first fit in the process pays one-off costs (lazy imports, first writes)
    best = bench.breakdown(["source_only", "coral"], rounds=2, epochs=2)
    assert {name: getattr(Trainer, name) for name in bench.PHASES} == before
    for r in best.values():
        parts = [r[p] for p in bench.ORDER]
        assert min(parts) >= 0.0 and sum(parts) == pytest.approx(r["total"], rel=1e-9)
        assert r["n_steps"] == 2 * 25  # 3500 source rows at batch 128 (the larger domain): 25 steps per epoch
        assert r["steps"] > 0.5 * r["total"]
    text = bench.format_tables(best)
    assert "| coral |" in text and "Extra seconds over source-only" in text
