"""InformationMaximizationLoss against a float64 scipy reference, its closed forms, its gradient
(torch.autograd.gradcheck) and its bad inputs."""

import math

import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import entropy

from da.align import InformationMaximizationLoss


def _reference(logits: np.ndarray, beta: float) -> float:
    """mean_j H(p_j) - beta H(mean_j p_j), in float64 with scipy."""
    p = softmax(logits.astype(np.float64), axis=1)
    return float(np.mean([entropy(row) for row in p]) - beta * entropy(p.mean(0)))


def _call(loss, logits):
    n = logits.shape[0]
    return loss(torch.zeros(n, 2, dtype=logits.dtype), torch.zeros(n, 2, dtype=logits.dtype), logits_t=logits)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_value_matches_a_float64_scipy_reference(beta, seed):
    z = np.random.default_rng(seed).normal(0, 3, (17, 5))
    loss = InformationMaximizationLoss(diversity=beta)
    got = _call(loss, torch.tensor(z))
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(_reference(z, beta), rel=1e-12, abs=1e-12)
    p = softmax(z, axis=1)
    assert loss.last_stats_["entropy"] == pytest.approx(np.mean([entropy(r) for r in p]), rel=1e-12)
    assert loss.last_stats_["marginal_entropy"] == pytest.approx(entropy(p.mean(0)), rel=1e-12)
    # float32 agrees to float32 round-off
    assert float(_call(loss, torch.tensor(z, dtype=torch.float32))) == pytest.approx(_reference(z, beta), abs=1e-5)


def test_closed_forms():
    loss = InformationMaximizationLoss()
    c = 4
    balanced = torch.eye(c, dtype=torch.float64).repeat(3, 1) * 200.0  # one-hot, every class equally often
    assert float(_call(loss, balanced)) == pytest.approx(-math.log(c), abs=1e-12)
    collapsed = torch.zeros(6, c, dtype=torch.float64)
    collapsed[:, 2] = 200.0  # one-hot, all in one class: no entropy, no diversity
    assert float(_call(loss, collapsed)) == pytest.approx(0.0, abs=1e-12)
    uniform = torch.zeros(5, c, dtype=torch.float64)  # every row uniform: H(p_j) = H(mean) = log C
    for beta in (0.0, 1.0, 2.0):
        got = float(_call(InformationMaximizationLoss(diversity=beta), uniform))
        assert got == pytest.approx((1 - beta) * math.log(c), abs=1e-12)


def test_gradient_matches_finite_differences():
    z = torch.tensor(np.random.default_rng(3).normal(0, 2, (7, 3)), requires_grad=True)
    fs = torch.zeros(7, 2, dtype=torch.float64)
    loss = InformationMaximizationLoss(diversity=0.7)
    assert torch.autograd.gradcheck(lambda x: loss(fs, fs, logits_t=x), (z,))


def test_a_class_with_no_mass_keeps_the_gradient_finite():
    z = torch.zeros(6, 3)
    z[:, 2] = -1e4  # exp underflows to 0 in float32: the class's mean probability is exactly 0
    z.requires_grad_()
    value = _call(InformationMaximizationLoss(), z)
    value.backward()
    assert bool(torch.isfinite(value)) and bool(torch.isfinite(z.grad).all())
    # the two classes with mass: -log 2 + log 2 = 0 (uniform rows over them)
    assert float(value.detach()) == pytest.approx(0.0, abs=1e-6)


def test_the_features_do_not_enter_the_value():
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    loss = InformationMaximizationLoss()
    a = loss(torch.randn(4, 2), torch.randn(5, 2), logits_t=z)
    b = loss(torch.randn(9, 2) * 10, torch.randn(5, 2) - 3, logits_t=z)
    assert torch.equal(a, b)


@pytest.mark.parametrize("kwargs,match", [
    (dict(), "logits_t is required"),
    (dict(logits_t=torch.randn(4, 3)), "logits_t has 4 rows but ft has 5"),
    (dict(logits_t=torch.full((5, 3), float("nan"))), "logits_t contains NaN"),
])
def test_bad_logits_raise_value_error_naming_logits_t(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InformationMaximizationLoss()(torch.randn(6, 2), torch.randn(5, 2), **kwargs)


def test_logits_of_the_wrong_width_name_n_classes():
    with pytest.raises(ValueError, match=r"logits_t must have 4 columns \(n_classes\)"):
        InformationMaximizationLoss(n_classes=4)(torch.randn(6, 2), torch.randn(5, 2), logits_t=torch.randn(5, 3))


@pytest.mark.parametrize("kwargs,match", [
    (dict(diversity=-0.1), "diversity must be a finite number >= 0"),
    (dict(diversity=float("nan")), "diversity must be a finite number >= 0"),
    (dict(diversity=True), "diversity must be a finite number >= 0"),
    (dict(n_classes=1), "n_classes must be an integer >= 2"),
    (dict(n_classes=2.5), "n_classes must be an integer >= 2"),
])
def test_bad_parameters_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InformationMaximizationLoss(**kwargs)


def test_name_builds_it_with_the_class_count():
    from da.transfer.losses import make_alignment

    loss = make_alignment("infomax", in_features=8, n_classes=3)
    assert isinstance(loss, InformationMaximizationLoss) and loss.n_classes == 3 and loss.diversity == 1.0
