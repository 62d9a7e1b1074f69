"""benchmarks/sinkhorn_schedule.py: both schedules solve each kept problem to the same fixed point, the table
bins by D / eps, and the script runs end to end on a one-epoch fit."""

import numpy as np
import pytest

from tests.benchmarks._scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("sinkhorn_schedule", "sinkhorn_schedule_bench")


def _problem(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 3)) + 0.5
    dist = lambda p, q: ((p[:, None] - q[None]) ** 2).sum(-1)  # noqa: E731
    w = np.full(n, 1.0 / n)
    return [dist(x, y), dist(x, x), dist(y, y)], w, w


def test_solve_both_reports_both_schedules(bench):
    costs, a, b = _problem()
    eps = 0.2 * float(np.median(costs[0]))
    r = bench.solve_both(costs, a, b, eps, tol=1e-8, repeats=2)
    assert r["ratio"] == pytest.approx(max(c.max() for c in costs) / eps)
    assert r["single_iter"] > 0 and r["annealed_iter"] > 0 and r["single_ms"] > 0 and r["annealed_ms"] > 0


def test_table_bins_by_ratio(bench):
    rows = [{"ratio": 10.0, "single_iter": 5, "annealed_iter": 7, "single_ms": 1.0, "annealed_ms": 2.0},
            {"ratio": 300.0, "single_iter": None, "annealed_iter": 9, "single_ms": 4.0, "annealed_ms": 2.0}]
    lines = bench.table(rows)
    assert lines[2].startswith("| [0, 16) | 1 | 5.0 | 7.0 | 1.000 | 2.000 | 0.50 | 0 |")
    assert lines[3].startswith("| [256, 512) | 1 |") and lines[3].endswith("| 2.00 | 1 |")


def test_runs_end_to_end(bench, capsys):
    bench.main(["--epochs", "1", "--every", "20", "--regs", "0.2", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "solves kept from a fit of 1 epochs" in out and "| 0.2 |" in out


def test_rejects_bad_arguments(bench):
    with pytest.raises(SystemExit):
        bench.main(["--every", "0"])
