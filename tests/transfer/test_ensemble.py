"""softmax_ensemble: the weighted mean of the members' softmax outputs, against a float64 loop."""

import numpy as np
import pytest
import torch

from da.transfer import FeaturizerHead, lenet, mlp
from da.transfer.ensemble import softmax_ensemble
from da.transfer.evaluate import predict_outputs


def _members(widths=(8, 5, 12)):
    return [FeaturizerHead(*mlp(4, hidden=(w,), n_classes=3, seed=s)).double() for s, w in enumerate(widths)]


def test_mean_softmax_matches_a_float64_loop():
    """exp(logits) = sum_m w_m softmax(f_m(x)) (weights normalised), members of different feature widths."""
    models, x = _members(), torch.randn(7, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = [1.0, 3.0, 0.0]
    ens = softmax_ensemble(models, w)
    expected = np.zeros((7, 3))
    for m, wi in zip(models, w):
        expected += wi / sum(w) * torch.softmax(m(x), 1).detach().numpy()
    assert np.allclose(torch.exp(ens(x)).detach().numpy(), expected, rtol=1e-12, atol=0)
    assert np.allclose(torch.exp(softmax_ensemble(models)(x)).detach().numpy(),
                       np.mean([torch.softmax(m(x), 1).detach().numpy() for m in models], 0), rtol=1e-12)


def test_features_are_the_members_side_by_side_and_predict_outputs_reads_it():
    models, x = [m.float() for m in _members()], np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    out = predict_outputs(softmax_ensemble(models), x)
    parts = [predict_outputs(m, x)["features"] for m in models]
    assert out["features"].shape == (6, 25)
    assert np.allclose(out["features"], np.concatenate(parts, 1), rtol=1e-6)
    assert np.allclose(np.exp(out["logits"]).sum(1), 1.0, atol=1e-6)


def test_one_member_is_that_member():
    (m,), x = _members((8,)), torch.randn(5, 4, dtype=torch.float64)
    assert torch.allclose(softmax_ensemble([m])(x).argmax(1), m(x).argmax(1))
    assert torch.allclose(torch.exp(softmax_ensemble([m])(x)), torch.softmax(m(x), 1), rtol=1e-12)


def test_convolutional_members_with_an_example_input():
    models = [FeaturizerHead(*lenet((1, 28, 28), n_classes=10, seed=s)) for s in (0, 1)]
    x = torch.zeros(2, 1, 28, 28)
    ens = softmax_ensemble(models, example=x)
    ref = (torch.softmax(models[0](x), 1) + torch.softmax(models[1](x), 1)) / 2
    assert torch.allclose(torch.exp(ens(x)), ref, atol=1e-6)


@pytest.mark.parametrize("weights, match", [([1.0], "one entry per model"), ([1.0, -1.0, 1.0], "non-negative"),
                                            ([0.0, 0.0, 0.0], "not all zero"), ([1.0, float("nan"), 1.0], "finite")])
def test_bad_weights_get_a_value_error(weights, match):
    with pytest.raises(ValueError, match=match):
        softmax_ensemble(_members(), weights)


def test_no_members_gets_a_value_error():
    with pytest.raises(ValueError, match="at least one model"):
        softmax_ensemble([])
