"""The run-directory format (da._runs): ids, readers, writers, and finetune(run_dir=...) runs in `da collect`."""

import hashlib
import json
import math
import warnings

import numpy as np
import pytest
import torch

from da import _runs as R
from da.experiments.collect import collect_runs
from da.experiments.config import config_hash, resolve_config


def test_run_id_is_sha256_of_the_canonical_json(tiny):
    """Reference: hashlib on json.dumps(sort_keys, compact separators), the experiments' form."""
    cfg = {"b": [1, 2.5, None, True], "a": {"z": "x", "y": np.float32(0.5)}}
    plain = {"b": [1, 2.5, None, True], "a": {"z": "x", "y": 0.5}}
    ref = hashlib.sha256(json.dumps(plain, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]
    assert R.run_id(cfg) == R.digest(plain) == ref
    assert R.run_id(dict(plain, b=[1])) != ref
    # the experiments' ids are unchanged: config_hash is this digest of the config less its labels,
    # `recipe`, which only says where train values came from (the values are hashed), and the `auto:`
    # section, which only method: auto reads (the section came after these ids)
    resolved = resolve_config(tiny)
    assert resolved["method"] != "auto" and "auto" in resolved
    body = {k: v for k, v in resolved.items()
            if k not in ("name", "output", "figures", "summary", "recipe", "auto")}
    from da.transfer.losses import ALIGNMENT_DEFAULTS_REVISION

    body["_alignment_defaults_revision"] = ALIGNMENT_DEFAULTS_REVISION
    assert config_hash(resolved) == R.run_id(body)
    auto = resolve_config(dict(tiny, method="auto"))
    assert config_hash(auto) == R.run_id({k: v for k, v in auto.items()
                                          if k not in ("name", "output", "figures", "summary", "recipe")})
    with pytest.raises(ValueError, match="resolved_config must be a dict"):
        R.run_id([1, 2])


def test_write_result_is_read_back_and_names_its_directory(tmp_path):
    run = tmp_path / "my-run"
    rec = R.write_result(run, {"run_id": "abc", "config": {"lr": 0.1}, "metrics": {"target_test_acc": np.float64(.5)},
                               "selection": "source_val"})
    assert rec["status"] == R.COMPLETED and rec["run_dir"] == str(run.resolve())
    assert R.read_result(run) == json.loads((run / R.RESULT).read_text()) == rec
    assert R.run_state(run) == "completed" and R.find_run_dirs(tmp_path) == [run]
    # a copy (another directory name) is not this directory's record: partial
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / R.RESULT).write_text((run / R.RESULT).read_text())
    assert R.read_result(tmp_path / "copy") is None and R.run_state(tmp_path / "copy") == "partial"
    with pytest.raises(ValueError, match="flat scalars"):
        R.write_result(run, {"run_id": "abc", "config": {}, "metrics": {"target_test": {"accuracy": 1.0}}})
    with pytest.raises(ValueError, match="'run_id'"):
        R.write_result(run, {"config": {}, "metrics": {}})
    assert R.read_result(run) == rec  # nothing half-written by the rejected calls


def test_failures_count_attempts_and_jsonl_round_trips(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    R.write_failure(run, "r", RuntimeError("boom"), "tb")
    rec = R.write_failure(run, "r", RuntimeError("again"), step=3)
    assert rec["attempts"] == 2 and R.read_failure(run)["error"] == "again" and R.run_state(run) == "failed"
    recs = [{"epoch": 0, "loss/total": np.float32(1.5), "x": float("nan")}, {"epoch": 1, "t": torch.tensor(2.0)}]
    R.write_jsonl(run / R.METRICS, recs)
    back = R.read_jsonl(run / R.METRICS)
    assert back[0]["loss/total"] == 1.5 and math.isnan(back[0]["x"]) and back[1]["t"] == 2.0
    R.append_jsonl(run / R.METRICS, {"epoch": 2})
    with open(run / R.METRICS, "a") as fh:
        fh.write('{"epoch": 3, "to')  # killed mid-line
    assert [r["epoch"] for r in R.read_jsonl(run / R.METRICS)] == [0, 1, 2]


def test_old_trainer_statuses_are_deprecated_aliases(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    nested = {"target_test": {"accuracy": 0.75, "macro_f1": 0.7, "ece": 0.1, "per_class": [1, 0.5]}}
    (run / R.RESULT).write_text(json.dumps({"status": "ok", "run_id": "0123456789ab", "run_dir": str(run),
                                            "config": {"train": {"lr": 0.1}}, "metrics": nested,
                                            "best_epoch": 2, "n_steps": 30}))
    with pytest.warns(DeprecationWarning, match="'ok'"):
        rec = R.read_result(run)
    assert rec["status"] == "completed" and rec["split_metrics"] == nested
    assert rec["metrics"] == {"target_test_acc": 0.75, "target_test_f1": 0.7, "target_test_ece": 0.1,
                              "best_epoch": 2, "n_steps": 30}
    (run / R.RESULT).write_text(json.dumps({"status": "diverged", "run_id": "x", "run_dir": str(run),
                                            "step": 7, "term": "mmd", "value": "nan"}))
    assert R.run_state(run) == "failed" and "step 7: loss term 'mmd'" in R.read_failure(run)["error"]


def _split_and_model():
    from da.data import DomainPair, GaussianDomain
    from da.transfer import FeaturizerHead, mlp

    means = np.array([[0, 0], [3, 0]], dtype=float)
    pair = DomainPair(GaussianDomain(means, np.eye(2) * 0.5), GaussianDomain(means + 1.0, np.eye(2) * 0.5))
    return pair.sample(120, 80, seed=0), FeaturizerHead(*mlp(2, (8,), 2, seed=0))


def test_finetune_runs_are_collectable(tmp_path, cli):
    """finetune(run_dir=...) as the trainer writes it today: `da collect` lists it with its accuracy."""
    from da.align import CORALLoss
    from da.transfer import finetune

    split, model = _split_and_model()
    torch.set_num_threads(1)
    fit = finetune(model, split, [(CORALLoss(), 1.0)], run_dir=tmp_path / "coral", epochs=2, batch_size=32,
                   device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # until the trainer writes "completed"
        df = collect_runs(tmp_path)
        assert cli(["collect", str(tmp_path), "-m", "target_test_acc"]) == 0
    assert list(df["run_id"]) == [fit.run_id] and df.loc[0, "status"] == "completed"
    assert df.loc[0, "target_test_acc"] == fit.metrics["target_test"]["accuracy"]
    assert df.loc[0, "best_epoch"] == fit.best_epoch and df.loc[0, "train.lr"] == fit.config["train"]["lr"]


def test_finetune_writes_the_shared_format(tmp_path):
    from da.align import CORALLoss
    from da.transfer import finetune

    split, model = _split_and_model()
    fit = finetune(model, split, [(CORALLoss(), 1.0)], run_dir=tmp_path / "coral", epochs=2, batch_size=32,
                   device="cpu")
    rec = json.loads((tmp_path / "coral" / R.RESULT).read_text())
    assert rec["status"] == R.COMPLETED and fit.run_id == R.run_id(fit.config) == rec["run_id"]
    assert rec["metrics"]["target_test_acc"] == fit.metrics["target_test"]["accuracy"]
    assert R.read_jsonl(tmp_path / "coral" / R.METRICS)[-1]["epoch"] == 1
