"""`da plot` on synthetic run and sweep directories written in tmp_path."""

import argparse
import json

import numpy as np
import pytest

from da.cli import plot as plot_cmd
from da.plot import plot_run_dir, read_metrics, read_results


def _run_dir(root):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "metrics.jsonl", "w") as fh:
        for s in range(0, 200, 20):
            fh.write(json.dumps({"step": s, "epoch": s // 100, "lambda": s / 200, "mmd2": 1 / (1 + s)}) + "\n")
        fh.write(json.dumps({"step": 200, "target_acc": 0.8}) + "\n")
        fh.write('{"step": 220, "mmd2": 0.0')  # a run killed mid-write: skipped
    gap = {"inputs": {"mmd2": {"value": 0.3, "ci": [0.2, 0.4], "truth": 0.31}},
           "features": {"mmd2": {"value": 0.5, "ci": [0.4, 0.6]}}}
    (root / "report_before.json").write_text(json.dumps({"gaps": gap}))
    gap["features"]["mmd2"] = {"value": 0.1, "ci": [0.05, 0.15]}
    (root / "report_after.json").write_text(json.dumps({"gaps": gap}))
    return root


def _sweep_dir(root):
    rng = np.random.default_rng(0)
    for method in ("source_only", "dann"):
        for lam in (0.1, 1.0):
            for sev in (0.0, 30.0):
                for seed in (0, 1):
                    run = root / f"{method}-{lam}-{sev}-{seed}"
                    run.mkdir(parents=True)
                    cfg = {"method": method, "lambda": lam, "seed": seed,
                           "data": {"generator": {"severity": sev, "shift": "rotation"}}}
                    res = {"config": cfg, "metrics": {"target_acc": 0.9 - sev / 100 + rng.normal(0, .01)}}
                    (run / "result.json").write_text(json.dumps(res))
    (root / "broken").mkdir()
    (root / "broken" / "result.json").write_text("{not json")
    return root


def _args(path, out=None):
    parser = argparse.ArgumentParser()
    plot_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["plot", str(path)] + (["--out", str(out)] if out else []))


def test_read_metrics_skips_partial_lines(tmp_path):
    recs = read_metrics(_run_dir(tmp_path / "run") / "metrics.jsonl")
    assert len(recs) == 11 and recs[-1] == {"step": 200, "target_acc": 0.8}


def test_da_plot_on_a_run_dir_writes_trajectory_and_before_after(tmp_path, capsys):
    run = _run_dir(tmp_path / "run")
    args = _args(run)
    assert args.func is plot_cmd.run
    assert plot_cmd.run(args) == 0
    written = sorted(p.name for p in (run / "figures").iterdir())
    assert written == ["gap_before_after.pdf", "gap_before_after.png", "trajectory.pdf", "trajectory.png"]
    out = capsys.readouterr().out
    assert "trajectory" in out and "gap_before_after" in out


def test_da_plot_on_a_sweep_dir_writes_ablations(tmp_path):
    sweep = _sweep_dir(tmp_path / "sweep")
    df = read_results(sweep)
    assert len(df) == 16 and {"method", "lambda", "data.generator.severity", "metrics.target_acc"} <= set(df.columns)
    done = plot_run_dir(sweep, tmp_path / "figs")
    assert set(done["figures"]) == {"ablation_lambda", "ablation_data_generator_severity", "shift_severity"}
    assert all(p.exists() for paths in done["figures"].values() for p in paths)
    assert len(list((tmp_path / "figs").glob("*.pdf"))) == 3


def test_da_plot_on_an_empty_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no figure applies"):
        plot_cmd.run(_args(tmp_path))
    with pytest.raises(FileNotFoundError):
        plot_run_dir(tmp_path / "missing")


def test_unusable_records_are_skipped_with_a_reason(tmp_path):
    run = _run_dir(tmp_path / "run")
    (run / "report_after.json").write_text(json.dumps({"gaps": {}}))
    done = plot_run_dir(run)
    assert set(done["figures"]) == {"trajectory"}
    assert any("gap_before_after" in s and "empty" in s for s in done["skipped"])
