"""MMDLoss against a float64 double-loop numpy reference and the Gaussian closed form."""

import math

import numpy as np
import pytest
import torch

from da.align import MMDLoss
from da.data.gaussian import GaussianDomain, gaussian_mixture_mmd2

MULTS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _k(a, b, h):
    return math.exp(-float(np.sum((a - b) ** 2)) / (2.0 * h * h))


def _np_median_bandwidth(x, y):
    z = np.concatenate([x, y])
    dists = [math.sqrt(float(np.sum((z[i] - z[j]) ** 2)))
             for i in range(len(z)) for j in range(i + 1, len(z))]
    assert len(dists) % 2 == 1  # an odd count: the median is one of the distances
    return float(np.median(dists))


def _np_mmd2(x, y, bandwidths, estimator, gx=None, gy=None, joint_h=0.92):
    """Explicit loops over i, j; the kernel is the mean over bandwidths (times the label kernel)."""
    def k(a, b, ga, gb):
        val = sum(_k(a, b, h) for h in bandwidths) / len(bandwidths)
        return val * (_k(ga, gb, joint_h) if ga is not None else 1.0)

    n, m = len(x), len(y)
    gx = [None] * n if gx is None else gx
    gy = [None] * m if gy is None else gy
    if estimator == "linear":
        pairs = min(n, m) // 2
        total = 0.0
        for q in range(pairs):
            i, j = 2 * q, 2 * q + 1
            total += (k(x[i], x[j], gx[i], gx[j]) + k(y[i], y[j], gy[i], gy[j])
                      - k(x[i], y[j], gx[i], gy[j]) - k(x[j], y[i], gx[j], gy[i]))
        return total / pairs
    sxx = sum(k(x[i], x[j], gx[i], gx[j]) for i in range(n) for j in range(n) if i != j)
    syy = sum(k(y[i], y[j], gy[i], gy[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j], gx[i], gy[j]) for i in range(n) for j in range(m))
    if estimator == "unbiased":
        return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)
    return (sxx + n) / n ** 2 + (syy + m) / m ** 2 - 2 * sxy / (n * m)


def _softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
@pytest.mark.parametrize("bandwidth", [None, 1.7])
@pytest.mark.parametrize("multipliers", [MULTS, (1.0,)])
def test_mmd_matches_double_loop_numpy(estimator, bandwidth, multipliers):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3))
    y = rng.normal(size=(6, 3)) + 0.7  # pooled 11 points: 55 distances, an odd count
    h = _np_median_bandwidth(x, y) if bandwidth is None else bandwidth
    expected = _np_mmd2(x, y, [h * m for m in multipliers], estimator)

    loss = MMDLoss(bandwidth=bandwidth, multipliers=multipliers, estimator=estimator)
    got = loss(torch.tensor(x), torch.tensor(y))
    assert got.dtype == torch.float64 and got.shape == ()
    np.testing.assert_allclose(float(got), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss.last_stats_["bandwidth"], h, rtol=1e-12)
    assert loss.last_stats_["mmd2"] == float(got)


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
@pytest.mark.parametrize("bandwidth", [None, 1.2])
def test_jmmd_matches_double_loop_numpy_product_kernel(estimator, bandwidth):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5  # 55 pooled distances
    ax, ay = rng.normal(size=(6, 3)) * 2, rng.normal(size=(5, 3)) * 2
    h = _np_median_bandwidth(x, y) if bandwidth is None else bandwidth
    expected = _np_mmd2(x, y, [h * m for m in MULTS], estimator, _softmax(ax), _softmax(ay), 0.92)
    loss = MMDLoss(bandwidth=bandwidth, estimator=estimator, joint=True)
    got = loss(torch.tensor(x), torch.tensor(y), logits_s=torch.tensor(ax), logits_t=torch.tensor(ay))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10, atol=1e-12)


def test_multi_kernel_value_is_mean_of_single_kernel_values():
    """Reference: five single-kernel MMDLoss values at bandwidths h*m, averaged."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 4, generator=g), torch.randn(25, 4, generator=g) + 0.3
    for estimator in ("unbiased", "biased", "linear"):
        multi = MMDLoss(bandwidth=2.0, estimator=estimator)(x, y)
        singles = [MMDLoss(bandwidth=2.0 * m, multipliers=(1,), estimator=estimator)(x, y) for m in MULTS]
        torch.testing.assert_close(multi, torch.stack(singles).mean())


def _two_mixtures():
    p = GaussianDomain([[0.0, 0.0], [2.0, 0.0]], np.eye(2))
    q = GaussianDomain([[0.5, 0.5], [2.0, 1.0]], [[1.5, 0.3], [0.3, 0.8]], prior=[0.3, 0.7])
    return p, q


@pytest.mark.parametrize("estimator,n,m,reps", [("unbiased", 12, 17, 600), ("linear", 40, 40, 600)])
@pytest.mark.parametrize("multipliers", [(1.0,), MULTS])
def test_estimator_mean_matches_gaussian_mixture_mmd2_closed_form(estimator, n, m, reps, multipliers):
    """Mean over many batches within 3 standard errors of gaussian_mixture_mmd2 (mean over bandwidths)."""
    p, q = _two_mixtures()
    h = 1.5
    truth = np.mean([gaussian_mixture_mmd2(p, q, h * mult) for mult in multipliers])
    xs, _ = p.sample(n * reps, seed=11)
    ys, _ = q.sample(m * reps, seed=12)
    xs = torch.tensor(xs, dtype=torch.float64).reshape(reps, n, 2)
    ys = torch.tensor(ys, dtype=torch.float64).reshape(reps, m, 2)
    loss = MMDLoss(bandwidth=h, multipliers=multipliers, estimator=estimator)
    vals = np.array([float(loss(xs[r], ys[r])) for r in range(reps)])
    se = vals.std(ddof=1) / math.sqrt(reps)
    assert abs(vals.mean() - truth) < 3 * se, (vals.mean(), truth, se)


def test_biased_estimator_is_biased_upwards_closed_form():
    """The V-statistic exceeds the closed form on average (it adds the k(x,x)=1 diagonal)."""
    p, q = _two_mixtures()
    reps, n = 300, 8
    xs, _ = p.sample(n * reps, seed=3)
    ys, _ = q.sample(n * reps, seed=4)
    xs = torch.tensor(xs, dtype=torch.float64).reshape(reps, n, 2)
    ys = torch.tensor(ys, dtype=torch.float64).reshape(reps, n, 2)
    loss = MMDLoss(bandwidth=1.0, multipliers=(1,), estimator="biased")
    vals = np.array([float(loss(xs[r], ys[r])) for r in range(reps)])
    se = vals.std(ddof=1) / math.sqrt(reps)
    assert vals.mean() - gaussian_mixture_mmd2(p, q, 1.0) > 3 * se


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
@pytest.mark.parametrize("joint", [False, True])
def test_mmd_gradcheck_fixed_bandwidth(estimator, joint):
    """torch.autograd.gradcheck (finite differences) in float64, including the hand-written kernel backward."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    a = torch.randn(6, 2, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    loss = MMDLoss(bandwidth=1.3, estimator=estimator, joint=joint)
    assert torch.autograd.gradcheck(lambda *t: loss(t[0], t[1], logits_s=t[2], logits_t=t[3]),
                                    (x, y, a, b))


def test_median_bandwidth_is_detached_same_gradient_as_fixed_h():
    """With the median heuristic the gradient equals that of the fixed-bandwidth loss at the same h."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(8, 3, generator=g, dtype=torch.float64)
    med = MMDLoss()
    med(x, y).backward()
    grad_med = x.grad.clone()
    x.grad = None
    MMDLoss(bandwidth=med.last_stats_["bandwidth"])(x, y).backward()
    torch.testing.assert_close(grad_med, x.grad)


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
def test_mmd_gradient_matches_autograd_through_da_kernels(estimator):
    """Reference: plain autograd through pairwise_sq_dists and gaussian_kernels at a larger size."""
    from da._kernels import gaussian_kernels, pairwise_sq_dists

    g = torch.Generator().manual_seed(9)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = (torch.randn(30, 6, generator=g, dtype=torch.float64) * 1.3 + 0.4).requires_grad_()
    loss = MMDLoss(estimator=estimator)
    loss(x, y).backward()
    gx, gy = x.grad.clone(), y.grad.clone()
    x.grad = y.grad = None

    h = loss.last_stats_["bandwidth"]
    k = gaussian_kernels(pairwise_sq_dists(torch.cat([x, y])), [h * m for m in MULTS]).mean(0)
    kxx, kyy, kxy = k[:40, :40], k[40:, 40:], k[:40, 40:]
    if estimator == "unbiased":
        ref = ((kxx.sum() - kxx.diagonal().sum()) / (40 * 39) + (kyy.sum() - kyy.diagonal().sum()) / (30 * 29)
               - 2 * kxy.mean())
    else:
        ref = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    ref.backward()
    torch.testing.assert_close(gx, x.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(gy, y.grad, rtol=1e-9, atol=1e-12)


# -- kernel="laplacian": exp(-||x - y|| / h) on unsquared distances (skada's DAN kernel family) --

def _np_mmd2_laplacian(x, y, bandwidths, estimator):
    """Explicit float64 loops; the kernel is the mean over bandwidths of exp(-||a - b|| / h)."""
    def k(a, b):
        r = math.sqrt(float(np.sum((a - b) ** 2)))
        return sum(math.exp(-r / h) for h in bandwidths) / len(bandwidths)

    n, m = len(x), len(y)
    if estimator == "linear":
        pairs = min(n, m) // 2
        return sum(k(x[2 * q], x[2 * q + 1]) + k(y[2 * q], y[2 * q + 1]) - k(x[2 * q], y[2 * q + 1])
                   - k(x[2 * q + 1], y[2 * q]) for q in range(pairs)) / pairs
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    if estimator == "unbiased":
        return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)
    return (sxx + n) / n ** 2 + (syy + m) / m ** 2 - 2 * sxy / (n * m)


SKADA_MULTS = tuple(2.0 ** (k / 2) for k in range(-16, 17))  # 2^-8 .. 2^8, 33 kernels


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
@pytest.mark.parametrize("bandwidth", [None, 1.3])
@pytest.mark.parametrize("multipliers", [SKADA_MULTS, (1.0,)])
def test_laplacian_mmd_matches_double_loop_numpy(estimator, bandwidth, multipliers):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(6, 3)) + 0.7
    h = _np_median_bandwidth(x, y) if bandwidth is None else bandwidth
    expected = _np_mmd2_laplacian(x, y, [h * m for m in multipliers], estimator)
    loss = MMDLoss(bandwidth=bandwidth, multipliers=multipliers, estimator=estimator, kernel="laplacian")
    got = loss(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10, atol=1e-12)


def test_laplacian_mmd_is_skadas_dan_loss_over_33():
    """skada's dan_loss: (1/N^2) sum K_xx + (1/M^2) sum K_yy - 2/(NM) sum K_xy with K the SUM of 33 kernels
    exp(-d/sigma), sigma = 2^-8..2^8 x the median of the source-source distance matrix (diagonal included).
    Written here as a float64 loop; ours is the biased estimator at that bandwidth, times 33."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(7, 4)) * 1.5 + 0.3
    dxx = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    med = float(np.median(dxx))
    sig = [med * m for m in SKADA_MULTS]
    kern = lambda a, b: sum(math.exp(-math.sqrt(float(((a - b) ** 2).sum())) / s) for s in sig)  # noqa: E731
    skada = (np.mean([[kern(a, b) for b in x] for a in x]) + np.mean([[kern(a, b) for b in y] for a in y])
             - 2 * np.mean([[kern(a, b) for b in y] for a in x]))
    loss = MMDLoss(bandwidth=med, multipliers=SKADA_MULTS, estimator="biased", kernel="laplacian")
    np.testing.assert_allclose(33 * float(loss(torch.tensor(x), torch.tensor(y))), skada, rtol=1e-10)


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
def test_laplacian_mmd_gradcheck(estimator):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = (torch.randn(5, 3, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    loss = MMDLoss(bandwidth=0.8, multipliers=(0.5, 1.0, 2.0), estimator=estimator, kernel="laplacian")
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b), (x, y))


def test_laplacian_mmd_gradient_is_finite_with_duplicate_points():
    """At r = 0 the Laplacian kernel has no derivative; a duplicated row must not give NaN gradients."""
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.5]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[0.3, 0.1], [2.0, 1.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    MMDLoss(kernel="laplacian")(x, y).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_unknown_kernel_is_a_value_error():
    with pytest.raises(ValueError, match="kernel"):
        MMDLoss(kernel="cauchy")


# -- the kernel sums: squarings of the widest kernel on a power-of-two grid of multipliers --

@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("multipliers", [MULTS, tuple(2.0 ** k for k in range(-4, 5)), (0.5, 2.0, 2.0, 8.0),
                                         (0.3, 1.0, 2.5)])
def test_kernel_sums_equal_one_exponential_per_kernel_float64(kernel, multipliers):
    """sum_u k_u and sum_u q_u k_u, k_u = exp(-s / c_u), against an explicit float64 loop."""
    from da.align.mmd import _exponent_ratios, _kernel_sums, _squaring_levels

    g = torch.Generator().manual_seed(0)
    z = torch.randn(30, 5, generator=g, dtype=torch.float64)
    d2 = torch.cdist(z, z) ** 2
    h = torch.tensor(1.3, dtype=torch.float64)
    s = d2 if kernel == "gaussian" else d2.sqrt()
    scales = [2 * (h * m) ** 2 if kernel == "gaussian" else h * m for m in multipliers]
    c0 = max(scales)
    ratios = _exponent_ratios(multipliers, kernel)
    levels = _squaring_levels(ratios)
    assert (levels is None) == (multipliers == (0.3, 1.0, 2.5))  # 2.5 / 0.3 is no power of two
    ksum, wsum = _kernel_sums(s, c0, ratios, levels)
    explicit = [torch.exp(-s / c) for c in scales]
    torch.testing.assert_close(ksum, sum(explicit), rtol=1e-13, atol=0)
    torch.testing.assert_close(wsum, sum((c0 / c) * k for c, k in zip(scales, explicit)), rtol=1e-13, atol=0)


def test_kernel_sums_float32_stay_within_rounding_of_float64():
    """The squarings cost float32 only a few ulps: mean kernel within 1e-6, relative."""
    from da.align.mmd import _exponent_ratios, _kernel_sums, _squaring_levels

    g = torch.Generator().manual_seed(1)
    z = torch.randn(100, 16, generator=g, dtype=torch.float64)
    r = torch.cdist(z, z)
    mults = tuple(2.0 ** k for k in range(-4, 5))
    ratios = _exponent_ratios(mults, "laplacian")
    h = float(r.median())
    k64, w64 = _kernel_sums(r, torch.tensor(h * 16, dtype=torch.float64), ratios, _squaring_levels(ratios))
    k32, w32 = _kernel_sums(r.float(), torch.tensor(h * 16), ratios, _squaring_levels(ratios))
    assert float(((k32.double() - k64).abs() / k64).max()) < 1e-6
    assert float(((w32.double() - w64).abs() / w64).max()) < 2e-6


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
def test_mmd_float32_value_and_gradient_within_rounding_of_float64(kernel):
    g = torch.Generator().manual_seed(2)
    x64 = torch.randn(128, 32, generator=g, dtype=torch.float64)
    y64 = torch.randn(128, 32, generator=g, dtype=torch.float64) * 1.1 + 0.1
    mults = tuple(2.0 ** k for k in range(-4, 5))
    out = {}
    for dt in (torch.float64, torch.float32):
        x, y = x64.to(dt).clone().requires_grad_(), y64.to(dt).clone().requires_grad_()
        value = MMDLoss(kernel=kernel, multipliers=mults)(x, y)
        value.backward()
        out[dt] = float(value.detach()), torch.cat([x.grad, y.grad]).double()
    np.testing.assert_allclose(out[torch.float32][0], out[torch.float64][0], rtol=2e-5)
    err = (out[torch.float32][1] - out[torch.float64][1]).norm() / out[torch.float64][1].norm()
    assert float(err) < 1e-5
