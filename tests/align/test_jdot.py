"""JDOTLoss against ot.emd on a numpy cost, a numpy sum(gamma * C) and the closed-form gradient."""

import numpy as np
import ot
import pytest
import torch
from scipy.special import log_softmax

from da.align import JDOTLoss


def _instance(n=7, m=5, d=3, c=3, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(n, d))
    xt = rng.normal(size=(m, d)) + 0.5
    ys = rng.integers(0, c, size=n)
    at = rng.normal(size=(m, c)) * 2
    return xs, xt, ys, at


def _np_cost(xs, xt, ys, at, alpha, lambda_t):
    feat = ((xs[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
    ce = -log_softmax(at, axis=1)[:, ys].T  # ce[i, j] = -log softmax(a_t^j)[y_s^i]
    return alpha * feat + lambda_t * ce


def _call(loss, xs, xt, ys, at, grad=False):
    fs = torch.tensor(xs, requires_grad=grad)
    ft = torch.tensor(xt, requires_grad=grad)
    return loss(fs, ft, ys=torch.tensor(ys), logits_t=torch.tensor(at)), fs, ft


@pytest.mark.parametrize("alpha,lambda_t", [(1.0, 1.0), (0.1, 2.0), (0.0, 1.0)])
def test_jdot_plan_equals_ot_emd_and_loss_equals_numpy_sum(alpha, lambda_t):
    xs, xt, ys, at = _instance()
    cost = _np_cost(xs, xt, ys, at, alpha, lambda_t)
    plan = ot.emd(np.full(7, 1 / 7), np.full(5, 1 / 5), cost)
    loss = JDOTLoss(alpha=alpha, lambda_t=lambda_t)
    value, _, _ = _call(loss, xs, xt, ys, at)
    np.testing.assert_allclose(loss.last_plan_.numpy(), plan, atol=1e-12)
    np.testing.assert_allclose(float(value), float((plan * cost).sum()), rtol=1e-12)
    assert loss.last_stats_["transport_cost"] == pytest.approx(float((plan * cost).sum()), rel=1e-12)
    assert loss.last_stats_["feature_cost"] + loss.last_stats_["label_cost"] == pytest.approx(float(value))


def test_jdot_gradient_flows_through_cost_with_plan_fixed_closed_form():
    """dL/dfs_i = 2 alpha sum_j gamma_ij (fs_i - ft_j), dL/da_t^j = lambda_t sum_i gamma_ij (softmax(a_t^j) - e_{y_i})."""
    xs, xt, ys, at = _instance(seed=1)
    alpha, lam = 0.5, 1.5
    plan = ot.emd(np.full(7, 1 / 7), np.full(5, 1 / 5), _np_cost(xs, xt, ys, at, alpha, lam))
    fs = torch.tensor(xs, requires_grad=True)
    ft = torch.tensor(xt, requires_grad=True)
    logits = torch.tensor(at, requires_grad=True)
    JDOTLoss(alpha=alpha, lambda_t=lam)(fs, ft, ys=torch.tensor(ys), logits_t=logits).backward()
    diff = xs[:, None, :] - xt[None, :, :]
    np.testing.assert_allclose(fs.grad.numpy(), 2 * alpha * (plan[:, :, None] * diff).sum(1), atol=1e-12)
    np.testing.assert_allclose(ft.grad.numpy(), -2 * alpha * (plan[:, :, None] * diff).sum(0), atol=1e-12)
    soft = np.exp(log_softmax(at, axis=1))
    onehot = np.eye(3)[ys]
    expected = lam * (plan.sum(0)[:, None] * soft - plan.T @ onehot)
    np.testing.assert_allclose(logits.grad.numpy(), expected, atol=1e-12)


def test_jdot_sinkhorn_converges_to_exact_as_reg_shrinks():
    xs, xt, ys, at = _instance(n=8, m=8, seed=2)
    exact, _, _ = _call(JDOTLoss(), xs, xt, ys, at)
    gaps = []
    for reg in (1.0, 0.1, 0.03):
        approx, _, _ = _call(JDOTLoss(solver="sinkhorn", reg=reg), xs, xt, ys, at)
        gaps.append(float(approx) - float(exact))
    assert all(g >= -1e-9 for g in gaps)  # the exact plan is optimal
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-4 * float(exact)


def test_jdot_sinkhorn_plan_matches_ot_sinkhorn_log():
    xs, xt, ys, at = _instance(seed=3)
    cost = _np_cost(xs, xt, ys, at, 1.0, 1.0)
    plan = ot.sinkhorn(np.full(7, 1 / 7), np.full(5, 1 / 5), cost, 0.3, method="sinkhorn_log", stopThr=1e-6)
    loss = JDOTLoss(solver="sinkhorn", reg=0.3)
    _call(loss, xs, xt, ys, at)
    np.testing.assert_allclose(loss.last_plan_.numpy(), plan, atol=1e-10)


def test_jdot_requires_labels_and_target_logits():
    xs, xt, ys, at = _instance()
    fs, ft = torch.tensor(xs), torch.tensor(xt)
    loss = JDOTLoss()
    with pytest.raises(ValueError, match="ys is required"):
        loss(fs, ft, logits_t=torch.tensor(at))
    with pytest.raises(ValueError, match="logits_t is required"):
        loss(fs, ft, ys=torch.tensor(ys))
    with pytest.raises(ValueError, match="out of range"):
        loss(fs, ft, ys=torch.tensor(ys) + 3, logits_t=torch.tensor(at))
    with pytest.raises(ValueError, match="integer"):
        loss(fs, ft, ys=torch.tensor(ys, dtype=torch.float64), logits_t=torch.tensor(at))
    with pytest.raises(ValueError, match=r"shape \(7,\)"):
        loss(fs, ft, ys=torch.tensor(ys[:4]), logits_t=torch.tensor(at))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_jdot_equal_sizes_assignment_plan_equals_ot_emd(dtype):
    """N = M: the assignment path returns ot.emd's plan (a permutation / N) and its value."""
    xs, xt, ys, at = _instance(n=12, m=12, seed=5)
    cost = _np_cost(xs, xt, ys, at, 1.0, 1.0)
    plan = ot.emd(np.full(12, 1 / 12), np.full(12, 1 / 12), cost)
    loss = JDOTLoss()
    value = loss(torch.tensor(xs, dtype=dtype), torch.tensor(xt, dtype=dtype), ys=torch.tensor(ys),
                 logits_t=torch.tensor(at, dtype=dtype))
    assert loss.last_plan_.dtype == dtype
    np.testing.assert_allclose(loss.last_plan_.double().numpy(), plan, atol=1e-7)
    np.testing.assert_allclose(float(value), float((plan * cost).sum()), rtol=1e-6 if dtype == torch.float32 else 1e-12)
