"""da.align.sinkhorn against POT: converged ot.sinkhorn2 per term, ot.bregman.empirical_sinkhorn_divergence,
and the envelope / autodiff gradients of POT's own solves."""

import numpy as np
import ot
import pytest
import torch

import da.align.sinkhorn as sk
from da.align import SinkhornLoss, sinkhorn_divergence

TIGHT = dict(tol=1e-11, max_iter=20_000)


def _instance(n=9, m=6, d=3, seed=0, weighted=True):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 0.8 + 0.5
    if not weighted:
        return x, y, np.full(n, 1 / n), np.full(m, 1 / m)
    a, b = rng.random(n) + 0.2, rng.random(m) + 0.2
    return x, y, a / a.sum(), b / b.sum()


def _pot_w(p, q, xp, xq, eps):
    """Converged ot.sinkhorn2 (log domain) on numpy inputs."""
    return float(ot.sinkhorn2(p, q, ot.dist(xp, xq), eps, method="sinkhorn_log", stopThr=1e-12,
                              numItermax=200_000))


def _t(*arrays):
    return [torch.tensor(v) for v in arrays]


@pytest.mark.parametrize("eps", [1.0, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_each_term_matches_converged_ot_sinkhorn2(eps, weighted):
    x, y, a, b = _instance(weighted=weighted)
    value, log = sinkhorn_divergence(*_t(x, y), eps, *_t(a, b), log=True, **TIGHT)
    w_xy, w_xx, w_yy = _pot_w(a, b, x, y, eps), _pot_w(a, a, x, x, eps), _pot_w(b, b, y, y, eps)
    assert log["converged"]
    np.testing.assert_allclose([float(log["w_xy"]), float(log["w_xx"]), float(log["w_yy"])],
                               [w_xy, w_xx, w_yy], rtol=1e-9)
    np.testing.assert_allclose(float(value), w_xy - 0.5 * (w_xx + w_yy), rtol=1e-9)
    # the plans' marginals are the weights
    np.testing.assert_allclose(log["plan_xy"].sum(1).numpy(), a, atol=1e-12)
    np.testing.assert_allclose(log["plan_xx"].sum(0).numpy(), a, atol=1e-12)


@pytest.mark.parametrize("n,m", [(10, 10), (12, 7)])
def test_divergence_matches_empirical_sinkhorn_divergence(n, m):
    x, y, a, b = _instance(n, m, d=4, seed=1)
    eps = 2.0
    expected = ot.bregman.empirical_sinkhorn_divergence(x, y, eps, a, b, method="sinkhorn_log",
                                                        stopThr=1e-12, numIterMax=200_000)
    np.testing.assert_allclose(float(sinkhorn_divergence(*_t(x, y), eps, *_t(a, b), **TIGHT)), float(expected),
                               rtol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_envelope_gradient_matches_pot_envelope_of_the_three_solves(weighted):
    """Reference: ot.solve(grad='envelope') for each term, the gradient of the regularised values."""
    x, y, a, b = _instance(8, 5, seed=2, weighted=weighted)
    eps = 1.0
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    sinkhorn_divergence(tx, ty, eps, *_t(a, b), **TIGHT).backward()
    rx, ry = (torch.tensor(v, requires_grad=True) for v in (x, y))
    ta, tb = _t(a, b)

    def env(p, q, u, v):
        return ot.solve(ot.dist(u, v), p, q, reg=eps, grad="envelope", tol=1e-12, max_iter=200_000).value

    (env(ta, tb, rx, ry) - 0.5 * (env(ta, ta, rx, rx) + env(tb, tb, ry, ry))).backward()
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(ty.grad, ry.grad, rtol=1e-7, atol=1e-9)


def test_autodiff_gradient_matches_pot_sinkhorn2_autodiff():
    x, y, a, b = _instance(7, 5, seed=3)
    eps = 1.0
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    value = sinkhorn_divergence(tx, ty, eps, *_t(a, b), grad="autodiff", **TIGHT)
    value.backward()
    rx, ry = (torch.tensor(v, requires_grad=True) for v in (x, y))
    ta, tb = _t(a, b)

    def s2(p, q, u, v):
        return ot.sinkhorn2(p, q, ot.dist(u, v), eps, method="sinkhorn_log", stopThr=1e-12, numItermax=200_000)

    ref = s2(ta, tb, rx, ry) - 0.5 * (s2(ta, ta, rx, rx) + s2(tb, tb, ry, ry))
    ref.backward()
    np.testing.assert_allclose(float(value), float(ref), rtol=1e-9)
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(ty.grad, ry.grad, rtol=1e-7, atol=1e-9)


def test_float32_path_matches_float64_pot_in_value_and_gradient():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(64, 16)), rng.normal(size=(48, 16)) + 0.3
    eps = 0.1 * float(np.median(ot.dist(x, y)))
    a, b = np.full(64, 1 / 64), np.full(48, 1 / 48)
    expected = float(ot.bregman.empirical_sinkhorn_divergence(x, y, eps, a, b, method="sinkhorn_log",
                                                              stopThr=1e-11, numIterMax=100_000))
    tx = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    value = sinkhorn_divergence(tx, torch.tensor(y, dtype=torch.float32), eps, tol=1e-6)
    value.backward()
    assert value.dtype == torch.float32 and tx.grad.dtype == torch.float32
    np.testing.assert_allclose(float(value), expected, rtol=1e-4)
    rx = torch.tensor(x, requires_grad=True)
    sinkhorn_divergence(rx, torch.tensor(y), eps, **TIGHT).backward()
    np.testing.assert_allclose(tx.grad.numpy(), rx.grad.numpy(), rtol=1e-3, atol=1e-4 * float(rx.grad.abs().max()))


@pytest.mark.parametrize("path", ["torch", "log_domain"])
def test_torch_and_log_domain_paths_give_the_numpy_path_result(path, monkeypatch):
    """The torch iterations (GPU, autodiff) and the log-domain fallback reach the same fixed point."""
    x, y, a, b = _instance(11, 8, seed=5)
    expected = float(sinkhorn_divergence(*_t(x, y), 1.0, *_t(a, b), **TIGHT))
    if path == "torch":
        monkeypatch.setattr(sk, "_iterate_on_numpy", lambda cost, grad: False)
    else:
        import da.align._sinkhorn_iterations as iterations

        # both scaling loops (torch and numpy) "overflow": the log-domain iterations run instead
        monkeypatch.setattr(iterations, "_scaled_iterations", lambda *args, **kwargs: None)
        monkeypatch.setattr(iterations, "numpy_iterations", lambda *args, **kwargs: None)
    value, log = sinkhorn_divergence(*_t(x, y), 1.0, *_t(a, b), log=True, **TIGHT)
    assert log["converged"]
    np.testing.assert_allclose(float(value), expected, rtol=1e-10)


def test_zero_weight_equals_dropping_the_point():
    x, y, a, b = _instance(9, 6, seed=6)
    a[3] = 0.0
    a /= a.sum()
    keep = np.arange(9) != 3
    full = sinkhorn_divergence(*_t(x, y), 1.0, *_t(a, b), **TIGHT)
    dropped = sinkhorn_divergence(*_t(x[keep], y), 1.0, *_t(a[keep], b), **TIGHT)
    np.testing.assert_allclose(float(full), float(dropped), rtol=1e-10)


def test_divergence_of_a_cloud_with_itself_is_zero_and_positive_otherwise():
    x = torch.randn(30, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(float(sinkhorn_divergence(x, x, 1.0, tol=1e-10))) < 1e-8  # the cross term to tol
    assert float(sinkhorn_divergence(x, x + 0.5, 1.0, tol=1e-10)) > 0


def test_iteration_count_hits_max_iter_and_reports_not_converged():
    x, y, a, b = _instance(seed=7)
    _, log = sinkhorn_divergence(*_t(x, y), 0.01, log=True, tol=1e-14, max_iter=5)
    assert log["n_iter"] == 5 and not log["converged"]


def test_symmetric_self_update_converges_in_fewer_iterations_than_pot():
    """The reason for the solver: POT's alternating updates need many more iterations per self term."""
    x, y, a, b = _instance(40, 40, d=5, seed=8, weighted=False)
    eps = 0.2 * float(np.median(ot.dist(x, y)))
    _, log = sinkhorn_divergence(*_t(x, y), eps, log=True, tol=1e-7)
    _, pot_log = ot.sinkhorn(a, a, ot.dist(x, x), eps, method="sinkhorn_log", stopThr=1e-7, numItermax=100_000,
                             log=True)
    assert log["converged"] and log["n_iter"] < pot_log["niter"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(eps=0.0), "eps"),
    (dict(eps=0.1, scaling=1.0), "scaling"),
    (dict(eps=0.1, a=torch.tensor([0.5, 0.6, -0.1])), "a must hold"),
    (dict(eps=0.1, a=torch.ones(2) / 2), r"a must have shape \(3,\)"),
    (dict(eps=0.1, b=torch.ones(4)), "same total mass"),
    (dict(eps=0.1, grad="exact"), "grad"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    x, y = torch.randn(3, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        sinkhorn_divergence(x, y, **kwargs)


def test_nan_input_raises_value_error_naming_it():
    x = torch.randn(3, 2)
    x[1, 0] = float("nan")
    with pytest.raises(ValueError, match="^x contains NaN"):
        sinkhorn_divergence(x, torch.randn(4, 2), 0.1)


@pytest.mark.parametrize("debiased", [True, False])
@pytest.mark.parametrize("grad", ["envelope", "autodiff"])
def test_sinkhorn_loss_symmetric_matches_pot_log_solver(debiased, grad):
    x, y, _, _ = _instance(10, 7, d=4, seed=9)
    kwargs = dict(reg=0.3, scale="median", debiased=debiased, tol=1e-11, max_iter=20_000, grad=grad)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    ours = SinkhornLoss(method="symmetric", **kwargs)
    value = ours(tx, ty)
    value.backward()
    rx, ry = (torch.tensor(v, requires_grad=True) for v in (x, y))
    pot = SinkhornLoss(method="sinkhorn_log", **kwargs)
    ref = pot(rx, ry)
    ref.backward()
    np.testing.assert_allclose(float(value), float(ref), rtol=1e-9)
    assert ours.last_stats_["epsilon"] == pytest.approx(pot.last_stats_["epsilon"], rel=1e-12)
    assert ours.last_stats_["transport_cost"] == pytest.approx(pot.last_stats_["transport_cost"], rel=1e-9)
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(ty.grad, ry.grad, rtol=1e-6, atol=1e-9)


def test_sinkhorn_loss_symmetric_float32_agrees_with_pot_batched_solver_to_tolerance():
    """What training uses: float32 features, median-relative reg, tol 1e-4."""
    g = torch.Generator().manual_seed(10)
    fs, ft = torch.randn(128, 32, generator=g), torch.randn(128, 32, generator=g) * 1.2 + 0.2
    kwargs = dict(reg=0.1, scale="median", tol=1e-4)
    ours = float(SinkhornLoss(method="symmetric", **kwargs)(fs, ft))
    pot = float(SinkhornLoss(method="auto", **kwargs)(fs, ft))
    converged = float(SinkhornLoss(method="sinkhorn_log", reg=0.1, scale="median", tol=1e-9,
                                   max_iter=100_000)(fs.double(), ft.double()))
    assert abs(ours - converged) < 1e-3 * abs(converged)
    assert abs(ours - pot) < 1e-3 * abs(converged)


def test_same_inputs_give_identical_results():
    x, y, a, b = _instance(seed=11)
    first = sinkhorn_divergence(*_t(x, y), 0.2, *_t(a, b), tol=1e-8)
    second = sinkhorn_divergence(*_t(x, y), 0.2, *_t(a, b), tol=1e-8)
    assert float(first) == float(second)


@pytest.mark.parametrize("debiased", [True, False])
@pytest.mark.parametrize("n,m", [(9, 9), (11, 6)])
def test_torch_path_gives_the_numpy_path_value_and_gradient(debiased, n, m, monkeypatch):
    """The pooled envelope gradient from the numpy iterations' plan matrix and from the torch
    iterations' plans (the CUDA path, here on the CPU), stacked (N = M) and separate self terms."""
    x, y, a, b = _instance(n, m, d=3, seed=12)
    eps = 0.7

    def run():
        tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
        value = sinkhorn_divergence(tx, ty, eps, *_t(a, b), debiased=debiased, **TIGHT)
        value.backward()
        return float(value), tx.grad, ty.grad

    value, gx, gy = run()
    monkeypatch.setattr(sk, "_iterate_on_numpy", lambda cost, grad: False)
    ref_value, rx, ry = run()
    np.testing.assert_allclose(value, ref_value, rtol=1e-10)
    torch.testing.assert_close(gx, rx, rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(gy, ry, rtol=1e-8, atol=1e-12)


def test_one_self_term_frozen_before_the_other_keeps_its_plan():
    """N = M stacks the two self terms; one that meets tol first stays at its plan while the other
    iterates (clouds of very different spreads: here y's term stops several iterations before x's).
    Each matches ot.sinkhorn2."""
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(12, 2)) * 0.3, rng.normal(size=(12, 2)) * 3.0
    a = np.full(12, 1 / 12)
    _, log = sinkhorn_divergence(*_t(x, y), 1.0, log=True, tol=1e-9, max_iter=20_000)
    for w, cloud in ((log["w_xx"], x), (log["w_yy"], y)):
        np.testing.assert_allclose(float(w), _pot_w(a, a, cloud, cloud, 1.0), rtol=1e-7)
    np.testing.assert_allclose(log["plan_xx"].sum(1).numpy(), a, atol=1e-9)
    np.testing.assert_allclose(log["plan_yy"].sum(1).numpy(), a, atol=1e-9)


@pytest.mark.parametrize("debiased", [True, False])
def test_cost_blocks_are_the_squared_distances(debiased):
    """Reference: float64 numpy differences."""
    x, y, _, _ = _instance(7, 5, d=4, seed=14)
    blocks = sk._sq_dist_blocks(*_t(x, y), debiased)
    refs = [((p[:, None] - q[None]) ** 2).sum(-1) for p, q in ((x, y), (x, x), (y, y))]
    for block, ref in zip(blocks, refs if debiased else refs[:1] + [None, None]):
        if ref is None:
            assert block is None
        else:
            np.testing.assert_allclose(block.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("path", ["numpy", "torch"])
def test_normalized_envelope_node_equals_the_quotient_on_the_graph(path, monkeypatch):
    """SinkhornLoss(normalize=True) folds d(S / Dbar) into the envelope's one backward node; the reference is
    autograd through sinkhorn_divergence(...) / mean_sq_dist(...), two nodes, in float64."""
    from da._kernels import mean_sq_dist

    if path == "torch":
        monkeypatch.setattr(sk, "_iterate_on_numpy", lambda cost, grad: False)
    x, y, _, _ = _instance(12, 12, d=4, seed=11, weighted=False)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    loss = SinkhornLoss(reg=0.7, method="symmetric", normalize=True, **TIGHT)
    value = loss(tx, ty)
    value.backward()
    rx, ry = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    ref = sinkhorn_divergence(rx, ry, 0.7, **TIGHT) / mean_sq_dist(rx, ry)
    ref.backward()
    assert float(value.detach()) == float(ref.detach())  # the same operations, in the same order
    torch.testing.assert_close(tx.grad, rx.grad, rtol=1e-12, atol=0)
    torch.testing.assert_close(ty.grad, ry.grad, rtol=1e-12, atol=0)


def test_single_level_below_anneal_above_reaches_the_annealed_fixed_point():
    """anneal_above only chooses the path: with or without the eps levels, the same converged values (to tol)."""
    x, y, a, b = _instance(30, 25, d=3, seed=12)
    eps = 0.2 * float(np.median(ot.dist(x, y)))
    diameter = max(float(ot.dist(p, q).max()) for p, q in ((x, y), (x, x), (y, y)))
    assert 1 < diameter / eps < 64  # the default takes one level here
    single, log_single = sinkhorn_divergence(*_t(x, y), eps, *_t(a, b), log=True, **TIGHT)
    annealed, log_annealed = sinkhorn_divergence(*_t(x, y), eps, *_t(a, b), anneal_above=0, log=True, **TIGHT)
    assert log_single["converged"] and log_annealed["converged"]
    np.testing.assert_allclose(float(single), float(annealed), rtol=1e-9)
    np.testing.assert_allclose(float(single), float(ot.bregman.empirical_sinkhorn_divergence(
        x, y, eps, a, b, method="sinkhorn_log", stopThr=1e-12, numIterMax=200_000)), rtol=1e-6)


def test_anneal_above_takes_numpy_numbers():
    x, y, _, _ = _instance()
    assert float(sinkhorn_divergence(*_t(x, y), 1.0, anneal_above=np.int64(8))) == \
        float(sinkhorn_divergence(*_t(x, y), 1.0, anneal_above=8.0))


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "64", True])
def test_anneal_above_must_be_a_finite_nonnegative_number(bad):
    x, y, _, _ = _instance()
    with pytest.raises(ValueError, match="anneal_above must be a finite number >= 0"):
        sinkhorn_divergence(*_t(x, y), 1.0, anneal_above=bad)
    with pytest.raises(ValueError, match="anneal_above must be a finite number >= 0"):
        sk.symmetric_sinkhorn(torch.tensor(ot.dist(x, y)), torch.full((9,), 1 / 9, dtype=torch.float64),
                              torch.full((6,), 1 / 6, dtype=torch.float64), 1.0, anneal_above=bad)
