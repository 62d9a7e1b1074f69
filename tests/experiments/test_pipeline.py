"""One run: the run directory's records, the pretraining cache, diagnostics and ground truth."""

import copy
import json

import numpy as np
import pytest
import yaml

from da.experiments import records as R
from da.experiments.config import config_hash, resolve_config
from da.experiments.pipeline import build_pair, run_experiment, weight_schedule


def test_a_run_writes_its_records_and_result_json_last(tmp_path, tiny):
    cfg = dict(tiny, diagnostics=dict(tiny["diagnostics"], every=1), train=dict(tiny["train"], log_every=2),
               figures=True)
    res = run_experiment(cfg, tmp_path)
    rid = config_hash(resolve_config(cfg))
    d = tmp_path / rid
    assert res["run_id"] == rid and res["status"] == "completed" and R.run_state(d) == "completed"
    for name in ("config.yaml", "metrics.jsonl", "report_before.json", "report_after.json", "model.pt",
                 "run.log", "result.json"):
        assert (d / name).is_file(), name
    assert yaml.safe_load((d / "config.yaml").read_text()) == resolve_config(cfg)
    newest = max(p.stat().st_mtime_ns for p in d.rglob("*") if p.is_file() and p.name != "result.json")
    assert (d / "result.json").stat().st_mtime_ns >= newest
    assert json.loads((d / "result.json").read_text())["metrics"] == res["metrics"]

    recs = R.read_jsonl(d / "metrics.jsonl")
    stages = [r["stage"] for r in recs]
    assert stages[0] == "data" and stages[-1] == "eval"
    assert stages.count("pretrain") == 2 and stages.count("finetune") == 2 and "finetune_step" in stages
    ft = [r for r in recs if r["stage"] == "finetune"]
    assert all("diag/features_mmd2" in r and "diag/features_effective_rank_source" in r for r in ft)

    from da.diagnostics import load_report

    before = json.loads((d / "report_before.json").read_text())
    after = json.loads((d / "report_after.json").read_text())
    assert set(before) >= {"rows", "meta", "accuracy", "ground_truth"}
    assert {r["space"] for r in before["rows"]} == {"inputs", "features"}
    assert load_report(d / "report_after.json").get("mmd_test", space="features")["pvalue"] > 0

    def inputs(rep):  # the same held-out rows and seeds before and after: identical input statistics
        return [(r["name"], r["value"], r["pvalue"]) for r in rep["rows"] if r["space"] == "inputs"]

    assert inputs(before) == inputs(after)
    m = res["metrics"]
    for k in ("target_test_acc", "source_test_acc", "pretrained_target_test_acc", "before_inputs_mmd_p",
              "before_features_mmd2", "after_features_mmd2", "true_mmd2", "true_kl_joint"):
        assert np.isfinite(m[k]), k
    assert "da.transfer" in (d / "run.log").read_text()  # the trainer's per-epoch log lines
    assert not (d / "figures").exists() and "figures" not in res  # the CLI draws them (tests/cli)


def test_pretraining_is_cached_and_shared_by_an_ablation(tmp_path, tiny):
    a = run_experiment(dict(tiny, method="mmd"), tmp_path)
    b = run_experiment(dict(tiny, method="dann", **{"lambda": 0.5}), tmp_path)
    c = run_experiment(dict(tiny, method="mmd", seed=1), tmp_path)
    assert not a["metrics"]["pretrain_cached"] and b["metrics"]["pretrain_cached"]
    assert not c["metrics"]["pretrain_cached"]  # another seed is another pretraining
    assert a["pretrain_key"] == b["pretrain_key"] != c["pretrain_key"]
    assert b["metrics"]["pretrained_target_test_acc"] == a["metrics"]["pretrained_target_test_acc"]
    assert len(list((tmp_path / R.CACHE_DIR / "pretrain").glob("*.pt"))) == 2
    # loading from the cache gives the same run as pretraining in place
    again = run_experiment(dict(tiny, method="mmd"), tmp_path / "fresh")
    assert {k: v for k, v in again["metrics"].items() if k not in ("seconds", "pretrain_cached")} == \
        {k: v for k, v in a["metrics"].items() if k not in ("seconds", "pretrain_cached")}


def test_estimated_input_mmd_matches_the_closed_form(tmp_path, tiny):
    """Rotated Gaussians: the estimated MMD² (bandwidth 1) sits next to DomainPair.ground_truth()'s."""
    cfg = copy.deepcopy(tiny)
    cfg["data"] = {"generator": {"domain": "gaussian", "separation": 2.0, "shift": "rotation", "severity": 90},
                   "n_source": 2000, "n_target": 2000}
    cfg["diagnostics"] = {"tests": [], "gaps": ["mmd2"], "compare": ["inputs"], "bandwidth": 1.0,
                          "max_samples": 400}
    cfg["pretrain"]["epochs"] = 1
    cfg["train"]["epochs"] = 1
    m = run_experiment(cfg, tmp_path)["metrics"]
    pair = build_pair(resolve_config(cfg)["data"])
    assert m["true_mmd2_bandwidth"] == 1.0
    assert m["true_mmd2"] == pytest.approx(pair.ground_truth(bandwidth=1.0)["mmd2"])
    assert m["true_mmd2"] > 0.1 and m["before_inputs_mmd2"] == pytest.approx(m["true_mmd2"], abs=0.04)


def test_label_shift_estimates_are_recorded(tmp_path, tiny):
    cfg = copy.deepcopy(tiny)
    cfg.update(method="source_only", label_shift={"estimators": ["bbse", "mlls"]})
    cfg["data"] = {"generator": {"n_classes": 3, "shift": "label", "severity": 1.0, "params": {"alpha": 1.0}},
                   "n_source": 600, "n_target": 600}
    res = run_experiment(cfg, tmp_path)
    m = res["metrics"]
    assert 0 <= m["before_bbse_l1_error"] <= 2 and 0 <= m["before_mlls_l1_error"] <= 2
    rep = json.loads((tmp_path / res["run_id"] / "report_before.json").read_text())["label_shift"]
    assert np.isclose(sum(rep["estimators"]["mlls"]["target_prior"]), 1.0)
    assert rep["true_prior"] == pytest.approx(build_pair(resolve_config(cfg)["data"]).target.prior)


def test_moons_dann_with_schedules_runs(tmp_path, tiny):
    cfg = copy.deepcopy(tiny)
    cfg.update(method="dann", align=[{"loss": "dann", "weight": {"schedule": "ganin", "max": 0.5},
                                      "params": {"hidden": [8]}}])
    cfg["data"] = {"generator": {"domain": "moons", "shift": "rotation", "severity": 35},
                   "n_source": 200, "n_target": 200}
    cfg["train"].update(lr_schedule="ganin", horizon=10)
    res = run_experiment(cfg, tmp_path)
    ft = [r for r in R.read_jsonl(tmp_path / res["run_id"] / "metrics.jsonl") if r["stage"] == "finetune"]
    assert ft and all(0 <= r["lambda/dann"] <= 0.5 for r in ft)
    # result.json records the loss's constructor arguments (config params win over make_alignment's)
    (loss,) = res["losses"]
    assert loss["class"] == "DANNLoss" and loss["params"]["hidden"] == [8]


def test_a_config_with_recipe_true_trains_under_the_methods_recipe(tmp_path, tiny):
    res = run_experiment(dict(tiny, method="cdan", recipe=True), tmp_path)
    train = json.loads((tmp_path / res["run_id"] / "result.json").read_text())["config"]["train"]
    assert (train["optimizer"], train["lr"], train["lr_schedule"]) == ("sgd", 0.1, "ganin")
    assert res["selection"] == "source_val_drift" and res["status"] == "completed"


def test_weight_schedules():
    assert weight_schedule(0.3, 2.0)(0.7) == pytest.approx(0.6)
    g = weight_schedule({"schedule": "ganin", "max": 1.0, "gamma": 10.0}, 1.0)
    assert g(0.0) == 0.0 and g(1.0) == pytest.approx(2 / (1 + np.exp(-10)) - 1)
    lin = weight_schedule({"schedule": "linear", "start": 0.0, "end": 2.0}, 0.5)
    assert lin(0.5) == pytest.approx(0.5) and "linear" in lin.__name__


def test_a_failed_run_leaves_failed_json(tmp_path, tiny):
    cfg = dict(tiny, train={"lr": 1e8, "optimizer": "sgd", "epochs": 2, "batch_size": 64})
    with pytest.raises(Exception, match="diverged"):
        run_experiment(cfg, tmp_path)
    d = tmp_path / config_hash(resolve_config(cfg))
    assert R.run_state(d) == "failed" and "diverged" in R.read_failure(d)["error"]


def test_method_auto_in_a_config_records_every_candidate_and_the_choice(tmp_path):
    """`method: auto`: candidates trained from the pretrained model, chosen without target labels."""
    from da.experiments.pipeline import run_experiment

    cfg = {"name": "auto", "figures": False, "seed": 0, "method": "auto",
           "data": {"generator": {"domain": "gaussian", "shift": "rotation", "severity": 20},
                    "n_source": 160, "n_target": 160},
           "model": {"hidden": [8]}, "pretrain": {"epochs": 2, "batch_size": 32},
           "train": {"epochs": 2, "batch_size": 32}, "diagnostics": {"before": False, "after": False}}
    res = run_experiment(cfg, tmp_path)
    auto = res["auto"]
    names = [c["name"] for c in auto["candidates"]]
    assert "source_only" in names and auto["chosen"] in names and auto["why"]
    from da.transfer.auto import AUTO_CANDIDATE_TRAINING

    assert auto["candidate_training"] == AUTO_CANDIDATE_TRAINING  # the estimator's default, recorded
    assert res["oracle"] is False and 0 <= res["metrics"]["target_test_acc"] <= 1


def test_the_auto_section_reaches_the_choice_and_an_ensemble_is_the_runs_model(tmp_path):
    """`auto: {rule: ensemble, candidates: ...}`: the run's model, checkpoint and metrics are the mean softmax of
    the members, rebuilt here from the checkpoint and checked against a float64 average of their softmaxes."""
    import torch

    from da.experiments.build import build_model
    from da.transfer import load_checkpoint

    cfg = {"name": "auto_ens", "figures": False, "seed": 0, "method": "auto",
           "data": {"generator": {"domain": "gaussian", "shift": "rotation", "severity": 20},
                    "n_source": 160, "n_target": 160},
           "model": {"hidden": [8]}, "pretrain": {"epochs": 2, "batch_size": 32},
           "train": {"epochs": 2, "batch_size": 32}, "diagnostics": {"before": False, "after": True},
           "auto": {"rule": "ensemble", "tolerance": None, "finetune_epochs": 1,
                    "candidates": [{"name": "source_only"}, {"name": "coral", "method": "coral"},
                                   {"name": "mmd3", "method": "mmd", "weight": 3}]}}
    res = run_experiment(cfg, tmp_path)
    auto = res["auto"]
    assert [c["name"] for c in auto["candidates"]] == ["source_only", "coral", "mmd3"]
    assert auto["candidates"][2]["weight"] == 3.0 and auto["candidate_epochs"] == 1
    assert auto["rule"] == "ensemble" and auto["chosen"] == "ensemble"
    assert auto["members"] == ["source_only", "coral", "mmd3"]  # no guard: every candidate
    state = load_checkpoint(tmp_path / res["run_id"] / "model.pt")["state_dict"]
    d = resolve_config(cfg)["data"]
    pair = build_pair(d)
    split = pair.sample(160, 160, seed=0, val_frac=d["val_frac"], test_frac=d["test_frac"])
    probs = []
    for m in range(3):
        member = build_model(resolve_config(cfg)["model"], pair, 0)
        member.featurizer.load_state_dict({k.split(".", 3)[3]: v for k, v in state.items()
                                           if k.startswith(f"featurizer.members.{m}.")})
        member.head.load_state_dict({k.split(".", 3)[3]: v for k, v in state.items()
                                     if k.startswith(f"head.members.{m}.")})
        member.eval().double()
        with torch.no_grad():
            probs.append(torch.softmax(member(torch.as_tensor(split.target_test.X, dtype=torch.float64)), 1))
    y = split.eval_labels.test  # target labels: evaluation only
    acc = float((torch.stack(probs).mean(0).argmax(1).numpy() == y).mean())
    assert res["metrics"]["target_test_acc"] == pytest.approx(acc, abs=1e-12)
    after = json.loads((tmp_path / res["run_id"] / "report_after.json").read_text())
    assert after["meta"]["feature_dim"] == 3 * 8  # diagnosed on the three members' features side by side


def test_method_auto_without_pretraining_trains_source_only_as_method_source_only_does(tmp_path):
    """pretrain.epochs 0: the reference candidate is `method: source_only`'s model, not the untrained network."""
    cfg = {"name": "auto0", "figures": False, "seed": 0, "method": "auto",
           "data": {"generator": {"domain": "gaussian", "shift": "rotation", "severity": 20},
                    "n_source": 160, "n_target": 160},
           "model": {"hidden": [8]}, "pretrain": {"epochs": 0},
           "train": {"epochs": 3, "batch_size": 32}, "diagnostics": {"before": False, "after": False},
           "auto": {"candidate_training": "scratch", "candidates": [{"name": "source_only"},
                                                                    {"name": "coral", "method": "coral"}]}}
    auto = run_experiment(cfg, tmp_path)["auto"]
    plain = run_experiment({**cfg, "method": "source_only", "auto": None}, tmp_path)
    so = auto["candidates"][0]
    assert so["name"] == "source_only" and so["best_epoch"] == plain["metrics"]["best_epoch"]
    assert so["scores"]["source_val"] == pytest.approx(plain["metrics"]["source_val_acc"], abs=1e-12)
