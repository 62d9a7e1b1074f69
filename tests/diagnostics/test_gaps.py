"""Gap metrics against closed forms (Gaussian MMD², Bures W2, sliced W of a mean shift),
double loops, scipy.stats.energy_distance, exact assignment and ot.emd2."""

import numpy as np
import ot
import pytest
from scipy import stats
from scipy.optimize import linear_sum_assignment

from da.data import GaussianDomain, gaussian_mixture_mmd2, gaussian_w2
from da.diagnostics import (GAP_METRICS, coral_distance, energy_distance, gap, mmd2, proxy_a_distance,
                            sliced_wasserstein, wasserstein)
from da.diagnostics.gaps import _projections, _quantile_grid, _sliced_from_projected

from ._reference import energy_loop, median_heuristic_loop, mmd2_loop


def _mixtures():
    """Two-class Gaussian mixtures in 3-D: the target moves one class and reweights the classes."""
    p = GaussianDomain([[0, 0, 0], [2, 0, 0]], np.eye(3), prior=[0.5, 0.5])
    q = GaussianDomain([[0, 0, 0], [2, 1.0, 0]], [np.eye(3), 1.5 * np.eye(3)], prior=[0.3, 0.7])
    return p, q


def test_mmd2_matches_double_loop_fixed_and_median_bandwidth():
    """Reference: float64 double loops (estimate and pooled median heuristic)."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(11, 2)), rng.normal(size=(8, 2)) + 0.4
    assert mmd2(X, Y, bandwidth=0.7) == pytest.approx(mmd2_loop(X, Y, 0.7), rel=1e-10)
    h = median_heuristic_loop(np.concatenate([X, Y]))
    assert mmd2(X, Y) == pytest.approx(mmd2_loop(X, Y, h), rel=1e-10)


def test_mmd2_matches_closed_form_gaussian_mixture_within_3_se():
    """Reference: da.data.gaussian_mixture_mmd2 (closed form), 20 independent estimates."""
    p, q = _mixtures()
    est = [mmd2(p.sample(300, seed=2 * r)[0], q.sample(300, seed=2 * r + 1)[0], bandwidth=1.5)
           for r in range(20)]
    se = np.std(est, ddof=1) / np.sqrt(20)
    assert abs(np.mean(est) - gaussian_mixture_mmd2(p, q, 1.5)) <= 3 * se


def test_mmd2_median_heuristic_matches_closed_form_at_its_bandwidth():
    """Reference: the closed form evaluated at each estimate's own median-heuristic bandwidth."""
    p, q = _mixtures()
    diffs = []
    for r in range(15):
        Xs, Xt = p.sample(200, seed=100 + 2 * r)[0], q.sample(200, seed=101 + 2 * r)[0]
        res = gap(Xs, Xt, "mmd2", n_bootstrap=0)
        diffs.append(res.value - gaussian_mixture_mmd2(p, q, res.details["bandwidth"]))
    assert abs(np.mean(diffs)) <= 3 * np.std(diffs, ddof=1) / np.sqrt(len(diffs))


def test_mmd2_bootstrap_interval_covers_the_closed_form():
    """Reference: closed-form MMD²; the percentile interval of one n=500 sample covers it."""
    p, q = _mixtures()
    res = gap(p.sample(500, seed=7)[0], q.sample(500, seed=8)[0], "mmd2", bandwidth=1.5,
              n_bootstrap=300, seed=0)
    assert res.ci[0] <= gaussian_mixture_mmd2(p, q, 1.5) <= res.ci[1]
    assert res.ci[0] <= res.value <= res.ci[1]
    assert abs(res.details["bootstrap_bias"]) < 0.2 * (res.ci[1] - res.ci[0])


def test_block_mmd2_is_unbiased_for_the_closed_form():
    """Reference: closed form; the block (B-test) estimate and its normal interval."""
    p, q = _mixtures()
    Xs, Xt = p.sample(6000, seed=11)[0], q.sample(5000, seed=12)[0]
    res = gap(Xs, Xt, "mmd2", bandwidth=1.5, block_size=250, seed=0)
    assert res.method == "mmd2/block" and res.details["n_blocks"] == 20
    assert res.ci[0] <= gaussian_mixture_mmd2(p, q, 1.5) <= res.ci[1]


def test_energy_distance_matches_scipy_1d_and_double_loop():
    """Reference: scipy.stats.energy_distance (1-D) and a float64 double loop (4-D)."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=57), rng.gamma(2.0, size=43)
    assert energy_distance(x[:, None], y[:, None]) == pytest.approx(stats.energy_distance(x, y), rel=1e-10)
    X, Y = rng.normal(size=(9, 4)), rng.normal(size=(7, 4)) + 1
    assert energy_distance(X, Y) == pytest.approx(np.sqrt(energy_loop(X, Y)), rel=1e-10)


def test_energy_bootstrap_equals_resampled_rows():
    """Reference: the statistic recomputed on explicitly resampled rows (weights = counts)."""
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(25, 2)) + 0.5
    res = gap(X, Y, "energy_distance", n_bootstrap=40, seed=3)
    g = np.random.default_rng(3)
    cs = g.multinomial(30, np.full(30, 1 / 30), size=40)
    ct = g.multinomial(25, np.full(25, 1 / 25), size=40)
    reps = [energy_distance(np.repeat(X, cs[b], 0), np.repeat(Y, ct[b], 0)) for b in range(40)]
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert res.ci == pytest.approx((lo, hi), rel=1e-9)


def test_wasserstein_exact_matches_assignment_and_emd2():
    """Reference: optimal assignment (equal sizes) and ot.emd2 with its own cost (unequal sizes)."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) * 2 + 1
    C = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    r, c = linear_sum_assignment(C)
    assert wasserstein(X, Y, method="exact") == pytest.approx(np.sqrt(C[r, c].mean()), rel=1e-9)
    Y2 = Y[:45]
    ref = np.sqrt(ot.emd2(np.full(60, 1 / 60), np.full(45, 1 / 45), ot.dist(X, Y2)))
    assert wasserstein(X, Y2) == pytest.approx(ref, rel=1e-9)


def test_wasserstein_matches_bures_closed_form_at_n5000_d5():
    """Reference: da.data.gaussian_w2 (Bures) within 5%.

    n = 5000 > max_exact = 2500 (passed: the default is now 5000), so "auto" solves exact OT on a
    2500-row subsample per domain (about 2 s rather than ~7 s for 5000). The plug-in W2 is biased
    upwards by O(n^(-1/d)) in W2²; with this mean shift the bias is ~1% of W2.
    """
    d = 5
    m1, S1 = np.full(d, 2.0), np.diag([1.5, 1.0, 0.5, 2.0, 1.0])
    p = GaussianDomain(np.zeros((1, d)), np.eye(d))
    q = GaussianDomain(m1[None], S1)
    res = gap(p.sample(5000, seed=0)[0], q.sample(5000, seed=1)[0], "wasserstein", n_bootstrap=0, seed=0,
              max_exact=2500)
    assert res.method == "wasserstein/emd2-subsample" and res.details["n_source"] == 2500
    assert res.value == pytest.approx(gaussian_w2(np.zeros(d), np.eye(d), m1, S1), rel=0.05)


def test_wasserstein_methods_and_sinkhorn_upper_bias():
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(80, 2)), rng.normal(size=(80, 2)) + 2
    exact = wasserstein(X, Y, method="exact")
    sink = wasserstein(X, Y, method="sinkhorn", reg=0.02)
    assert exact * (1 - 1e-6) <= sink <= exact * 1.05  # the entropic plan only adds cost
    assert wasserstein(X, Y, method="sliced", seed=0) == sliced_wasserstein(X, Y, seed=0)
    assert gap(X, Y, "wasserstein", method="sinkhorn", n_bootstrap=0).method == "wasserstein/sinkhorn"


def test_sliced_wasserstein_matches_mean_shift_closed_form():
    """Reference: SW2² = |mu|²/d for N(0, I) vs N(mu, I) (E[(theta·mu)²] over the sphere)."""
    d = 5
    mu = np.array([2.0, -1.0, 0.5, 1.5, 0.0])
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(2000, d)), rng.normal(size=(2000, d)) + mu
    assert sliced_wasserstein(X, Y, n_projections=1000, seed=0) == pytest.approx(
        np.linalg.norm(mu) / np.sqrt(d), rel=0.05)


@pytest.mark.parametrize("n,m", [(40, 40), (37, 53), (200, 131)])
def test_sliced_quantile_formula_matches_pot(n, m):
    """Reference: ot.sliced_wasserstein_distance with the same projections (used by the bootstrap)."""
    rng = np.random.default_rng(n + m)
    X, Y = rng.normal(size=(n, 4)), rng.exponential(size=(m, 4))
    th = _projections(4, 25, seed=1)
    assert _sliced_from_projected(X @ th, Y @ th, _quantile_grid(n, m)) == pytest.approx(
        ot.sliced_wasserstein_distance(X, Y, projections=th), rel=1e-10)


def test_sliced_does_not_touch_numpy_global_seed():
    np.random.seed(123)
    a = np.random.rand()
    np.random.seed(123)
    sliced_wasserstein(np.eye(3), np.eye(3) + 1, seed=5)
    assert np.random.rand() == a


def test_coral_matches_numpy_formula():
    """Reference: ||C_s - C_t||_F² / (4 d²) with numpy covariances."""
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(80, 4)), rng.normal(size=(60, 4)) @ np.diag([1, 2, 0.5, 1])
    ref = ((np.cov(X.T) - np.cov(Y.T)) ** 2).sum() / (4 * 16)
    assert coral_distance(X, Y) == pytest.approx(ref, rel=1e-12)
    assert coral_distance(X, X + 100.0) == pytest.approx(0.0, abs=1e-12)  # blind to mean shifts


def test_coral_bootstrap_spread_matches_row_bootstrap():
    """Reference: an explicit row bootstrap loop; the grouped sufficient-statistic bootstrap agrees."""
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3)) * [1.0, 1.3, 1.0]
    res = gap(X, Y, "coral_distance", n_bootstrap=400, seed=0)
    assert res.details["bootstrap_groups"] == 512
    g = np.random.default_rng(1)
    loop = [coral_distance(X[g.integers(0, 3000, 3000)], Y[g.integers(0, 3000, 3000)]) for _ in range(200)]
    width_loop = np.subtract(*np.quantile(loop, [0.975, 0.025]))
    assert res.ci[1] - res.ci[0] == pytest.approx(width_loop, rel=0.25)


def test_bias_corrected_interval_contains_plug_in_estimate_near_zero():
    """Near zero the plug-in CORAL's bootstrap is biased upwards; the bias-corrected interval is not."""
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(200, 6)), rng.normal(size=(200, 6))
    pct = gap(X, Y, "coral_distance", n_bootstrap=200, seed=0)
    bc = gap(X, Y, "coral_distance", n_bootstrap=200, seed=0, ci_method="bias-corrected")
    assert pct.details["bootstrap_bias"] > 0
    assert bc.ci[0] <= bc.value <= bc.ci[1]
    assert bc.ci[0] >= 0


def test_proxy_a_distance_range_and_extremes():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(400, 3))
    assert proxy_a_distance(X, rng.normal(size=(400, 3)), seed=0) < 0.3
    assert proxy_a_distance(X, rng.normal(size=(400, 3)) + 20, seed=0) == 2.0
    res = gap(X, rng.normal(size=(300, 3)) + 0.7, "proxy_a_distance", n_bootstrap=100, seed=0)
    assert 0 <= res.ci[0] <= res.value <= res.ci[1] <= 2


def test_proxy_a_distance_is_two_one_minus_two_balanced_error():
    """Reference: the held-out balanced error of the same classifier on the same seeded split."""
    from da.diagnostics._classifier import _held_out_predictions

    rng = np.random.default_rng(10)
    X, Y = rng.normal(size=(300, 2)), rng.normal(size=(200, 2)) + 0.8
    pred, y, info = _held_out_predictions(X, Y, None, 0.5, np.random.default_rng(4))
    err = 0.5 * (np.mean(pred[y == 0] == 1) + np.mean(pred[y == 1] == 0))
    assert info["n_test_per_domain"] == 100
    assert proxy_a_distance(X, Y, seed=4) == pytest.approx(max(0.0, 2 * (1 - 2 * err)))


@pytest.mark.parametrize("metric", GAP_METRICS)
def test_same_seed_same_gap(metric):
    rng = np.random.default_rng(11)
    X, Y = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) + 0.3
    a = gap(X, Y, metric, n_bootstrap=10, seed=5)
    assert a == gap(X, Y, metric, n_bootstrap=10, seed=5)
    assert a.ci[0] <= a.ci[1] and np.isfinite(a.value)


def test_gap_bad_input():
    rng = np.random.default_rng(12)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match="unknown metric 'mmd'.*'mmd2'.*'proxy_a_distance'"):
        gap(X, Y, "mmd")
    with pytest.raises(ValueError, match="n_bootstrap"):
        gap(X, Y, "mmd2", n_bootstrap=-1)
    with pytest.raises(ValueError, match="confidence"):
        gap(X, Y, "mmd2", confidence=1.0)
    with pytest.raises(ValueError, match="ci_method"):
        gap(X, Y, "mmd2", ci_method="bca")
    with pytest.raises(ValueError, match="unexpected argument.*n_projections"):
        gap(X, Y, "coral_distance", n_projections=3)
    with pytest.raises(ValueError, match="unknown method"):
        wasserstein(X, Y, method="lp")
    with pytest.raises(ValueError, match="bandwidth"):
        mmd2(X, Y, bandwidth=-1)
    with pytest.raises(ValueError, match="constant"):
        mmd2(np.zeros((5, 2)), np.zeros((6, 2)))
    with pytest.raises(ValueError, match="NaN"):
        energy_distance(X, np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="different feature dimensions"):
        coral_distance(X, rng.normal(size=(20, 3)))
