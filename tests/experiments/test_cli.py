"""`da run`, `da sweep`, `da collect` end to end (in-process), and a shrunk quickstart."""

from pathlib import Path

import pytest
import yaml

from da.experiments.collect import collect_runs

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path, cfg, name="exp.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_da_run_runs_a_grid_prints_a_table_and_resumes(tmp_path, tiny, cli, capsys):
    path = _write(tmp_path, dict(tiny, output=str(tmp_path / "runs"), grid={"method": ["source_only", "coral"]}))
    assert cli(["run", str(path), "-q", "train.epochs=1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| run_id | method | status | target_test_acc")
    assert out.count("| completed |") == 2 and "source_only" in out and "coral" in out
    df = collect_runs(tmp_path / "runs")
    assert len(df) == 2 and (df["train.epochs"] == 1).all()
    # a second call reads the records back instead of training again; options may follow overrides
    assert cli(["run", str(path), "train.epochs=1", "-q"]) == 0
    assert capsys.readouterr().out.count("| skipped |") == 2
    assert cli(["run", str(path), "--dry-run", "train.epochs=1"]) == 0
    assert capsys.readouterr().out.count("completed") == 2
    assert cli(["run", str(path), "--show-config", "train.epochs=1", "seed=4"]) == 0
    shown = [yaml.safe_load(doc) for doc in capsys.readouterr().out.split("---\n") if doc.strip()]
    assert [c["seed"] for c in shown] == [4, 4] and shown[0]["train"]["epochs"] == 1


def test_da_run_reports_config_errors_and_failed_runs(tmp_path, tiny, cli, capsys):
    path = _write(tmp_path, dict(tiny, output=str(tmp_path / "runs")))
    assert cli(["run", str(path), "align.0.weight=often"]) == 2
    assert "align[0].weight: expected a number or a schedule" in capsys.readouterr().err
    assert cli(["run", str(path), "-q", "train.lr=1e8", "train.optimizer=sgd"]) == 1
    out = capsys.readouterr().out
    assert "| failed |" in out and "TrainingDivergedError" in out


def test_da_sweep_with_the_dask_backend_starts_a_local_cluster(tmp_path, tiny, cli, capsys):
    pytest.importorskip("distributed")
    path = _write(tmp_path, dict(tiny, output=str(tmp_path / "runs"), grid={"seed": [0, 1]}))
    assert cli(["sweep", str(path), "--backend", "dask", "--jobs", "1", "-q"]) == 0
    assert capsys.readouterr().out.count("| completed |") == 2
    assert len(collect_runs(tmp_path / "runs")) == 2


def test_quickstart_shrunk_runs_all_four_methods(tmp_path, cli, capsys):
    """experiments/quickstart.yaml itself (MNIST -> digits, 4 methods), on fewer samples and epochs."""
    code = cli(["run", str(ROOT / "experiments" / "quickstart.yaml"), "-q", "-o", str(tmp_path),
                "data.n_source=300", "data.n_target=300", "pretrain.epochs=1", "train.epochs=1",
                "diagnostics.max_samples=60", "diagnostics.n_permutations=20", "figures=false"])
    assert code == 0
    out = capsys.readouterr().out
    for method in ("source_only", "mmd", "dann", "jdot"):
        assert f"| {method} | completed |" in out
    df = collect_runs(tmp_path)
    assert sorted(df["method"]) == ["dann", "jdot", "mmd", "source_only"]
    assert df["pretrain_cached"].sum() == 3  # one pretraining, shared by the four runs
    assert df["before_features_mmd2"].nunique() == 1
