"""JDOTLoss(target_prior="em"): Saerens et al.'s EM against the MLLS optimum found by scipy, its recovery of a
known target prior, and the weighted plan against ot.emd with those source weights."""

import numpy as np
import ot
import pytest
import torch
from scipy.optimize import minimize
from scipy.special import softmax

from da.align import JDOTLoss
from da.align.jdot import em_target_prior


def _posteriors(n=4000, prior_t=(0.8, 0.2), prior_s=(0.5, 0.5), seed=0):
    """Exact Bayes posteriors, under the source prior, of 1-d Gaussian classes (means -1 and +1) drawn with
    the target prior."""
    rng = np.random.default_rng(seed)
    y = rng.choice(2, size=n, p=prior_t)
    x = rng.normal(np.where(y == 0, -1.0, 1.0), 1.0)
    lik = np.stack([np.exp(-0.5 * (x + 1) ** 2), np.exp(-0.5 * (x - 1) ** 2)], 1)
    post = lik * np.asarray(prior_s)
    return post / post.sum(1, keepdims=True)


def test_em_reaches_the_mlls_optimum_found_by_scipy():
    probs = _posteriors(n=500, prior_t=(0.3, 0.7), seed=1)
    prior_s = np.array([0.5, 0.5])

    def nll(theta):
        pi = softmax(theta)
        return -np.log(probs @ (pi / prior_s)).sum()

    ref = softmax(minimize(nll, np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x)
    got = em_target_prior(torch.tensor(probs), torch.tensor(prior_s), torch.tensor(prior_s), n_steps=2000)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-6)


def test_em_recovers_a_known_target_prior():
    probs = torch.tensor(_posteriors(n=20000, prior_t=(0.8, 0.2)))
    half = torch.tensor([0.5, 0.5], dtype=torch.float64)
    got = em_target_prior(probs, half, half, n_steps=500)
    assert abs(float(got[0]) - 0.8) < 0.02
    # one step moves from the start toward it, never past it (EM's monotone likelihood)
    one = em_target_prior(probs, half, half, n_steps=1)
    assert 0.5 < float(one[0]) < float(got[0])


def test_weighted_plan_is_ot_emd_with_the_running_source_weights():
    g = torch.Generator().manual_seed(0)
    fs, ft = torch.randn(12, 3, generator=g, dtype=torch.float64), torch.randn(12, 3, generator=g, dtype=torch.float64)
    ys = torch.tensor([0] * 8 + [1] * 4)
    logits_t = torch.randn(12, 2, generator=g, dtype=torch.float64)
    loss = JDOTLoss(alpha=0.5, lambda_t=0.3, target_prior="em")
    fs.requires_grad_()
    value = loss(fs, ft, ys=ys, logits_t=logits_t)
    value.backward()
    w = (loss.prior_t_ / loss.prior_s_)[ys]
    w = (w / w.sum()).numpy()
    np.testing.assert_allclose(loss.prior_s_.numpy(), [8 / 12, 4 / 12])
    cost = 0.5 * ot.dist(fs.detach().numpy(), ft.numpy()) + 0.3 * -torch.log_softmax(logits_t, 1).numpy()[:, ys.numpy()].T
    plan = ot.emd(w, np.full(12, 1 / 12), cost)
    np.testing.assert_allclose(loss.last_plan_.numpy(), plan, atol=1e-12)
    assert float(value) == pytest.approx(float((plan * cost).sum()), rel=1e-10)
    assert fs.grad is not None and all(isinstance(v, float) for v in loss.last_stats_.values())  # the trainer logs them


def test_prior_updates_only_when_training_with_gradients():
    g = torch.Generator().manual_seed(1)
    fs, ft = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    ys, logits_t = torch.tensor([0, 0, 0, 0, 1, 1]), torch.randn(6, 2, generator=g)
    loss = JDOTLoss(target_prior="em")
    loss(fs, ft, ys=ys, logits_t=logits_t)
    first = loss.prior_t_.clone()
    loss.eval()
    loss(fs, ft, ys=ys, logits_t=logits_t)
    with torch.no_grad():
        loss.train()(fs, ft, ys=ys, logits_t=logits_t)
    assert torch.equal(loss.prior_t_, first)
    fresh = JDOTLoss(target_prior="em").eval()
    fresh(fs, ft, ys=ys, logits_t=logits_t)  # before any training step: the uniform plan, no estimate
    assert fresh.prior_t_ is None and torch.allclose(fresh.last_plan_.sum(1), torch.full((6,), 1 / 6))


def test_target_prior_must_be_a_known_option():
    with pytest.raises(ValueError, match="target_prior must be one of 'em'"):
        JDOTLoss(target_prior="bbse")


def test_prior_clip_bounds_each_class_ratio():
    g = torch.Generator().manual_seed(2)
    fs, ft = torch.randn(10, 2, generator=g, dtype=torch.float64), torch.randn(10, 2, generator=g, dtype=torch.float64)
    ys = torch.tensor([0] * 5 + [1] * 5)
    loss = JDOTLoss(target_prior="em", prior_clip=1.5)
    loss.prior_s_ = torch.tensor([0.5, 0.5], dtype=torch.float64)
    loss.prior_t_ = torch.tensor([0.95, 0.05], dtype=torch.float64)  # ratios 1.9 and 0.1 before the clip
    loss.eval()(fs, ft, ys=ys, logits_t=torch.randn(10, 2, generator=g, dtype=torch.float64))
    rows = loss.last_plan_.sum(1)
    # ratios clipped to 1.5 and 1/1.5, then normalised over the rows
    np.testing.assert_allclose(rows[:5].numpy(), 1.5 / (5 * 1.5 + 5 / 1.5))
    np.testing.assert_allclose(rows[5:].numpy(), (1 / 1.5) / (5 * 1.5 + 5 / 1.5))
    for bad in (0.5, "2", -1, True):
        with pytest.raises(ValueError, match="prior_clip must be None or a number >= 1"):
            JDOTLoss(target_prior="em", prior_clip=bad)
    with pytest.raises(ValueError, match="prior_clip clips the ratios of target_prior's weights"):
        JDOTLoss(prior_clip=2.0)


def test_em_target_prior_rejects_bad_input():
    probs, half = torch.full((4, 2), 0.5, dtype=torch.float64), torch.tensor([0.5, 0.5], dtype=torch.float64)
    with pytest.raises(ValueError, match="probs must have shape"):
        em_target_prior(probs[0], half, half)
    with pytest.raises(ValueError, match="source_prior must have shape"):
        em_target_prior(probs, torch.tensor([1.0], dtype=torch.float64), half)
    with pytest.raises(ValueError, match="start must hold finite, positive class priors"):
        em_target_prior(probs, half, torch.tensor([1.0, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="probs must hold finite, nonnegative posteriors"):
        em_target_prior(torch.full((4, 2), float("nan"), dtype=torch.float64), half, half)
    with pytest.raises(ValueError, match="n_steps must be"):
        em_target_prior(probs, half, half, n_steps=0)
