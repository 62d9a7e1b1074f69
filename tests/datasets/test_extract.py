"""Batched extraction equals one full forward pass on the same rows, under no_grad, on a seeded capped subsample."""

import numpy as np
import pytest
import torch

from da.datasets import extract_outputs, subsample_indices
from da.datasets.adapters import ArrayDataset
from da.transfer import FeaturizerHead, mlp


def _model():
    f, h = mlp(5, (7,), 3, dropout=0.5, seed=0)
    return FeaturizerHead(f, h)


def test_matches_full_forward_on_the_subsample():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 5)).astype(np.float32), rng.integers(0, 3, 50)
    model = _model().train()
    (feats, logits), labels, idx = extract_outputs(model.features_and_logits, ArrayDataset(X, y),
                                                   max_samples=20, seed=1, batch_size=6)
    assert model.training, "the module's mode is restored"
    np.testing.assert_array_equal(idx, subsample_indices(50, 20, seed=1))
    assert len(idx) == 20 and len(np.unique(idx)) == 20
    model.eval()
    with torch.no_grad():  # reference: one eval-mode forward on the same rows (dropout off)
        ref_f, ref_l = model.features_and_logits(torch.from_numpy(X[idx]))
    torch.testing.assert_close(feats, ref_f)
    torch.testing.assert_close(logits, ref_l)
    assert not feats.requires_grad and labels.tolist() == y[idx].tolist()


def test_seeded_all_rows_and_restricted_indices():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    ds = ArrayDataset(X)  # unlabelled items
    out, labels, idx = extract_outputs(lambda x: x.sum(1), ds, batch_size=7)
    assert labels is None and idx.tolist() == list(range(20))
    torch.testing.assert_close(out, torch.from_numpy(X.sum(1)))
    a = extract_outputs(lambda x: x, ds, max_samples=5, seed=3, indices=np.arange(10, 20))[2]
    b = extract_outputs(lambda x: x, ds, max_samples=5, seed=3, indices=np.arange(10, 20))[2]
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 10 and a.size == 5


def test_errors():
    with pytest.raises(ValueError, match="empty"):
        extract_outputs(lambda x: x, ArrayDataset(np.zeros((3, 2))), indices=[])
    with pytest.raises(ValueError, match="max_samples"):
        subsample_indices(10, 0)
