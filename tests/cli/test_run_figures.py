"""`da run` draws each run's figures (and a sweep's) from the records after the runs: the pipeline draws none."""

import copy

import yaml

from da.cli.main import main
from da.experiments.collect import collect_runs

TINY = {
    "name": "tiny", "seed": 0, "method": "mmd",
    "data": {"generator": {"domain": "gaussian", "shift": "rotation", "severity": 40},
             "n_source": 200, "n_target": 200},
    "model": {"hidden": [8]},
    "pretrain": {"epochs": 2, "batch_size": 32},
    "train": {"epochs": 2, "batch_size": 32},
    "diagnostics": {"tests": ["mmd"], "gaps": ["mmd2"], "n_permutations": 20, "max_samples": 60, "every": 1},
}


def _write(tmp_path, cfg):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_da_run_draws_run_and_sweep_figures(tmp_path, capsys):
    cfg = dict(copy.deepcopy(TINY), output=str(tmp_path / "runs"), grid={"lambda": [0.1, 1.0]})
    assert main(["run", str(_write(tmp_path, cfg)), "-q", "--jobs", "1"]) == 0
    runs = collect_runs(tmp_path / "runs")
    assert len(runs) == 2
    for rid in runs["run_id"]:
        figs = sorted(p.name for p in (tmp_path / "runs" / rid / "figures").iterdir())
        assert figs == ["gap_before_after.png", "trajectory.png"], figs
    assert (tmp_path / "runs" / "figures" / "ablation_lambda.png").is_file()  # the sweep figure
    # figures: false (read by the CLI) draws none; nothing ran again, so nothing new either way
    cfg = dict(copy.deepcopy(TINY), output=str(tmp_path / "off"), figures=False)
    assert main(["run", str(_write(tmp_path, cfg)), "-q"]) == 0
    (rid,) = collect_runs(tmp_path / "off")["run_id"]
    assert not (tmp_path / "off" / rid / "figures").exists()
