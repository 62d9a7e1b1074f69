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
    assert len(df) == 16 and {"method", "lambda", "data.generator.severity", "target_acc"} <= set(df.columns)
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
    (run / "report_after.json").write_text(json.dumps({"gaps": {}}))
    done = plot_run_dir(run)
    assert set(done["figures"]) == {"trajectory"}
    assert any("gap_before_after" in s and "empty" in s for s in done["skipped"])


def _gap(value, lo, hi, bandwidth=None):
    details = {"n_source": 80, "n_target": 80}
    if bandwidth is not None:
        details.update(bandwidth=bandwidth, bandwidth_rule="fixed")
    return {"value": value, "ci": [lo, hi], "confidence": 0.95, "n_bootstrap": 20,
            "method": "mmd2/unbiased", "details": details}


def _pipeline_run(root, run_id="abc123", bandwidth=1.0):
    """A run directory in the layout da.experiments writes (report dicts, staged metrics.jsonl)."""
    run = root / run_id
    run.mkdir(parents=True)
    truth = {"values": {"mmd2": 0.17, "mmd2_bandwidth": 1.0, "kl_joint": 0.4}, "unavailable": {}}
    ls = {"true_prior": [0.7, 0.3], "source_prior": [0.5, 0.5],
          "estimators": {"bbse": {"target_prior": [0.66, 0.34], "l1_error": 0.08},
                         "mlls": {"target_prior": [0.71, 0.29], "l1_error": 0.02}}}
    before = {"stage": "before", "split": "test", "ground_truth": truth, "label_shift": ls,
              "accuracy": {"target_test": {"accuracy": 0.6}},
              "inputs": {"n_source": 80, "n_target": 80, "tests": {"mmd": {"statistic": 0.1, "pvalue": 0.01}},
                         "gaps": {"mmd2": _gap(0.15, 0.1, 0.2, bandwidth),
                                  "proxy_a_distance": _gap(0.9, 0.7, 1.1)}},
              "features": {"tests": {}, "gaps": {"mmd2": _gap(0.3, 0.2, 0.4, bandwidth),
                                                 "proxy_a_distance": _gap(1.5, 1.3, 1.7)}}}
    after = json.loads(json.dumps(before))
    after["stage"] = "after"
    del after["label_shift"]
    after["features"]["gaps"]["mmd2"] = _gap(0.05, 0.01, 0.09, bandwidth)
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


def test_pipeline_report_truth_only_at_the_matching_bandwidth(tmp_path):
    from da.plot import gap_frame

    rep = json.loads((_pipeline_run(tmp_path / "a") / "report_before.json").read_text())
    df = gap_frame(rep).set_index(["space", "metric"])
    assert df.loc[("inputs", "mmd2"), "truth"] == 0.17
    assert np.isnan(df.loc[("features", "mmd2"), "truth"])  # no truth for learned features
    assert np.isnan(df.loc[("inputs", "proxy_a_distance"), "truth"])
    rep = json.loads((_pipeline_run(tmp_path / "b", bandwidth=None) / "report_before.json").read_text())
    assert np.isnan(gap_frame(rep).set_index(["space", "metric"]).loc[("inputs", "mmd2"), "truth"])


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
        rid = f"run{i:02d}"
        (tmp_path / rid).mkdir()
        res = {"run_id": rid, "status": "completed", "method": method,
               "config": {"method": method, "seed": seed, "data": {"n_target_labeled": n_lab}},
               "metrics": {"target_test_acc": 0.5 + n_lab / 200 + (method == "mmd") * 0.1 + seed / 100}}
        (tmp_path / rid / "result.json").write_text(json.dumps(res))
    df = read_results(tmp_path)
    assert len(df) == 12 and "data.n_target_labeled" in df.columns and "target_test_acc" in df.columns
    done = plot_run_dir(tmp_path)
    assert set(done["figures"]) == {"ablation_data_n_target_labeled", "learning_curve"}


def test_no_heatmap_when_factors_are_not_crossed(tmp_path):
    rows = [("a", 0.1, 0.0), ("a", 1.0, 0.0), ("a", 0.1, 30.0), ("a", 1.0, 30.0), ("a", 10.0, 30.0)]
    for i, (method, lam, sev) in enumerate(rows):
        run = tmp_path / f"r{i}"
        run.mkdir()
        (run / "result.json").write_text(json.dumps({"config": {"method": method, "lambda": lam,
                                                                "severity": sev},
                                                     "metrics": {"target_acc": 0.8}}))
    assert not any("_x_" in name for name in plot_run_dir(tmp_path)["figures"])
