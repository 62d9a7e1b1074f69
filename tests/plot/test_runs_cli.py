"""`da plot` on synthetic run and sweep directories written in tmp_path."""

import argparse
import json

import numpy as np
import pytest

from da.cli import plot as plot_cmd
from da.plot import plot_run_dir, read_metrics, read_results


def _row(space, name, value, lo, hi, truth=None):
    return {"space": space, "kind": "metric", "name": name, "value": value, "ci_low": lo, "ci_high": hi,
            "truth": truth, "pvalue": None}


def _report(features_mmd2, **extra):
    """A saved ShiftReport (ShiftReport.to_dict()'s layout), as a run's report_*.json holds it."""
    rows = [_row("inputs", "mmd2", 0.3, 0.2, 0.4, truth=0.31), _row("features", "mmd2", *features_mmd2),
            {"space": "inputs", "kind": "test", "name": "mmd_test", "value": 0.3, "pvalue": 0.01}]
    return {"format": "da.diagnostics.ShiftReport/1", "rows": rows, "meta": {}, "ground_truth": {}, **extra}


def _run_dir(root):
    """A finetune(run_dir=...) run: per-epoch metrics.jsonl, per-step steps.jsonl, and two reports."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "metrics.jsonl", "w") as fh:
        for e in range(5):
            fh.write(json.dumps({"epoch": e, "step": 20 * (e + 1), "lambda/dann": e / 5, "loss/total": 1.0,
                                 "target_val_acc": 0.6 + e / 20}) + "\n")
        fh.write('{"epoch": 5, "step": 120, "lambda/dann": 0.0')  # a run killed mid-write: skipped
    with open(root / "steps.jsonl", "w") as fh:
        for s in range(0, 100, 10):
            fh.write(json.dumps({"step": s, "epoch": s // 20, "lambda/dann": s / 100, "mmd/mmd2": 1 / (1 + s)}) + "\n")
    (root / "report_before.json").write_text(json.dumps(_report((0.5, 0.4, 0.6))))
    (root / "report_after.json").write_text(json.dumps(_report((0.1, 0.05, 0.15))))
    return root


def _result(run, config, metrics):
    """result.json as da._runs.write_result writes it, in a directory named by its run id."""
    from da import _runs as R

    R.write_result(run, {"run_id": run.name, "config": config, "metrics": metrics})


def _sweep_dir(root):
    rng = np.random.default_rng(0)
    for i, (method, lam, sev, seed) in enumerate((m, lam, sev, seed) for m in ("source_only", "dann")
                                                 for lam in (0.1, 1.0) for sev in (0.0, 30.0) for seed in (0, 1)):
        cfg = {"method": method, "lambda": lam, "seed": seed,
               "data": {"generator": {"severity": sev, "shift": "rotation"}}}
        _result(root / f"run{i:02d}", cfg, {"target_test_acc": 0.9 - sev / 100 + rng.normal(0, .01)})
    (root / "broken").mkdir()
    (root / "broken" / "result.json").write_text("{not json")
    return root


def _args(path, out=None):
    parser = argparse.ArgumentParser()
    plot_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["plot", str(path)] + (["--out", str(out)] if out else []))


def test_read_metrics_skips_partial_lines(tmp_path):
    recs = read_metrics(_run_dir(tmp_path / "run") / "metrics.jsonl")
    assert len(recs) == 5 and recs[-1]["epoch"] == 4


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
    assert len(df) == 16 and {"method", "lambda", "data.generator.severity", "target_test_acc"} <= set(df.columns)
    done = plot_run_dir(sweep, tmp_path / "figs")
    assert set(done["figures"]) == {"ablation_lambda", "ablation_data_generator_severity", "shift_severity",
                                   "ablation_lambda_x_data_generator_severity"}  # two factors: heatmap
    assert all(p.exists() for paths in done["figures"].values() for p in paths)
    assert len(list((tmp_path / "figs").glob("*.pdf"))) == 4


def test_da_plot_on_an_empty_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no figure applies"):
        plot_cmd.run(_args(tmp_path))
    with pytest.raises(FileNotFoundError):
        plot_run_dir(tmp_path / "missing")


def test_unusable_records_are_skipped_with_a_reason(tmp_path):
    run = _run_dir(tmp_path / "run")
    (run / "report_after.json").write_text(json.dumps({"rows": []}))
    done = plot_run_dir(run)
    assert set(done["figures"]) == {"trajectory"}
    assert any("gap_before_after" in s and "empty" in s for s in done["skipped"])


def _pipeline_run(root, run_id="abc123"):
    """A run directory in the layout da.experiments writes (report dicts, staged metrics.jsonl)."""
    run = root / run_id
    run.mkdir(parents=True)
    ls = {"true_prior": [0.7, 0.3], "source_prior": [0.5, 0.5],
          "estimators": {"bbse": {"target_prior": [0.66, 0.34], "l1_error": 0.08},
                         "mlls": {"target_prior": [0.71, 0.29], "l1_error": 0.02,
                                  "result": {"prior": [0.71, 0.29], "ci": [[0.6, 0.8], [0.2, 0.4]]}}}}
    before = _report((0.3, 0.2, 0.4), stage="before", split="test", label_shift=ls,
                     accuracy={"target_test": {"accuracy": 0.6}})
    after = _report((0.05, 0.01, 0.09), stage="after", split="test")
    (run / "report_before.json").write_text(json.dumps(before))
    (run / "report_after.json").write_text(json.dumps(after))
    recs = [{"stage": "data", "pair": "g"}, {"stage": "pretrain", "epoch": 0, "step": 5, "target_val_acc": 0.1}]
    recs += [{"stage": "finetune_step", "step": s, "epoch": s // 4, "dann/disc_acc": 0.6 + s / 100,
              "lambda/dann": 1.0} for s in range(0, 16, 2)]
    recs += [{"stage": "finetune", "step": 4 * (e + 1), "epoch": e, "dann/disc_acc": 0.7, "target_val_acc": 0.5 + e / 10,
              "diag/features_mmd2": 0.3 - e / 20, "diag/features_mmd2_lo": 0.2 - e / 20,
              "diag/features_mmd2_hi": 0.4 - e / 20} for e in range(4)]
    recs += [{"stage": "eval", "target_test_acc": 0.8, "true_mmd2": 0.17}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return run


def test_da_plot_on_a_pipeline_run_dir(tmp_path):
    run = _pipeline_run(tmp_path)
    done = plot_run_dir(run)
    assert set(done["figures"]) == {"trajectory", "gap_before_after", "label_shift_before"}
    assert not done["skipped"]


def test_trainer_run_trajectory_takes_steps_from_steps_jsonl(tmp_path):
    from da.plot import plot_gap_trajectory
    from da.plot.runs import _history

    recs = _history(_run_dir(tmp_path / "run"))
    fig = plot_gap_trajectory(recs)
    labels = [a.get_ylabel().split("\n")[0] for a in fig.axes]
    assert labels == ["MMD²", "λ, alignment weight", "target accuracy"]
    lam = fig.axes[1].get_lines()[0]
    assert len(lam.get_xdata()) == 10  # the per-step lambda/dann, not the epoch means
    assert len(fig.axes[2].get_lines()[0].get_xdata()) == 5  # target_val_acc: per epoch


def test_pipeline_trajectory_uses_finetune_records_only(tmp_path):
    from da.plot import plot_gap_trajectory
    from da.plot.runs import _trajectory_records

    recs = _trajectory_records(read_metrics(_pipeline_run(tmp_path) / "metrics.jsonl"))
    assert {r.get("stage") for r in recs} == {"finetune_step", "finetune"}
    fig = plot_gap_trajectory(recs)
    disc = fig.axes[1].get_lines()[0]
    assert len(disc.get_xdata()) == 8  # per-step values, not mixed with the epoch means


def test_run_figures_hook_returns_paths(tmp_path):
    from da.plot import run_figures

    run = _pipeline_run(tmp_path)
    before = json.loads((run / "report_before.json").read_text())
    paths = run_figures(run, before=before, history=[{"epoch": 0, "step": 4, "lambda/dann": 1.0}],
                        out_dir=tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(
        f"{n}.{e}" for n in ("trajectory", "gap_before_after", "label_shift_before") for e in ("png", "pdf"))
    assert run_figures(tmp_path / "empty", out_dir=tmp_path / "none") == []


def test_sweep_read_through_da_collect(tmp_path):
    pytest.importorskip("da.experiments")
    for i, (method, n_lab, seed) in enumerate([(m, n, s) for m in ("source_only", "mmd") for n in (0, 10, 50)
                                               for s in (0, 1)]):
        _result(tmp_path / f"run{i:02d}", {"method": method, "seed": seed, "data": {"n_target_labeled": n_lab}},
                {"target_test_acc": 0.5 + n_lab / 200 + (method == "mmd") * 0.1 + seed / 100})
    df = read_results(tmp_path)
    assert len(df) == 12 and "data.n_target_labeled" in df.columns and "target_test_acc" in df.columns
    done = plot_run_dir(tmp_path)
    assert set(done["figures"]) == {"ablation_data_n_target_labeled", "learning_curve"}


def test_no_heatmap_when_factors_are_not_crossed(tmp_path):
    rows = [("a", 0.1, 0.0), ("a", 1.0, 0.0), ("a", 0.1, 30.0), ("a", 1.0, 30.0), ("a", 10.0, 30.0)]
    for i, (method, lam, sev) in enumerate(rows):
        _result(tmp_path / f"r{i}", {"method": method, "lambda": lam, "data": {"generator": {"severity": sev}}},
                {"target_test_acc": 0.8})
    assert not any("_x_" in name for name in plot_run_dir(tmp_path)["figures"])


def test_report_truth_only_at_the_matching_bandwidth():
    """The saved report carries the analytic MMD² only where the estimate used its bandwidth."""
    from da.data import DomainPair, GaussianDomain, rotation
    from da.diagnostics import shift_report
    from da.plot import gap_frame

    src = GaussianDomain([[0.0, 0.0], [2.0, 1.0]], np.eye(2))
    pair = DomainPair(src, rotation(src, 30))
    split = pair.sample(150, 150, seed=0)
    truth = {"mmd2": 0.17, "mmd2_bandwidth": 1.0}
    for bandwidth, has_truth in ((1.0, True), (None, False)):
        rep = shift_report(split, metrics=["mmd2"], tests=[], n_bootstrap=0, ground_truth=truth,
                           bandwidth=bandwidth, seed=0)
        df = gap_frame(json.loads(rep.to_json())).set_index(["space", "metric"])
        t = df.loc[("inputs", "mmd2"), "truth"]
        assert (t == 0.17) if has_truth else np.isnan(t)
