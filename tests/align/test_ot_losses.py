"""SinkhornLoss and SlicedWassersteinLoss against POT called on numpy inputs."""

import numpy as np
import ot
import pytest
import torch

from da.align import SinkhornLoss, SlicedWassersteinLoss


def _data(n=9, m=7, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 0.8 + 0.5


def _np_sinkhorn2(x, y, reg, tol=1e-6):
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    return float(ot.sinkhorn2(a, b, ot.dist(x, y), reg, method="sinkhorn_log", stopThr=tol))


@pytest.mark.parametrize("reg", [0.05, 0.5])
@pytest.mark.parametrize("grad", ["envelope", "autodiff"])
def test_sinkhorn_matches_ot_sinkhorn2_on_numpy(reg, grad):
    x, y = _data()
    loss = SinkhornLoss(reg=reg, debiased=False, grad=grad)
    got = loss(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(float(got), _np_sinkhorn2(x, y, reg), rtol=1e-10)
    assert loss.last_stats_["transport_cost"] == float(got)


def test_sinkhorn_divergence_matches_three_ot_sinkhorn2_terms():
    x, y = _data(seed=1)
    expected = _np_sinkhorn2(x, y, 0.2) - 0.5 * (_np_sinkhorn2(x, x, 0.2) + _np_sinkhorn2(y, y, 0.2))
    got = SinkhornLoss(reg=0.2)(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(float(got), expected, rtol=1e-9)
    assert abs(float(SinkhornLoss(reg=0.2)(torch.tensor(x), torch.tensor(x)))) < 1e-12


@pytest.mark.parametrize("scale", ["median", "mean", "max"])
def test_sinkhorn_relative_reg_matches_ot_sinkhorn2_with_scaled_reg(scale):
    x, y = _data(n=9, m=7, seed=2)  # 63 costs: an odd count, so np.median is one of them
    stat = getattr(np, scale)(ot.dist(x, y))
    expected = _np_sinkhorn2(x, y, 0.1 * stat) - 0.5 * (_np_sinkhorn2(x, x, 0.1 * stat)
                                                        + _np_sinkhorn2(y, y, 0.1 * stat))
    loss = SinkhornLoss(reg=0.1, scale=scale)
    got = loss(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(float(got), expected, rtol=1e-9)
    assert loss.last_stats_["epsilon"] == pytest.approx(0.1 * stat)


def test_sinkhorn_autodiff_gradient_matches_finite_differences():
    x, y = _data(n=5, m=4, d=2, seed=3)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    loss = SinkhornLoss(reg=3.0, tol=1e-11, max_iter=5000, grad="autodiff")
    assert torch.autograd.gradcheck(loss, (tx, ty), atol=1e-5, rtol=1e-4, fast_mode=True)


def test_sinkhorn_envelope_gradient_matches_pot_envelope_of_regularised_ot():
    """Reference: ot.solve(grad='envelope'), the gradient of the regularised OT value <P, M> + reg KL."""
    x, y = _data(n=6, m=5, d=2, seed=4)
    tx = torch.tensor(x, requires_grad=True)
    SinkhornLoss(reg=0.5, debiased=False, tol=1e-10)(tx, torch.tensor(y)).backward()
    rx = torch.tensor(x, requires_grad=True)
    res = ot.solve(ot.dist(rx, torch.tensor(y)), reg=0.5, grad="envelope", tol=1e-10)
    res.value.backward()
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 7])
def test_sliced_wasserstein_matches_pot_numpy_with_seed(p, seed):
    x, y = _data(n=11, m=6, d=4)
    expected = ot.sliced_wasserstein_distance(x, y, n_projections=50, p=p, seed=seed)
    loss = SlicedWassersteinLoss(n_projections=50, seed=seed, p=p)
    got = loss(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    assert loss.last_stats_["sliced_wasserstein"] == float(got)
    again = loss(torch.tensor(x), torch.tensor(y))  # an int seed: the same directions every call
    assert float(again) == float(got)


def test_sliced_wasserstein_generator_seed_draws_fresh_reproducible_directions():
    x, y = _data()
    tx, ty = torch.tensor(x), torch.tensor(y)
    a = SlicedWassersteinLoss(n_projections=20, seed=np.random.default_rng(3))
    b = SlicedWassersteinLoss(n_projections=20, seed=np.random.default_rng(3))
    first, second = float(a(tx, ty)), float(a(tx, ty))
    assert first != second
    assert [float(b(tx, ty)), float(b(tx, ty))] == [first, second]


def test_sliced_wasserstein_gradient_is_finite_for_identical_batches():
    x = torch.ones(6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.ones(6, 3, dtype=torch.float64)
    value = SlicedWassersteinLoss(n_projections=8)(x, y)
    value.backward()
    assert value.item() == 0.0
    assert bool(torch.isfinite(x.grad).all())


def test_sliced_wasserstein_gradient_matches_finite_differences():
    x, y = _data(n=6, m=5, d=3, seed=4)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    assert torch.autograd.gradcheck(SlicedWassersteinLoss(n_projections=10), (tx, ty))


@pytest.mark.parametrize("p", [1, 2, 3])
def test_sliced_wasserstein_equal_sizes_matches_pot_value_and_gradient(p):
    # equal batch sizes take the sorted closed form; POT's quantile path is the reference
    x, y = _data(n=8, m=8, d=4, seed=2)
    expected = ot.sliced_wasserstein_distance(x, y, n_projections=30, p=p, seed=5)
    loss = SlicedWassersteinLoss(n_projections=30, seed=5, p=p)
    tx = torch.tensor(x, requires_grad=True)
    got = loss(tx, torch.tensor(y))
    np.testing.assert_allclose(float(got.detach()), expected, rtol=1e-10)
    got.backward()
    rx = torch.tensor(x, requires_grad=True)
    theta = loss._projections(4, rx)
    ref = ot.sliced_wasserstein_distance(rx, torch.tensor(y), projections=theta, p=p)
    ref.backward()
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-9, atol=1e-12)


def test_sliced_wasserstein_equal_sizes_gradient_matches_finite_differences():
    x, y = _data(n=6, m=6, d=3, seed=4)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    assert torch.autograd.gradcheck(SlicedWassersteinLoss(n_projections=10), (tx, ty))


@pytest.mark.parametrize("reg", [0.15, 0.5])
def test_sinkhorn_auto_equal_sizes_matches_three_ot_sinkhorn2_terms(reg):
    # N = M: one batched solve (kernel space for reg=0.5, log domain for reg=0.15, where
    # max cost / eps > 50); the reference is three separate, converged log-domain POT solves
    x, y = _data(n=8, m=8, seed=5)
    assert (ot.dist(x, y).max() / reg <= 50) == (reg == 0.5)

    def w(u, v):
        a = np.full(len(u), 1 / len(u))
        return float(ot.sinkhorn2(a, a, ot.dist(u, v), reg, method="sinkhorn_log", stopThr=1e-12,
                                  numItermax=50000))

    expected = w(x, y) - 0.5 * (w(x, x) + w(y, y))
    loss = SinkhornLoss(reg=reg, tol=1e-12, max_iter=50000, method="auto")
    tx = torch.tensor(x, requires_grad=True)
    got = loss(tx, torch.tensor(y))
    np.testing.assert_allclose(float(got.detach()), expected, rtol=1e-8)
    got.backward()
    rx = torch.tensor(x, requires_grad=True)
    SinkhornLoss(reg=reg, tol=1e-12, max_iter=50000)(rx, torch.tensor(y)).backward()
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-7, atol=1e-10)
    assert abs(float(loss(torch.tensor(x), torch.tensor(x)))) < 1e-12


@pytest.mark.parametrize("reg", [0.1, 0.03])  # max cost / eps about 30 (float32 kernel) and 100 (float64 kernel)
def test_sinkhorn_auto_float32_at_its_tolerance_stays_close_to_a_converged_solve(reg):
    g = torch.Generator().manual_seed(0)
    fs, ft = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g) + 0.5
    fast = SinkhornLoss(reg=reg, scale="median", tol=1e-4, method="auto")(fs, ft)
    tight = SinkhornLoss(reg=reg, scale="median", tol=1e-9, max_iter=20000)(fs.double(), ft.double())
    assert fast.dtype == torch.float32
    np.testing.assert_allclose(float(fast), float(tight), rtol=1e-3)


@pytest.mark.parametrize("kw", [dict(debiased=False), dict(grad="autodiff")])
def test_sinkhorn_auto_falls_back_to_sinkhorn_log(kw):
    x, y = _data(n=7, m=7, seed=6)
    a = SinkhornLoss(reg=0.3, method="auto", **kw)(torch.tensor(x), torch.tensor(y))
    b = SinkhornLoss(reg=0.3, **kw)(torch.tensor(x), torch.tensor(y))
    assert float(a) == float(b)


def test_distinct_row_order_is_torch_sort_order_and_none_with_ties():
    """The float32 keyed sort of SlicedWassersteinLoss gives torch.sort's order; ties (-0.0 and
    +0.0 among them) hand the row back to torch.sort."""
    from da.align.ot_losses import _distinct_row_order

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 130)).astype(np.float32)
    x[1, :5] = [np.finfo(np.float32).max, -np.finfo(np.float32).max, np.finfo(np.float32).tiny, -1e-45, 0.0]
    np.testing.assert_array_equal(_distinct_row_order(x), torch.from_numpy(x).sort(dim=1).indices.numpy())
    for a, b in ((0.5, 0.5), (0.0, -0.0)):
        tied = x.copy()
        tied[3, 7], tied[3, 90] = a, b
        assert _distinct_row_order(tied) is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("duplicates", [False, True])
def test_sliced_wasserstein_equal_sizes_bit_identical_to_the_torch_sort_closed_form(dtype, duplicates):
    """Value and gradient equal, bit for bit, the closed form written with torch.sort (duplicate
    rows: tied projections)."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 16, generator=g, dtype=dtype)
    y = torch.randn(64, 16, generator=g, dtype=dtype) + 0.3
    if duplicates:
        x[5], y[9] = x[40], y[2]
    x, y = x.requires_grad_(), y.requires_grad_()
    loss = SlicedWassersteinLoss(n_projections=32, seed=1)
    got = loss(x, y)
    got.backward()
    rx, ry = x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()
    theta = loss._projections(16, rx)
    sw_pp = ((theta.T @ rx.T).sort(dim=1).values - (theta.T @ ry.T).sort(dim=1).values).abs().pow(2).mean()
    ref = sw_pp ** 0.5
    ref.backward()
    assert torch.equal(got.detach(), ref.detach())
    assert torch.equal(x.grad, rx.grad) and torch.equal(y.grad, ry.grad)


@pytest.mark.parametrize("method", ["sinkhorn_log", "symmetric"])
def test_sinkhorn_normalize_value_and_gradient_match_pot_over_the_dense_mean_distance(method):
    """normalize=True: S / Dbar with Dbar = mean_ij ||x_i - y_j||^2 in the graph. Reference: the value from three
    ot.sinkhorn2 terms over the mean of ot.dist; the gradient by the quotient rule, grad S / Dbar - S grad Dbar /
    Dbar^2, with grad S from POT's envelope solves (ot.solve) and grad Dbar by torch through ot.dist."""
    x, y = _data(n=9, m=7, d=3, seed=5)  # 63 costs: an odd count, so np.median is torch.median
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    loss = SinkhornLoss(reg=0.3, scale="median", tol=1e-10, max_iter=5000, method=method, normalize=True)
    value = loss(tx, ty)
    value.backward()
    eps = 0.3 * float(np.median(ot.dist(x, y)))
    s = (_np_sinkhorn2(x, y, eps, 1e-12) - 0.5 * (_np_sinkhorn2(x, x, eps, 1e-12) + _np_sinkhorn2(y, y, eps, 1e-12)))
    rx, ry = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    w = [ot.solve(ot.dist(a, b), reg=eps, grad="envelope", tol=1e-12, max_iter=20000).value
         for a, b in ((rx, ry), (rx, rx), (ry, ry))]
    grad_s = w[0] - 0.5 * (w[1] + w[2])
    dbar = ot.dist(rx, ry).mean()
    ref = (grad_s - grad_s.detach()) / dbar.detach() + s / dbar  # value s / dbar, gradient by the quotient rule
    ref.backward()
    np.testing.assert_allclose(float(value.detach()), float(ref.detach()), rtol=1e-7)
    assert loss.last_stats_["feature_scale"] == pytest.approx(float(dbar.detach()), rel=1e-12)
    assert loss.last_stats_["sinkhorn"] == pytest.approx(float(value.detach()), rel=1e-15)
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(ty.grad, ry.grad, rtol=1e-5, atol=1e-8)
    # scale-free: rescaling the features leaves the value as it was; the unnormalised divergence moves by c^2
    x10, y10 = torch.tensor(10 * x), torch.tensor(10 * y)
    np.testing.assert_allclose(float(loss(x10, y10)), float(value.detach()), rtol=1e-6)
    plain = SinkhornLoss(reg=0.3, scale="median", tol=1e-10, max_iter=5000, method=method)
    np.testing.assert_allclose(float(plain(x10, y10)), 100 * float(plain(torch.tensor(x), torch.tensor(y))),
                               rtol=1e-6)


def test_sinkhorn_normalize_must_be_a_bool():
    with pytest.raises(ValueError, match="normalize must be True or False"):
        SinkhornLoss(normalize="yes")
