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


@pytest.mark.parametrize("n,m", [(7, 5), (8, 8)])
def test_jdot_gradient_flows_through_cost_with_plan_fixed_closed_form(n, m):
    """dL/dfs_i = 2 alpha sum_j gamma_ij (fs_i - ft_j), dL/da_t^j = lambda_t sum_i gamma_ij (softmax(a_t^j) - e_{y_i}).

    N != M goes through the (N, M) cost matrix, N = M through the N matched pairs of the assignment."""
    xs, xt, ys, at = _instance(n=n, m=m, seed=1)
    alpha, lam = 0.5, 1.5
    plan = ot.emd(np.full(n, 1 / n), np.full(m, 1 / m), _np_cost(xs, xt, ys, at, alpha, lam))
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


@pytest.mark.parametrize("scale", [None, "mean", "median"])
def test_jdot_assignment_value_gradient_and_stats_equal_the_dense_sum(scale):
    """N = M: the loss on the matched pairs equals sum(gamma * C) through the full cost (float64), in
    value, statistics and the gradients of fs, ft and the target logits."""
    xs, xt, ys, at = _instance(n=10, m=10, d=4, c=3, seed=6)
    loss = JDOTLoss(alpha=0.7, lambda_t=0.4, scale=scale)
    fs, ft, logits = (torch.tensor(v, requires_grad=True) for v in (xs, xt, at))
    value = loss(fs, ft, ys=torch.tensor(ys), logits_t=logits)
    value.backward()
    plan = loss.last_plan_.numpy()
    feat = ((xs[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
    alpha = 0.7 if scale is None else 0.7 / (feat.mean() if scale == "mean" else np.quantile(feat, 0.5))
    cost = _np_cost(xs, xt, ys, at, alpha, 0.4)
    np.testing.assert_allclose(plan, ot.emd(np.full(10, 0.1), np.full(10, 0.1), cost), atol=1e-12)
    # the dense value and gradient in float64 autograd, the plan held fixed
    dfs, dft, dlog = (torch.tensor(v, requires_grad=True) for v in (xs, xt, at))
    dense_cost = (alpha * ((dfs[:, None, :] - dft[None, :, :]) ** 2).sum(-1)
                  - 0.4 * torch.log_softmax(dlog, 1)[:, torch.tensor(ys)].T)
    dense = (torch.tensor(plan) * dense_cost).sum()
    dense.backward()
    assert float(value) == pytest.approx(float(dense), rel=1e-12)
    for got, want in [(fs, dfs), (ft, dft), (logits, dlog)]:
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), atol=1e-12)
    stats = loss.last_stats_
    assert stats["transport_cost"] == pytest.approx(float(dense), rel=1e-12)
    assert stats["feature_cost"] == pytest.approx(float((plan * alpha * feat).sum()), rel=1e-12)
    assert stats["feature_cost"] + stats["label_cost"] == pytest.approx(stats["transport_cost"], rel=1e-12)
