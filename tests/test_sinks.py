"""Logging sinks (da._sinks): the TensorBoard event file and the MLflow run hold the per-epoch losses.

Read back with the real packages: tensorboard's EventAccumulator and mlflow's MlflowClient on the
local file store. The records come from a real (tiny) fine-tuning run.
"""

import sys

import numpy as np
import pytest
import torch

from da import _runs as R
from da._sinks import LOGGERS, make_sinks


@pytest.fixture(scope="module")
def fit():
    from da.align import CORALLoss
    from da.data import DomainPair, GaussianDomain
    from da.transfer import FeaturizerHead, finetune, mlp

    means = np.array([[0, 0], [3, 0]], dtype=float)
    pair = DomainPair(GaussianDomain(means, np.eye(2) * 0.5), GaussianDomain(means + 1.0, np.eye(2) * 0.5))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return finetune(FeaturizerHead(*mlp(2, (8,), 2, seed=0)), pair.sample(120, 80, seed=0),
                        [(CORALLoss(), 1.0)], epochs=3, batch_size=32, log_every=2, device="cpu")
    finally:
        torch.set_num_threads(n)


def _log(sinks, fit):
    for rec in fit.steps:
        sinks.log_step(rec, rec["step"])
    for rec in fit.history:
        sinks.log_epoch(rec, rec["step"])
    sinks.close("completed")


def test_jsonl_sink_writes_the_records(tmp_path, fit):
    _log(make_sinks(["jsonl"], tmp_path, "coral", fit.config), fit)
    assert R.read_jsonl(tmp_path / R.METRICS) == fit.history
    assert R.read_jsonl(tmp_path / R.STEPS) == fit.steps


def test_tensorboard_event_file_holds_the_epoch_losses(tmp_path, fit):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _log(make_sinks(["tensorboard"], tmp_path, "coral", fit.config), fit)
    acc = EventAccumulator(str(tmp_path / R.TENSORBOARD_DIR))
    acc.Reload()
    for key in ("loss/total", "loss/ce_source", "loss/coral", "lambda/coral", "source_val_acc"):
        events = acc.Scalars(key)
        assert [e.step for e in events] == [h["step"] for h in fit.history]
        # event files store float32
        assert [e.value for e in events] == pytest.approx([h[key] for h in fit.history], rel=1e-6)
    steps = acc.Scalars("step/loss/total")
    assert [e.step for e in steps] == [r["step"] for r in fit.steps]
    assert "selection" not in acc.Tags()["scalars"] and "oracle" not in acc.Tags()["scalars"]


def test_mlflow_run_holds_the_epoch_losses_and_the_config(tmp_path, fit):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    sinks = make_sinks(["mlflow"], tmp_path, "coral-run", fit.config)
    _log(sinks, fit)
    client = MlflowClient(tracking_uri=(tmp_path / R.MLFLOW_DIR).resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("da").experiment_id])
    assert run.info.run_name == "coral-run" and run.info.status == "FINISHED"
    for key in ("loss/total", "loss/coral", "lambda/coral"):
        hist = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        assert [(m.step, m.value) for m in hist] == [(h["step"], h[key]) for h in fit.history]
    assert run.data.params["train.lr"] == str(fit.config["train"]["lr"])
    assert len(client.get_metric_history(run.info.run_id, "step/loss/total")) == len(fit.steps)


def test_a_failed_run_is_marked_failed_in_mlflow(tmp_path, fit):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    with pytest.raises(RuntimeError):
        with make_sinks(["mlflow"], tmp_path, None, {}) as sinks:
            sinks.log_epoch(fit.history[0], 1)
            raise RuntimeError("diverged")
    client = MlflowClient(tracking_uri=(tmp_path / R.MLFLOW_DIR).resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("da").experiment_id])
    assert run.info.status == "FAILED" and run.info.run_name == tmp_path.name


@pytest.mark.parametrize("name, modules", [("tensorboard", ["torch.utils.tensorboard"]),
                                           ("mlflow", ["mlflow", "mlflow.tracking", "mlflow.entities"])])
def test_a_missing_package_says_which_pip_install(tmp_path, monkeypatch, name, modules):
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # import raises ImportError
    with pytest.raises(ImportError, match=rf"pip install {name}\b"):
        make_sinks(["jsonl", name], tmp_path)


def test_bad_logger_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown logger\(s\) \['wandb'\].*jsonl, tensorboard, mlflow"):
        make_sinks(["jsonl", "wandb"], tmp_path)
    with pytest.raises(ValueError, match="twice"):
        make_sinks(["jsonl", "jsonl"], tmp_path)
    with pytest.raises(ValueError, match="need a run_dir"):
        make_sinks(["jsonl"], None)
    assert make_sinks([], None).sinks == [] and LOGGERS == ("jsonl", "tensorboard", "mlflow")


def test_finetune_loggers_argument(tmp_path):
    pytest.importorskip("tensorboard")
    from da.data import DomainPair, GaussianDomain
    from da.transfer import FeaturizerHead, finetune, mlp

    means = np.array([[0, 0], [3, 0]], dtype=float)
    pair = DomainPair(GaussianDomain(means, np.eye(2)), GaussianDomain(means + 1.0, np.eye(2)))
    finetune(FeaturizerHead(*mlp(2, (8,), 2, seed=0)), pair.sample(120, 80, seed=0), epochs=2,
             run_dir=tmp_path, loggers=["jsonl", "tensorboard"], device="cpu")
    assert any((tmp_path / R.TENSORBOARD_DIR).iterdir())


def test_da_run_with_train_loggers_fills_the_sinks(tmp_path):
    """`train.loggers: [jsonl, tensorboard, mlflow]` in a config: both sinks hold the per-epoch losses."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from da.experiments.pipeline import run_experiment

    cfg = {"name": "t", "figures": False, "seed": 0, "method": "coral",
           "data": {"generator": {"domain": "gaussian", "shift": "rotation", "severity": 30},
                    "n_source": 120, "n_target": 120},
           "model": {"hidden": [8]}, "pretrain": {"epochs": 1},
           "train": {"epochs": 3, "batch_size": 32, "loggers": ["jsonl", "tensorboard", "mlflow"]},
           "diagnostics": {"before": False, "after": False}}
    res = run_experiment(cfg, tmp_path)
    run_dir = tmp_path / res["run_id"]
    ev = EventAccumulator(str(run_dir / R.TENSORBOARD_DIR))
    ev.Reload()
    coral = [e.value for e in ev.Scalars("loss/coral")]
    epochs = [r for r in R.read_jsonl(run_dir / R.METRICS) if r.get("stage") == "finetune"]
    assert coral == pytest.approx([r["loss/coral"] for r in epochs])
    assert (run_dir / R.MLFLOW_DIR).exists()
