"""Pretraining checkpoints (weights_only loading) and the baselines on the same footing."""

import numpy as np
import pytest
import torch

from da.transfer import (FeaturizerHead, finetune, finetune_no_align, load_checkpoint, mlp, pretrain,
                         scratch, source_only, target_only)


def _model(seed=0):
    return FeaturizerHead(*mlp(4, (16, 8), 3, seed=seed))


def test_pretrain_writes_a_safe_checkpoint(split, fast, tmp_path):
    res = pretrain(_model(), split, checkpoint=tmp_path / "pre.pt", **fast)
    ckpt = torch.load(tmp_path / "pre.pt", weights_only=True)
    assert ckpt["config"]["stage"] == "pretrain" and ckpt["config"]["sizes"]["target_train"] == 0
    assert ckpt["metrics"]["source_val"]["accuracy"] == res.metrics["source_val"]["accuracy"]
    fresh = _model(seed=5)
    load_checkpoint(tmp_path / "pre.pt", fresh)
    x = torch.as_tensor(split.source_val.X)
    assert torch.equal(fresh(x), res.model(x))
    arrays = pretrain(_model(), (split.source_train.X, split.source_train.y), **fast)
    assert arrays.metrics["source_val"]["n"] == round(0.1 * len(split.source_train))
    with pytest.raises(ValueError, match="selection must be"):
        pretrain(_model(), split, selection="entropy", **fast)


def test_pretrain_then_finetune_starts_from_checkpoint(split, fast, tmp_path):
    pretrain(_model(), split, checkpoint=tmp_path / "pre.pt", **fast)
    m = _model(seed=3)
    load_checkpoint(tmp_path / "pre.pt", m)
    res = finetune(m, split, "coral", **fast)
    assert res.metrics["target_test"]["accuracy"] > 0.5


def test_source_only_ignores_target_labels(split_fewshot, fast):
    res = source_only(_model(), split_fewshot, **fast)
    assert res.config["baseline"] == "source_only" and "loss/ce_target" not in res.history[0]
    assert not res.oracle


def test_finetune_no_align_uses_labelled_target(split_fewshot, fast):
    res = finetune_no_align(_model(), split_fewshot, source_weight=0.0, **fast)
    assert "loss/ce_target" in res.history[0] and "loss/ce_source" not in res.history[0]
    assert res.config["train"]["steps_per_epoch"] == 1  # 12 labelled examples, batch 32


def test_scratch_needs_labels_and_selects_last(split, split_fewshot, fast):
    with pytest.raises(ValueError, match="n_target_labeled"):
        scratch(_model(), split, **fast)
    res = scratch(_model(), split_fewshot, **fast)
    assert res.selection == "last" and res.best_epoch == 2


def test_target_only_is_marked_oracle(split, fast, tmp_path):
    with pytest.warns(UserWarning, match="ORACLE"):
        res = target_only(_model(), split, run_dir=tmp_path, **fast)
    assert res.oracle and res.config["oracle"] and all(h["oracle"] for h in res.history)
    assert res.metrics["target_test"]["accuracy"] > 0.8
    assert '"oracle": true' in (tmp_path / "result.json").read_text()
    with pytest.raises(ValueError, match="Split"):
        target_only(_model(), (np.zeros((4, 4)), np.zeros(4, int)), **fast)
