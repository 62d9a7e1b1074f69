"""CORALLoss against np.cov and Sun & Saenko's closed-form gradient (eqs. 4-5)."""

import numpy as np
import torch

from da.align import CORALLoss


def _data(n=9, m=7, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 1.5 + 0.2


def test_coral_matches_np_cov_formula():
    xs, xt = _data()
    d = xs.shape[1]
    expected = np.sum((np.cov(xs, rowvar=False) - np.cov(xt, rowvar=False)) ** 2) / (4 * d * d)
    loss = CORALLoss()
    got = loss(torch.tensor(xs), torch.tensor(xt))
    np.testing.assert_allclose(float(got), expected, rtol=1e-12)
    assert loss.last_stats_ == {"coral": float(got)}


def test_coral_gradient_matches_sun_saenko_closed_form():
    xs, xt = _data(seed=1)
    ns, nt, d = xs.shape[0], xt.shape[0], xs.shape[1]
    cs, ct = np.cov(xs, rowvar=False), np.cov(xt, rowvar=False)
    ones_s, ones_t = np.ones((ns, 1)), np.ones((nt, 1))
    # dL/dD_S = 1/(d^2 (n_S-1)) ((D_S^T - (1/n_S)(1^T D_S)^T 1^T)^T (C_S - C_T)), and -... for D_T
    grad_s = ((xs.T - (ones_s.T @ xs).T @ ones_s.T / ns).T @ (cs - ct)) / (d * d * (ns - 1))
    grad_t = -((xt.T - (ones_t.T @ xt).T @ ones_t.T / nt).T @ (cs - ct)) / (d * d * (nt - 1))
    ts = torch.tensor(xs, requires_grad=True)
    tt = torch.tensor(xt, requires_grad=True)
    CORALLoss()(ts, tt).backward()
    np.testing.assert_allclose(ts.grad.numpy(), grad_s, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(tt.grad.numpy(), grad_t, rtol=1e-10, atol=1e-14)


def test_coral_gradcheck_float64():
    xs, xt = _data(n=5, m=6, d=3, seed=2)
    ts = torch.tensor(xs, requires_grad=True)
    tt = torch.tensor(xt, requires_grad=True)
    assert torch.autograd.gradcheck(CORALLoss(), (ts, tt))


def test_coral_is_zero_for_equal_covariances_shift_invariant():
    xs, _ = _data()
    got = CORALLoss()(torch.tensor(xs), torch.tensor(xs + 3.0))
    assert abs(float(got)) < 1e-24
