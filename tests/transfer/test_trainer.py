"""The one training loop: objective terms, schedules, records, determinism, divergence guard, bad inputs."""

import json
import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from da._io import torch_load
from da.align import CORALLoss, DANNLoss, MMDLoss
from da.transfer import (FeaturizerHead, TrainConfig, TrainingDivergedError, finetune, lenet, make_split,
                         mlp)


def _model(seed=0, hidden=(16, 8)):
    return FeaturizerHead(*mlp(4, hidden, 3, seed=seed))


class NaNAt(torch.nn.Module):
    """A loss that is 0 until call ``k`` (0-based), then NaN."""

    def __init__(self, k):
        super().__init__()
        self.k, self.calls = k, 0

    def forward(self, fs, ft, **kw):
        self.calls += 1
        return (fs.sum() * 0.0) + (float("nan") if self.calls > self.k else 0.0)


def test_same_seed_same_metrics_on_cpu(split, fast):
    runs = [finetune(_model(), split, [(DANNLoss(8, hidden=(8,)), 1.0)], seed=7, **fast) for _ in range(2)]
    assert runs[0].metrics == runs[1].metrics
    assert [h["loss/total"] for h in runs[0].history] == [h["loss/total"] for h in runs[1].history]
    other = finetune(_model(), split, [(DANNLoss(8, hidden=(8,)), 1.0)], seed=8, **fast)
    assert [h["loss/total"] for h in other.history] != [h["loss/total"] for h in runs[0].history]


def test_training_does_not_touch_global_rng(split, fast):
    torch.manual_seed(0)
    a = torch.rand(1)
    torch.manual_seed(0)
    finetune(_model(), split, **fast)
    assert torch.equal(torch.rand(1), a)


def test_records_every_term_lambda_lr_and_discriminator(split, fast):
    res = finetune(_model(), split, [(DANNLoss(8, hidden=(8,)), 0.5), ("mmd", MMDLoss(), lambda p: 2 * p)],
                   log_every=1, **fast)
    h = res.history[-1]
    for key in ("loss/ce_source", "loss/dann", "loss/mmd", "loss/total", "lambda/dann", "lambda/mmd", "lr",
                "dann/disc_acc", "source_train_acc", "source_val_acc", "target_val_acc", "gap_val_acc",
                "selection/source_val"):
        assert key in h, key
    assert h["selection"] == "source_val" and h["oracle"] is False
    assert all(s["lambda/mmd"] == pytest.approx(2 * s["p"]) for s in res.steps)
    assert all(s["lambda/dann"] == 0.5 for s in res.steps)
    assert len(res.steps) == res.n_steps
    assert {"source_batch_acc", "target_batch_acc", "dann/disc_acc", "loss/dann"} <= set(res.steps[0])
    assert res.config["losses"][0]["name"] == "dann"


def test_total_is_weighted_sum_of_terms(split, fast):
    res = finetune(_model(), split, [(CORALLoss(), 3.0)], log_every=1, **fast)
    for s in res.steps:
        assert s["loss/total"] == pytest.approx(s["loss/ce_source"] + 3.0 * s["loss/coral"], rel=1e-5)


def test_discriminator_has_its_own_param_group(split, fast, monkeypatch):
    import da.transfer.trainer as trainer_module

    seen = {}
    orig = trainer_module.make_optimizer

    def capture(config, groups):
        opt = orig(config, groups)
        seen.update({g["name"]: g["lr"] for g in opt.param_groups})
        return opt

    monkeypatch.setattr(trainer_module, "make_optimizer", capture)
    tr = trainer_module.Trainer(dict(fast, discriminator_lr_factor=10.0), [(DANNLoss(8, hidden=(8,)), 1.0)])
    tr.fit(_model(), split)
    assert seen == {"backbone": pytest.approx(1e-2), "head": pytest.approx(1e-2),
                    "discriminator/dann": pytest.approx(0.1)}


@pytest.mark.parametrize("schedule", ["ganin", "cosine", "constant"])
def test_lr_schedules_follow_progress(split, fast, schedule):
    res = finetune(_model(), split, lr_schedule=schedule, log_every=1, **fast)
    f = {"ganin": lambda p: 1 / (1 + 10 * p) ** 0.75, "cosine": lambda p: 0.5 * (1 + math.cos(math.pi * p)),
         "constant": lambda p: 1.0}[schedule]
    for s in res.steps:
        assert s["lr"] == pytest.approx(1e-2 * f(s["p"]))


def test_horizon_sets_progress(split, fast):
    res = finetune(_model(), split, horizon=4, log_every=1, **fast)
    assert [s["p"] for s in res.steps[:6]] == [0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert res.config["train"]["horizon"] == 4
    with pytest.raises(ValueError, match="horizon"):
        finetune(_model(), split, horizon=0, **fast)


def test_labelled_target_enters_the_objective(split_fewshot, fast):
    res = finetune(_model(), split_fewshot, **fast)
    assert "loss/ce_target" in res.history[0]
    res = finetune(_model(), split_fewshot, target_weight=0.0, **fast)
    assert "loss/ce_target" not in res.history[0]


def test_selection_keeps_best_epoch_and_never_reads_target_labels(split, fast):
    cfg = dict(fast, epochs=5)
    a = finetune(_model(), split, [(CORALLoss(), 1.0)], selection="entropy", **cfg)
    scores = [h["selection/entropy"] for h in a.history]
    assert a.best_epoch == int(np.argmax(scores)) and a.best_score == max(scores)
    shuffled = replace(split, eval_labels=replace(split.eval_labels, val=np.roll(split.eval_labels.val, 1)))
    b = finetune(_model(), shuffled, [(CORALLoss(), 1.0)], selection="entropy", **cfg)
    assert b.best_epoch == a.best_epoch
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))


@pytest.mark.parametrize("criterion", ["source_val", "source_val_loss", "source_val_drift", "iwcv", "dev", "entropy", "snd",
                                       "im", "bnm", "class_ami",
                                       "last"])
def test_every_named_criterion_runs_and_is_recorded(split, fast, criterion):
    res = finetune(_model(), split, [(CORALLoss(), 1.0)], selection=criterion, **dict(fast, epochs=2))
    assert res.selection == criterion and res.config["selection"] == criterion and not res.oracle
    assert all(h["selection"] == criterion for h in res.history)


def test_oracle_is_marked_and_warned(split, fast, tmp_path):
    with pytest.warns(UserWarning, match="oracle"):
        res = finetune(_model(), split, selection="oracle", run_dir=tmp_path, **fast)
    assert res.oracle and all(h["oracle"] for h in res.history)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["oracle"] is True and result["selection"] == "oracle"


def test_early_stopping(split, fast):
    res = finetune(_model(), split, selection="last", patience=1, **dict(fast, epochs=4))
    assert not res.stopped_early  # "last" always improves
    res = finetune(_model(), split, patience=1, **dict(fast, epochs=6, lr=1e-9))
    assert res.stopped_early and len(res.history) < 6


def test_hooks_every_k_epochs(split, fast):
    calls = []

    def gap(model, epoch):
        calls.append(epoch)
        return {"gap/custom": float(epoch)}

    res = finetune(_model(), split, hooks=[(2, gap)], **dict(fast, epochs=5))
    assert calls == [1, 3]
    assert [h.get("gap/custom") for h in res.history] == [None, 1.0, None, 3.0, None]


def test_run_dir_records_and_checkpoints(split, fast, tmp_path):
    res = finetune(_model(), split, [(CORALLoss(), 1.0)], run_dir=tmp_path, **fast)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "completed" and result["run_id"] == res.run_id and result["selection"] == "source_val"
    assert result["metrics"]["target_test_acc"] == res.metrics["target_test"]["accuracy"]
    ckpt = torch_load(tmp_path / "best.pt")
    assert set(ckpt) == {"state_dict", "config", "metrics"}
    fresh = _model(seed=99)
    fresh.load_state_dict(ckpt["state_dict"])
    x = torch.as_tensor(split.target_test.X)
    assert torch.allclose(fresh(x), res.model(x))
    assert (tmp_path / "steps.jsonl").exists() and (tmp_path / "last_good.pt").exists()


def test_run_id_is_a_hash_of_the_resolved_config(split, fast):
    a = finetune(_model(), split, **fast)
    b = finetune(_model(), split, **fast)
    c = finetune(_model(), split, **dict(fast, lr=0.02))
    assert a.run_id == b.run_id != c.run_id


def test_divergence_names_step_and_term_and_keeps_last_good(split, fast, tmp_path):
    steps_per_epoch = math.ceil(len(split.source_train) / 32)
    k = steps_per_epoch + 3  # inside the second epoch
    model = _model()
    with pytest.raises(TrainingDivergedError, match=rf"step {k}: loss term 'nan_loss'") as err:
        finetune(model, split, [("nan_loss", NaNAt(k), 1.0)], run_dir=tmp_path, **fast)
    assert err.value.step == k and err.value.term == "nan_loss" and isinstance(err.value, RuntimeError)
    good = torch_load(err.value.checkpoint)
    assert good["metrics"]["epoch"] == 0
    assert all(torch.equal(v, good["state_dict"][n]) for n, v in model.state_dict().items())
    failed = json.loads((tmp_path / "failed.json").read_text())
    assert failed["status"] == "failed" and failed["step"] == k and failed["term"] == "nan_loss"
    assert failed["error_type"] == "TrainingDivergedError" and not (tmp_path / "result.json").exists()


def test_featurizer_head_mismatch_is_a_value_error(split, fast):
    f, _ = mlp(4, (8,), 3)
    _, h = mlp(4, (6,), 3)
    with pytest.raises(ValueError, match="featurizer outputs 8 features but the head expects in_features=6"):
        finetune((f, h), split, **fast)
    with pytest.raises(ValueError, match="DANNLoss expects in_features=5"):
        finetune(_model(), split, [(DANNLoss(5, hidden=(4,)), 1.0)], **fast)


def test_bad_inputs(split, fast):
    with pytest.raises(ValueError, match="unknown selection criterion 'nope'; valid: bnm, class_ami, dev, entropy, im, iwcv"):
        finetune(_model(), split, selection="nope", **fast)
    empty_target = replace(split, target_train=replace(split.target_train, X=split.target_train.X[:0]))
    with pytest.raises(ValueError, match="target training part has no samples"):
        finetune(_model(), empty_target, [(CORALLoss(), 1.0)], **fast)
    rng = np.random.default_rng(0)
    Xs, ys, Xt = rng.normal(size=(20, 4)), rng.integers(0, 3, 20), rng.normal(size=(5, 4))
    with pytest.raises(ValueError, match="n_target_labeled=6 exceeds the 5 target samples"):
        make_split(Xs, ys, Xt, yt_labeled=np.zeros(6, int), labeled_idx=np.arange(6))
    with pytest.raises(ValueError, match="unknown config keys"):
        finetune(_model(), split, epochz=3)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig.from_kwargs(optimizer="lbfgs")


def test_n_target_labeled_larger_than_target_set(blobs_pair):
    with pytest.raises(ValueError, match="n_target_labeled"):
        blobs_pair.sample(300, 50, seed=0, n_target_labeled=100)


def test_arrays_and_tensors_are_accepted(fast):
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(80, 4)).astype("float32"), rng.integers(0, 3, 80)
    Xt = rng.normal(size=(60, 4)).astype("float32")
    a = finetune(_model(), (Xs, ys, Xt), [(CORALLoss(), 1.0)], **fast)
    b = finetune(_model(), dict(Xs=torch.as_tensor(Xs), ys=torch.as_tensor(ys), Xt=torch.as_tensor(Xt)),
                 [(CORALLoss(), 1.0)], **fast)
    assert a.metrics == b.metrics


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_optimizers_and_grad_clip(split, fast, optimizer):
    res = finetune(_model(), split, optimizer=optimizer, grad_clip=1.0, **fast)
    assert res.config["train"]["optimizer"] == optimizer


def test_cnn_on_flat_images_with_alignment(fast):
    rng = np.random.default_rng(0)
    Xs, ys = rng.random((64, 64)).astype("float32"), rng.integers(0, 10, 64)
    Xt = rng.random((48, 64)).astype("float32")
    model = FeaturizerHead(*lenet((1, 8, 8), 10, channels=(4, 8), hidden=16))
    res = finetune(model, (Xs, ys, Xt), [(DANNLoss(16, hidden=(8,)), 1.0)], **dict(fast, epochs=1))
    assert res.config["feature_dim"] == 16


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_with_mixed_precision(split, fast):
    res = finetune(_model(), split, [(DANNLoss(8, hidden=(8,)), 1.0)], **dict(fast, device="cuda", precision="bf16"))
    assert next(res.model.parameters()).is_cuda


def test_recorded_criteria_allow_selection_from_records(split, fast):
    from da.transfer import select_from_history

    names = ("iwcv", "dev", "entropy", "snd", "oracle")
    res = finetune(_model(), split, [(CORALLoss(), 1.0)], record_criteria=names, **dict(fast, epochs=4))
    assert not res.oracle and res.selection == "source_val"  # recording the oracle does not select with it
    for h in res.history:
        assert {f"selection/{n}" for n in names + ("source_val",)} <= set(h) and "target_test_acc" in h
    # the run's own selection, redone from its records
    assert select_from_history(res.history, "source_val")["epoch"] == res.best_epoch
    again = finetune(_model(), split, [(CORALLoss(), 1.0)], selection="snd", **dict(fast, epochs=4))
    assert select_from_history(res.history, "snd")["epoch"] == again.best_epoch
    with pytest.raises(ValueError, match="record_criteria"):
        select_from_history(res.history, "last")
    with pytest.raises(ValueError, match="unknown selection criterion"):
        finetune(_model(), split, record_criteria=("nope",), **fast)


def test_adversarial_loss_under_adam_on_a_memorised_source_warns():
    """Well-separated blobs: the source CE falls below MEMORISED_SOURCE_CE within a few epochs
    in all three runs. With DANN under Adam that is the digits->MNIST failure mode, and it is
    warned once, naming the first epoch below the threshold; DANN under SGD and MMD (no game)
    under Adam are not warned."""
    from da.data import DomainPair, GaussianDomain
    from da.transfer.trainer import MEMORISED_SOURCE_CE

    means = 12.0 * np.array([[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    covs = np.stack([np.eye(4) * 0.5] * 3)
    split = DomainPair(GaussianDomain(means, covs), GaussianDomain(means + 1.0, covs)).sample(300, 200, seed=0)

    def run(loss, **kw):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = finetune(_model(), split, [(loss, 1.0)], epochs=12, batch_size=32, device="cpu", seed=0,
                           momentum=0.0, **kw)
        below = [r["epoch"] for r in res.history if r["loss/ce_source"] < MEMORISED_SOURCE_CE]
        return below, [str(w.message) for w in caught if "memorised" in str(w.message)]

    below, msgs = run(DANNLoss(8, hidden=(16,), seed=0), optimizer="adam", lr=3e-2)
    assert below and len(msgs) == 1
    assert msgs[0].startswith(f"epoch {below[0]}:") and "optimizer='sgd'" in msgs[0]
    for loss, kw in ((DANNLoss(8, hidden=(16,), seed=0), dict(optimizer="sgd", lr=0.3)),
                     (MMDLoss(), dict(optimizer="adam", lr=3e-2))):
        below, msgs = run(loss, **kw)
        assert below and msgs == [], type(loss).__name__
