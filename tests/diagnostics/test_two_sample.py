"""Two-sample tests: statistics vs float64 double loops and scipy, exact-enumeration p-values,
calibration (type-I error, uniform null p-values) and power."""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from da.data import GaussianDomain
from da.diagnostics import c2st, energy_test, ks_test, linear_mmd_test, mmd_test
from da.diagnostics._quadratic import _mmd2_unbiased, _pooled_sq_dists, _quadratic_forms, _totals
from da.diagnostics.permutation import _batched_energy_test, _batched_mmd_test

from ._reference import energy_loop, exact_permutation_pvalue, mmd2_loop, median_heuristic_loop

ALPHA = 0.05
RATE_LO, RATE_HI = 0.0365, 0.0635


def _assert_calibrated(p, *, uniform=True):
    p = np.asarray(p)
    assert np.all((p > 0) & (p <= 1)) and np.isfinite(p).all()
    rate = float(np.mean(p <= ALPHA))
    assert RATE_LO <= rate <= RATE_HI, f"type-I error {rate:.4f} outside [{RATE_LO}, {RATE_HI}]"
    if uniform:
        ks = stats.kstest(p, "uniform").pvalue
        assert ks > 0.01, f"null p-values not uniform (KS p = {ks:.3g})"
    return rate


def _null_batch(R, n, m, d, seed):
    """R independent null replications: both samples N(0, I_d)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((R, n, d)), rng.standard_normal((R, m, d))


# --- statistics against independent references -------------------------------------------

def test_mmd_statistic_matches_double_loop_fixed_and_median_bandwidth():
    """Reference: float64 double loops for MMD^2_u and for the pooled median heuristic."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(9, 3)), rng.normal(size=(7, 3)) + 0.5
    assert mmd_test(X, Y, bandwidth=0.8, n_permutations=5, seed=0).statistic == pytest.approx(
        mmd2_loop(X, Y, 0.8), rel=1e-10)
    res = mmd_test(X, Y, n_permutations=5, seed=0)
    h = median_heuristic_loop(np.concatenate([X, Y]))
    assert res.details["bandwidth"] == pytest.approx(h, rel=1e-10)
    assert res.statistic == pytest.approx(mmd2_loop(X, Y, h), rel=1e-10)


def test_quadratic_forms_give_every_split_statistic():
    """Reference: double-loop MMD^2_u recomputed on each random split the batch evaluated."""
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    Z = np.concatenate([X, Y])
    K = torch.exp(-_pooled_sq_dists(X, Y) / 2.0)
    A = torch.zeros(11, 8, dtype=torch.float64)
    for b in range(8):
        A[rng.choice(11, 6, replace=False), b] = 1.0
    q, r, t = _quadratic_forms(K, A, max_bytes=8 * 11 * 3)  # forces chunks of 3 columns
    T, D = _totals(K)
    got = _mmd2_unbiased(q, r, t, T, D, 6, 5).numpy().ravel()
    for b in range(8):
        mask = A[:, b].numpy().astype(bool)
        assert got[b] == pytest.approx(mmd2_loop(Z[mask], Z[~mask], 1.0), rel=1e-10)


def test_energy_statistic_matches_scipy_in_1d_and_double_loop():
    """Reference: scipy.stats.energy_distance (1-D) and a double loop (3-D)."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=40), rng.normal(size=30) + 0.3
    res = energy_test(x[:, None], y[:, None], n_permutations=10, seed=0)
    assert res.statistic == pytest.approx(40 * 30 / 70 * stats.energy_distance(x, y) ** 2, rel=1e-10)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(6, 3))
    assert energy_test(X, Y, n_permutations=3, seed=0).statistic == pytest.approx(
        8 * 6 / 14 * energy_loop(X, Y), rel=1e-10)


@pytest.mark.parametrize("which", ["mmd", "energy"])
def test_permutation_pvalue_converges_to_exact_enumeration(which):
    """Reference: the exact permutation p-value over all C(10, 5) = 252 splits, by double loops."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)) + 0.7
    if which == "mmd":
        exact = exact_permutation_pvalue(X, Y, lambda a, b: mmd2_loop(a, b, 1.0))
        p = mmd_test(X, Y, bandwidth=1.0, n_permutations=20000, seed=0).pvalue
    else:
        exact = exact_permutation_pvalue(X, Y, energy_loop)
        p = energy_test(X, Y, n_permutations=20000, seed=0).pvalue
    assert abs(p - exact) < 4 * np.sqrt(exact * (1 - exact) / 20000) + 1e-4


def test_ks_matches_scipy_per_feature_and_corrections():
    """Reference: scipy.stats.ks_2samp feature by feature; Bonferroni and BH by hand."""
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(80, 4)), rng.normal(size=(70, 4))
    Y[:, 1] += 0.8
    ref = [stats.ks_2samp(X[:, j], Y[:, j]) for j in range(4)]
    p = np.array([r.pvalue for r in ref])
    res = ks_test(X, Y)
    np.testing.assert_allclose(res.details["statistics"], [r.statistic for r in ref])
    np.testing.assert_allclose(res.details["pvalues"], p)
    assert res.pvalue == pytest.approx(min(1.0, 4 * p.min()))
    assert res.details["rejected"] == list(np.minimum(1, 4 * p) <= 0.05)
    bh = ks_test(X, Y, correction="bh")
    order = np.argsort(p)
    adj = np.minimum.accumulate((p[order] * 4 / np.arange(1, 5))[::-1])[::-1]
    expected = np.empty(4)
    expected[order] = np.minimum(adj, 1)
    np.testing.assert_allclose(bh.details["adjusted_pvalues"], expected)
    assert bh.pvalue == pytest.approx(expected.min())


def test_linear_mmd_matches_definition():
    """Reference: the paired h-terms recomputed by a loop on the same shuffled pairs."""
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(24, 2))
    res = linear_mmd_test(X, Y, bandwidth=1.3, seed=7)
    g = np.random.default_rng(7)
    si, ti = g.permutation(20)[:20], g.permutation(24)[:20]
    from ._reference import gauss
    h = [gauss(X[si[2 * i]], X[si[2 * i + 1]], 1.3) + gauss(Y[ti[2 * i]], Y[ti[2 * i + 1]], 1.3)
         - gauss(X[si[2 * i]], Y[ti[2 * i + 1]], 1.3) - gauss(X[si[2 * i + 1]], Y[ti[2 * i]], 1.3)
         for i in range(10)]
    assert res.statistic == pytest.approx(np.mean(h), rel=1e-10)
    z = np.mean(h) / (np.std(h, ddof=1) / np.sqrt(10))
    assert res.pvalue == pytest.approx(stats.norm.sf(z), rel=1e-8)


# --- calibration under H0 ------------------------------------------------------------------

def test_mmd_type_one_error_batched_core_2000_replications():
    """Reference: Uniform(0,1) null p-values; rate of p <= 0.05 within binomial bounds.

    (Checked off-suite at 40 000 replications: 0.0510 at n=10, 0.0503 at n=30.)
    """
    Xs, Xt = _null_batch(2000, 30, 30, 3, seed=101)
    res = _batched_mmd_test(Xs, Xt, n_permutations=199, rng=np.random.default_rng(1))
    _assert_calibrated(res["pvalue"])


def test_mmd_aggregated_type_one_error_batched_core():
    """Reference: Uniform(0,1); the min-p combination over 5 bandwidths stays at level 0.05."""
    Xs, Xt = _null_batch(1500, 25, 35, 2, seed=12)
    res = _batched_mmd_test(Xs, Xt, n_permutations=199, rng=np.random.default_rng(13),
                            scales=(0.25, 0.5, 1.0, 2.0, 4.0), aggregate=True)
    _assert_calibrated(res["pvalue"])


def test_energy_type_one_error_batched_core_2000_replications():
    """Reference: Uniform(0,1) null p-values."""
    Xs, Xt = _null_batch(2000, 30, 40, 2, seed=14)
    _assert_calibrated(_batched_energy_test(Xs, Xt, n_permutations=199, rng=np.random.default_rng(15))["pvalue"])


def test_public_permutation_tests_are_the_batched_core():
    """The public path on a subset: identical p-values to the core, and a sane null rate."""
    Xs, Xt = _null_batch(300, 20, 20, 2, seed=16)
    p_pub = np.array([mmd_test(Xs[r], Xt[r], n_permutations=99, seed=r).pvalue for r in range(300)])
    for r in range(0, 300, 60):
        core = _batched_mmd_test(Xs[r:r + 1], Xt[r:r + 1], n_permutations=99, rng=np.random.default_rng(r))
        assert p_pub[r] == core["pvalue"][0]
        e_core = _batched_energy_test(Xs[r:r + 1], Xt[r:r + 1], n_permutations=99, rng=np.random.default_rng(r))
        assert energy_test(Xs[r], Xt[r], n_permutations=99, seed=r).pvalue == e_core["pvalue"][0]
    # 300 replications: a 4-sigma binomial band around 0.05
    assert 0.0 < np.mean(p_pub <= ALPHA) < 0.05 + 4 * np.sqrt(0.05 * 0.95 / 300)


def test_c2st_binomial_type_one_error_and_uniformity():
    """Reference: Uniform(0,1) — 1000 replications, 1000+1000 held-out rows (fine binomial grid)."""
    Xs, Xt = _null_batch(1000, 2000, 2000, 2, seed=17)
    p = [c2st(Xs[r], Xt[r], estimator=LinearDiscriminantAnalysis(), seed=r).pvalue for r in range(1000)]
    _assert_calibrated(p)


def test_c2st_type_one_error_with_imbalanced_domains():
    """Reference: Uniform(0,1) — n_source = 1.5 n_target; the balanced split keeps chance at 1/2.

    3000 held-out rows: the binomial test's exact size is 0.0483 (discreteness);
    off-suite, 5000 replications at 2000 held-out rows gave 0.0470 against an exact size of 0.0468.
    """
    Xs, Xt = _null_batch(1000, 4500, 3000, 2, seed=18)
    p = [c2st(Xs[r], Xt[r], estimator=LinearDiscriminantAnalysis(), seed=r).pvalue for r in range(1000)]
    _assert_calibrated(p)


def test_c2st_default_classifier_null_rate_on_a_subset():
    """Reference: nominal 0.05 — the default logistic regression, n_source = 2 n_target, 300 replications.

    A 4-sigma binomial band: the point is that the default path is not anti-conservative.
    """
    Xs, Xt = _null_batch(300, 400, 200, 2, seed=23)
    rate = np.mean([c2st(Xs[r], Xt[r], seed=r).pvalue <= ALPHA for r in range(300)])
    assert abs(rate - 0.05) <= 4 * np.sqrt(0.05 * 0.95 / 300), rate


def test_c2st_permutation_pvalue_type_one_error():
    """Reference: nominal 0.05 for the label-permutation p-value (1000 held-out rows per domain)."""
    Xs, Xt = _null_batch(1000, 2000, 3000, 2, seed=19)
    p = [c2st(Xs[r], Xt[r], estimator=LinearDiscriminantAnalysis(), pvalue="permutation",
              n_permutations=999, seed=r).pvalue for r in range(1000)]
    _assert_calibrated(p)


def test_c2st_permutation_counts_follow_label_shuffles():
    """Reference: explicit shuffles of the held-out labels; same null law as the hypergeometric draws."""
    rng = np.random.default_rng(24)
    pred = rng.integers(0, 2, 40)
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    shuffled = np.array([(pred == rng.permutation(y)).sum() for _ in range(20000)])
    H = rng.hypergeometric(20, 20, int(pred.sum()), size=20000)
    drawn = 2 * H + 20 - int(pred.sum())
    assert stats.ks_2samp(shuffled, drawn).pvalue > 0.01
    assert abs(shuffled.mean() - drawn.mean()) < 0.1


def test_ks_type_one_error_one_feature_is_uniform():
    """Reference: Uniform(0,1); coprime n, m make the KS statistic's grid fine."""
    Xs, Xt = _null_batch(1000, 200, 263, 1, seed=20)
    _assert_calibrated([ks_test(Xs[r], Xt[r]).pvalue for r in range(1000)])


@pytest.mark.parametrize("correction", ["bonferroni", "bh"])
def test_ks_type_one_error_several_features(correction):
    """Reference: level 0.05 — 1-(1-0.05/3)^3 = 0.049 for Bonferroni, exactly 0.05 for Simes (BH).

    The combined p-value is not uniform (Bonferroni has an atom at 1), so only the rate is checked.
    """
    Xs, Xt = _null_batch(1000, 200, 263, 3, seed=21)
    _assert_calibrated([ks_test(Xs[r], Xt[r], correction=correction).pvalue for r in range(1000)],
                       uniform=False)


def test_linear_mmd_type_one_error():
    """Reference: the asymptotic N(0,1) null — 1000 replications with 200 pairs each."""
    Xs, Xt = _null_batch(1000, 400, 400, 2, seed=22)
    _assert_calibrated([linear_mmd_test(Xs[r], Xt[r], bandwidth=1.0, seed=r).pvalue for r in range(1000)])


# --- power ------------------------------------------------------------------------------------

SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _shifted_batches(R, n, seed):
    """Source N(0, I_2); target mean shifted by `severity` (Euclidean norm); GaussianDomain samples."""
    src = GaussianDomain(np.zeros((1, 2)), np.eye(2))
    out = []
    for k, sev in enumerate(SEVERITIES):
        tgt = GaussianDomain(np.full((1, 2), sev / np.sqrt(2)), np.eye(2))
        Xs = src.sample(R * n, seed=seed + 2 * k)[0].reshape(R, n, 2)
        Xt = tgt.sample(R * n, seed=seed + 2 * k + 1)[0].reshape(R, n, 2)
        out.append((Xs, Xt))
    return out


def test_power_increases_with_mean_shift_severity():
    """Reference: power is monotone in the shift and ~alpha at zero shift, for all four tests."""
    batches = _shifted_batches(300, 30, seed=100)
    power = {"mmd": [], "energy": [], "c2st": [], "ks": []}
    for Xs, Xt in batches:
        power["mmd"].append(np.mean(_batched_mmd_test(Xs, Xt, n_permutations=199,
                                                      rng=np.random.default_rng(0))["pvalue"] <= ALPHA))
        power["energy"].append(np.mean(_batched_energy_test(Xs, Xt, n_permutations=199,
                                                            rng=np.random.default_rng(0))["pvalue"] <= ALPHA))
        power["c2st"].append(np.mean([c2st(Xs[r], Xt[r], estimator=LinearDiscriminantAnalysis(),
                                           seed=r).pvalue <= ALPHA for r in range(300)]))
        power["ks"].append(np.mean([ks_test(Xs[r], Xt[r]).pvalue <= ALPHA for r in range(300)]))
    for name, curve in power.items():
        assert curve[0] <= 0.1, (name, curve)
        assert all(b >= a for a, b in zip(curve, curve[1:])), (name, curve)
        assert curve[-1] >= curve[0] + 0.3, (name, curve)
    # the kernel tests are the most powerful against a location shift
    assert power["mmd"][-1] > power["c2st"][-1]


def test_aggregated_mmd_power_close_to_best_single_bandwidth():
    """Reference: single-bandwidth tests on the same data and permutations.

    Source N(0, diag(25, 1)), target shifted by 1 along the narrow axis: the
    median bandwidth is set by the wide axis and over-smooths; the aggregated
    test should get most of the best bandwidth's power without knowing it.
    """
    rng = np.random.default_rng(7)
    R, n = 200, 80
    Xs = rng.standard_normal((R, n, 2)) * [5.0, 1.0]
    Xt = rng.standard_normal((R, n, 2)) * [5.0, 1.0] + [0.0, 1.0]
    agg = _batched_mmd_test(Xs, Xt, n_permutations=199, rng=np.random.default_rng(1),
                            scales=(0.25, 0.5, 1.0, 2.0, 4.0), aggregate=True)["pvalue"]
    single = {s: _batched_mmd_test(Xs, Xt, n_permutations=199, rng=np.random.default_rng(1),
                                   scales=(s,))["pvalue"] for s in (0.25, 0.5, 1.0, 4.0)}
    p_agg = np.mean(agg <= ALPHA)
    p_single = {s: np.mean(v <= ALPHA) for s, v in single.items()}
    assert p_agg >= 0.8 * max(p_single.values()), (p_agg, p_single)
    assert p_agg >= p_single[1.0] + 0.15, (p_agg, p_single)


# --- determinism and bad input ------------------------------------------------------------------

def test_same_seed_same_results():
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(40, 3)), rng.normal(size=(50, 3)) + 0.2
    for f in (lambda s: mmd_test(X, Y, n_permutations=50, seed=s),
              lambda s: mmd_test(X, Y, n_permutations=50, seed=s, aggregate=True),
              lambda s: energy_test(X, Y, n_permutations=50, seed=s),
              lambda s: c2st(X, Y, seed=s),
              lambda s: c2st(X, Y, seed=s, pvalue="permutation", n_permutations=50),
              lambda s: linear_mmd_test(X, Y, seed=s)):
        assert f(3) == f(3)
        assert f(np.random.default_rng(3)) == f(3)


@pytest.mark.parametrize("test", [mmd_test, energy_test, c2st, ks_test, linear_mmd_test])
def test_bad_input_raises_value_error(test):
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(12, 2))
    bad_nan = X.copy()
    bad_nan[0, 0] = np.nan
    bad_inf = Y.copy()
    bad_inf[1, 1] = np.inf
    with pytest.raises(ValueError, match="Xs.*NaN"):
        test(bad_nan, Y)
    with pytest.raises(ValueError, match="Xt.*NaN or inf"):
        test(X, bad_inf)
    with pytest.raises(ValueError, match="different feature dimensions"):
        test(X, rng.normal(size=(12, 3)))
    with pytest.raises(ValueError, match="Xs.*1 sample"):
        test(X[:1], Y)
    with pytest.raises(ValueError, match="constant"):
        test(np.ones((10, 2)), np.ones((12, 2)))
    with pytest.raises(ValueError, match="2-D"):
        test(X[:, 0], Y[:, 0])


def test_bad_options_raise_value_error():
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(12, 2))
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n_permutations"):
            mmd_test(X, Y, n_permutations=bad)
        with pytest.raises(ValueError, match="n_permutations"):
            energy_test(X, Y, n_permutations=bad)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_test(X, Y, bandwidth=0.0)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_test(X, Y, bandwidth=float("nan"))
    with pytest.raises(ValueError, match="aggregate=True"):
        mmd_test(X, Y, bandwidth=[1.0, 2.0])
    with pytest.raises(ValueError, match="'binomial', 'permutation'"):
        c2st(X, Y, pvalue="exact")
    with pytest.raises(ValueError, match="test_size"):
        c2st(X, Y, test_size=1.5)
    with pytest.raises(ValueError, match="'bonferroni', 'bh'"):
        ks_test(X, Y, correction="holm")
    with pytest.raises(ValueError, match="seed"):
        mmd_test(X, Y, seed="abc")
    with pytest.raises(ValueError, match="estimator"):
        c2st(X, Y, estimator=object())
    big = np.random.default_rng(0).random((15000, 2))
    with pytest.raises(ValueError, match="GiB.*linear_mmd_test"):
        mmd_test(big, big + 1)


def test_one_sided_constant_is_allowed_and_pvalues_are_never_nan():
    """Only *pooled* constant data is degenerate; a constant source against a varied target is a shift."""
    rng = np.random.default_rng(10)
    X, Y = np.zeros((15, 2)), rng.normal(size=(15, 2))
    for res in (mmd_test(X, Y, n_permutations=50, seed=0), energy_test(X, Y, n_permutations=50, seed=0),
                c2st(X, Y, seed=0), ks_test(X, Y)):
        assert np.isfinite(res.pvalue) and 0 < res.pvalue <= 1


@pytest.mark.parametrize("N", [2, 3, 4, 5, 16, 37])
def test_batched_median_heuristic_equals_the_shared_convention(N):
    """Reference: da._kernels.median_bandwidth on each matrix (lower median of distinct pairs)."""
    from da._kernels import median_bandwidth
    from da.diagnostics._quadratic import _median_bandwidths

    rng = np.random.default_rng(N)
    X, Y = rng.normal(size=(3, N - N // 2, 2)), rng.normal(size=(3, N // 2, 2))
    X[2] = 0.0  # many ties at zero in one replication
    if N // 2:
        Y[2] = 0.0
        Y[2, 0] = 1.0
    else:
        X[2, 0] = 1.0
    d2 = _pooled_sq_dists(X, Y)
    got = _median_bandwidths(d2)
    for r in range(3):
        assert float(got[r]) == float(median_bandwidth(d2[r]))


@pytest.mark.parametrize("n, m, test_size", [(3, 3, 0.5), (4, 40, 0.5), (40, 40, 0.05), (40, 40, 0.99)])
def test_c2st_too_few_rows_per_part_raises(n, m, test_size):
    """3 vs 3 used to return a p-value that could never go below 0.25 (one held-out row per domain)."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="c2st needs at least 3 held-out and 2 training rows"):
        c2st(rng.normal(size=(n, 2)), rng.normal(size=(m, 2)), test_size=test_size)
    if n == m == 40:
        return
    c2st(rng.normal(size=(5, 2)), rng.normal(size=(6, 2)) + 5, test_size=0.6)  # k = 3, 2 train: allowed
