"""JDOTLoss(scale=...): alpha relative to the batch's mean / median squared feature distance."""

import numpy as np
import ot
import pytest
import torch

from da.align import JDOTLoss


@pytest.mark.parametrize("scale", ["mean", "median"])
def test_scaled_jdot_matches_pot_emd2_on_the_rescaled_cost(scale):
    """Reference: ot.emd2 on C = (alpha / ref) D + lambda_t CE, ref computed in float64 numpy."""
    rng = np.random.default_rng(0)
    fs, ft = rng.normal(size=(7, 3)) * 4, rng.normal(size=(6, 3)) * 4 + 1
    ys, lt = rng.integers(0, 3, 7), rng.normal(size=(6, 3))
    D = ((fs[:, None] - ft[None]) ** 2).sum(-1)
    ref = D.mean() if scale == "mean" else np.median(D)
    logp = lt - lt.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    C = 0.1 * D / ref + 0.3 * -logp[:, ys].T
    expected = ot.emd2(np.full(7, 1 / 7), np.full(6, 1 / 6), C)
    loss = JDOTLoss(alpha=0.1, lambda_t=0.3, scale=scale)
    got = loss(torch.tensor(fs), torch.tensor(ft), ys=torch.tensor(ys), logits_t=torch.tensor(lt))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)


def test_scaled_jdot_value_is_invariant_to_the_feature_scale():
    g = torch.Generator().manual_seed(1)
    fs, ft = torch.randn(8, 4, generator=g, dtype=torch.float64), torch.randn(8, 4, generator=g, dtype=torch.float64)
    ys, lt = torch.randint(0, 2, (8,), generator=g), torch.randn(8, 2, generator=g, dtype=torch.float64)
    loss = JDOTLoss(alpha=0.5, lambda_t=1.0, scale="mean")
    a = float(loss(fs, ft, ys=ys, logits_t=lt))
    b = float(loss(100 * fs, 100 * ft, ys=ys, logits_t=lt))
    np.testing.assert_allclose(a, b, rtol=1e-10)
    assert float(JDOTLoss(alpha=0.5)(100 * fs, 100 * ft, ys=ys, logits_t=lt)) > 100 * a  # unscaled: not


def test_unknown_scale_is_a_value_error():
    with pytest.raises(ValueError, match="scale"):
        JDOTLoss(scale="max")


def _dense_scale_grad_reference(fs, ft, ys, lt, alpha, lambda_t, plan):
    """float64 autograd on the dense sum: (alpha / mean_ij D_ij) sum gamma D + lambda_t sum gamma CE, gamma fixed."""
    fs, ft, lt = (t.detach().double().requires_grad_() for t in (fs, ft, lt))
    D = ((fs[:, None] - ft[None]) ** 2).sum(-1)
    logp = torch.log_softmax(lt, 1)
    value = ((alpha / D.mean()) * D * plan).sum() + (lambda_t * -logp[:, ys].T * plan).sum()
    value.backward()
    return value, fs.grad, ft.grad, lt.grad


@pytest.mark.parametrize("n,m", [(8, 8), (7, 5)])
def test_scale_grad_value_and_gradient_equal_the_dense_float64_reference(n, m):
    """scale_grad=True: the value is scale="mean"'s, and the gradient also flows through the mean distance
    (reference: float64 autograd through the dense (N, M) cost, with the loss's plan held fixed)."""
    g = torch.Generator().manual_seed(3)
    fs = (torch.randn(n, 4, generator=g, dtype=torch.float64) * 2).requires_grad_()
    ft = (torch.randn(m, 4, generator=g, dtype=torch.float64) + 1).requires_grad_()
    ys, lt = torch.randint(0, 3, (n,), generator=g), torch.randn(m, 3, generator=g, dtype=torch.float64)
    lt.requires_grad_()
    loss = JDOTLoss(alpha=0.3, lambda_t=0.2, scale="mean", scale_grad=True)
    value = loss(fs, ft, ys=ys, logits_t=lt)
    value.backward()
    ref, gfs, gft, glt = _dense_scale_grad_reference(fs, ft, ys, lt, 0.3, 0.2, loss.last_plan_.double())
    detached = JDOTLoss(alpha=0.3, lambda_t=0.2, scale="mean")(fs, ft, ys=ys, logits_t=lt)
    np.testing.assert_allclose(float(value.detach()), float(ref.detach()), rtol=1e-12)
    np.testing.assert_allclose(float(value.detach()), float(detached.detach()), rtol=1e-12)
    for got, want in ((fs.grad, gfs), (ft.grad, gft), (lt.grad, glt)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)
    # and the gradient is not the detached normaliser's: the two differ by the normaliser's own term
    fs2, ft2 = fs.detach().clone().requires_grad_(), ft.detach().clone().requires_grad_()
    JDOTLoss(alpha=0.3, lambda_t=0.2, scale="mean")(fs2, ft2, ys=ys, logits_t=lt.detach()).backward()
    assert not torch.allclose(fs2.grad, fs.grad)


def test_scale_grad_feature_term_has_no_pull_along_the_feature_scale():
    """Euler: the feature term is homogeneous of degree 0, so <grad, (fs, ft)> = 0 (the detached one's is 2L_f)."""
    g = torch.Generator().manual_seed(4)
    fs = torch.randn(9, 3, generator=g, dtype=torch.float64).requires_grad_()
    ft = (torch.randn(9, 3, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
    ys, lt = torch.randint(0, 2, (9,), generator=g), torch.randn(9, 2, generator=g, dtype=torch.float64)
    JDOTLoss(alpha=1.0, lambda_t=0.5, scale="mean", scale_grad=True)(fs, ft, ys=ys, logits_t=lt).backward()
    assert abs(float((fs.grad * fs.detach()).sum() + (ft.grad * ft.detach()).sum())) < 1e-12
    fs.grad = ft.grad = None
    loss = JDOTLoss(alpha=1.0, lambda_t=0.5, scale="mean")
    loss(fs, ft, ys=ys, logits_t=lt).backward()
    pull = float((fs.grad * fs.detach()).sum() + (ft.grad * ft.detach()).sum())
    np.testing.assert_allclose(pull, 2 * loss.last_stats_["feature_cost"], rtol=1e-10)


def test_scale_grad_needs_the_mean_scale_and_a_bool():
    with pytest.raises(ValueError, match="scale_grad=True needs scale='mean'"):
        JDOTLoss(scale_grad=True)
    with pytest.raises(ValueError, match="scale_grad=True needs scale='mean'"):
        JDOTLoss(scale="median", scale_grad=True)
    with pytest.raises(ValueError, match="scale_grad must be True or False"):
        JDOTLoss(scale="mean", scale_grad=1)
