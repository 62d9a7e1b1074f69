"""TrainConfig is the one declaration of the training settings: YAML sections are derived from it."""

from dataclasses import MISSING, fields

import numpy as np
import pytest

from da.experiments.config import ConfigError, defaults, resolve_config
from da.transfer import TrainConfig, finetune, mlp


def _default(f):
    return f.default if f.default is not MISSING else f.default_factory()


def test_every_field_is_a_yaml_key_with_the_same_default():
    cfg = defaults()
    for section in ("train", "pretrain"):
        names = [f.name for f in fields(TrainConfig) if f.name != "seed"]
        assert list(cfg[section]) == names
    for f in fields(TrainConfig):
        if f.name in ("seed",):
            continue
        want = _default(f)
        want = list(want) if isinstance(want, tuple) else want
        assert cfg["train"][f.name] == want, f.name
        if f.name != "epochs":
            assert cfg["pretrain"][f.name] == want, f.name
    assert cfg["pretrain"]["epochs"] == TrainConfig().epochs


def test_yaml_and_python_reject_the_same_values_naming_the_key():
    for key, bad in [("lr", 0), ("batch_size", 0), ("optimizer", "lbfgs"), ("momentum", 2.0),
                     ("precision", "8"), ("loggers", ["wandb"]), ("val_fraction", 1.0)]:
        with pytest.raises(ConfigError, match=f"train.{key}"):
            resolve_config({"data": {"generator": {}}, "train": {key: bad}})
        with pytest.raises(ValueError, match=key):
            TrainConfig.from_kwargs(**{key: bad})
    with pytest.raises(ConfigError, match=r"train.optimizr: unknown key \(did you mean 'optimizer'\?\)"):
        resolve_config({"data": {"generator": {}}, "train": {"optimizr": "sgd"}})
    # pretraining may be skipped, fine-tuning may not
    assert resolve_config({"data": {"generator": {}}, "pretrain": {"epochs": 0}})["pretrain"]["epochs"] == 0
    with pytest.raises(ConfigError, match="train.epochs"):
        resolve_config({"data": {"generator": {}}, "train": {"epochs": 0}})


def test_fields_that_yaml_could_not_reach_before_reach_the_trainer(tmp_path):
    from da.experiments.pipeline import run_experiment

    cfg = {"name": "t", "figures": False, "seed": 0, "method": "coral",
           "data": {"generator": {"domain": "gaussian", "shift": "rotation", "severity": 30},
                    "n_source": 120, "n_target": 120},
           "model": {"hidden": [8]}, "pretrain": {"epochs": 1},
           "train": {"epochs": 2, "steps_per_epoch": 3, "source_weight": 0.5, "record_criteria": ["dev"],
                     "log_every": 1, "batch_size": 16},
           "diagnostics": {"before": False, "after": False}}
    res = run_experiment(cfg, tmp_path)
    from da.experiments.records import read_jsonl

    recs = [r for r in read_jsonl(tmp_path / res["run_id"] / "metrics.jsonl") if r.get("stage") == "finetune"]
    assert len(recs) == 2 and recs[-1]["step"] == 6  # steps_per_epoch reached the loop
    assert all("selection/dev" in r for r in recs)  # record_criteria too
    steps = [r for r in read_jsonl(tmp_path / res["run_id"] / "metrics.jsonl")
             if r.get("stage") == "finetune_step"]
    assert [s["step"] for s in steps] == list(range(6))  # log_every=1
    # source_weight scales the CE in the total
    s0 = steps[0]
    assert s0["loss/total"] == pytest.approx(0.5 * s0["loss/ce_source"] + s0["lambda/coral"] * s0["loss/coral"])


def test_bf16_autocast_on_cpu_keeps_the_reversal_and_the_guard():
    """DANN under precision='bf16' on the CPU: same reversed gradient as float32 (to bf16 precision);
    a NaN term still stops the run at its step."""
    import torch

    from da.align import DANNLoss
    from da.transfer import TrainingDivergedError

    torch.manual_seed(0)
    loss = DANNLoss(4, hidden=(8,))
    fs = torch.randn(16, 4, requires_grad=True)
    ft = torch.randn(16, 4, requires_grad=True)
    grads = {}
    for prec in ("32", "bf16"):
        fs.grad = ft.grad = None
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if prec == "bf16" else torch.autocast("cpu", enabled=False)
        with ctx:
            v = loss(fs, ft, p=1.0)
        v.float().backward()
        grads[prec] = fs.grad.clone()
        # the discriminator's own gradient has the opposite sign of the featurizer's
    disc_in = torch.cat([fs, ft]).detach().requires_grad_(True)
    logit = loss.discriminator(disc_in).squeeze(-1)
    target = torch.cat([torch.ones(16), torch.zeros(16)])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, target)
    (g,) = torch.autograd.grad(bce, disc_in)
    lam = loss.last_stats_.get("lambda", 1.0) if loss.last_stats_ else 1.0
    assert torch.allclose(grads["32"], -lam * g[:16], atol=1e-6)
    assert torch.allclose(grads["bf16"], grads["32"], rtol=0.05, atol=2e-3)

    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(64, 3)).astype("float32"), rng.integers(0, 2, 64)
    Xt = rng.normal(size=(64, 3)).astype("float32")

    class NaNAt(torch.nn.Module):
        def forward(self, fs, ft, **kw):
            return fs.sum() * float("nan")

    with pytest.raises(TrainingDivergedError, match="step 0: loss term 'nan"):
        finetune(mlp(3, (8,), 2), (Xs, ys, Xt), [("nan_term", NaNAt(), 1.0)], epochs=1, batch_size=16,
                 precision="bf16", device="cpu")
    res = finetune(mlp(3, (8,), 2), (Xs, ys, Xt), [(DANNLoss(8, hidden=(8,)), 1.0)], epochs=2, batch_size=16,
                   precision="bf16", device="cpu")
    assert np.isfinite(res.history[-1]["loss/total"]) and res.config["train"]["precision"] == "bf16"


def test_show_defaults_lists_every_train_field_with_its_doc(capsys):
    from da.cli.main import main

    assert main(["run", "--show-defaults"]) == 0
    out = capsys.readouterr().out
    for f in fields(TrainConfig):
        if f.name == "seed":
            continue
        line = next(x for x in out.splitlines() if x.startswith(f"train.{f.name}: "))
        assert f.metadata["leaf"].doc[:20] in line
        assert any(x.startswith(f"pretrain.{f.name}: ") for x in out.splitlines())


def test_compile_wraps_the_training_forward_and_channels_last_stays_off_on_the_cpu(monkeypatch):
    import torch

    from da.align import CORALLoss

    compiled = []

    def fake_compile(fn):
        compiled.append(fn)
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(48, 3)).astype("float32"), rng.integers(0, 2, 48)
    Xt = rng.normal(size=(48, 3)).astype("float32")
    kw = dict(epochs=1, batch_size=16, device="cpu")
    a = finetune(mlp(3, (8,), 2, seed=0), (Xs, ys, Xt), [(CORALLoss(), 1.0)], compile=True, **kw)
    b = finetune(mlp(3, (8,), 2, seed=0), (Xs, ys, Xt), [(CORALLoss(), 1.0)], **kw)
    assert len(compiled) == 1 and a.config["train"]["compile"] is True
    assert a.history[-1]["loss/total"] == b.history[-1]["loss/total"]  # same step, compiled or not
    assert all(p.is_contiguous() for p in a.model.parameters())  # no channels-last on the CPU
