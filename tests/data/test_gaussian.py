"""GaussianDomain: sampling moments, densities and closed forms against independent references."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from da.data import DomainPair, GaussianDomain, gaussian_kl, gaussian_mixture_mmd2, gaussian_w2


def test_sample_moments_match_declared(two_gaussians):
    """Empirical prior, class means and covariances within sampling tolerance (CLT bounds)."""
    n = 200_000
    X, y = two_gaussians.sample(n, seed=1)
    assert X.dtype == np.float32 and y.dtype == np.int64 and X.shape == (n, 2)
    prior_hat = np.bincount(y, minlength=2) / n
    se = np.sqrt(two_gaussians.prior * (1 - two_gaussians.prior) / n)
    assert np.all(np.abs(prior_hat - two_gaussians.prior) < 4 * se)
    for k in range(2):
        Xk = X[y == k].astype(np.float64)
        se_mean = np.sqrt(np.diag(two_gaussians.covs[k]) / len(Xk))
        assert np.all(np.abs(Xk.mean(0) - two_gaussians.means[k]) < 4 * se_mean)
        np.testing.assert_allclose(np.cov(Xk.T), two_gaussians.covs[k], atol=0.02)


def test_log_prob_matches_scipy(two_gaussians):
    """log p(x|y) and log p(x) against scipy.stats.multivariate_normal."""
    X, y = two_gaussians.sample(50, seed=2)
    ref_k = np.stack([multivariate_normal(two_gaussians.means[k], two_gaussians.covs[k]).logpdf(X)
                      for k in range(2)], 1)
    np.testing.assert_allclose(two_gaussians.log_prob_given_y(X, y), ref_k[np.arange(50), y], rtol=1e-6)
    ref_x = np.log(np.exp(ref_k) @ two_gaussians.prior)
    np.testing.assert_allclose(two_gaussians.log_prob_x(X), ref_x, rtol=1e-6)
    np.testing.assert_allclose(two_gaussians.log_prob(X, y),
                               np.log(two_gaussians.prior[y]) + ref_k[np.arange(50), y], rtol=1e-6)
    post = two_gaussians.posterior(X)
    np.testing.assert_allclose(post.sum(1), 1.0)


def test_same_seed_same_samples(two_gaussians):
    a = two_gaussians.sample(100, seed=7)
    b = two_gaussians.sample(100, seed=7)
    c = two_gaussians.sample(100, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_kl_matches_monte_carlo():
    """Closed-form KL(N0||N1) vs a Monte-Carlo average of log-density differences."""
    rng = np.random.default_rng(3)
    d = 3
    m0, m1 = rng.normal(size=d), rng.normal(size=d)
    A, B = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    S0, S1 = A @ A.T + np.eye(d), B @ B.T + np.eye(d)
    X = rng.multivariate_normal(m0, S0, size=400_000)
    lr = multivariate_normal(m0, S0).logpdf(X) - multivariate_normal(m1, S1).logpdf(X)
    mc, se = lr.mean(), lr.std() / np.sqrt(len(lr))
    kl = gaussian_kl(m0, S0, m1, S1)
    assert abs(kl - mc) < 4 * se
    assert gaussian_kl(m0, S0, m0, S0) == pytest.approx(0.0, abs=1e-10)


def test_w2_matches_pot_bures():
    """Bures W2 against POT's ot.gaussian.bures_wasserstein_distance."""
    import ot

    rng = np.random.default_rng(4)
    d = 4
    m0, m1 = rng.normal(size=d), rng.normal(size=d)
    A, B = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    S0, S1 = A @ A.T + 0.1 * np.eye(d), B @ B.T + 0.1 * np.eye(d)
    ref = float(ot.gaussian.bures_wasserstein_distance(m0, m1, S0, S1))
    assert gaussian_w2(m0, S0, m1, S1) == pytest.approx(ref, rel=1e-6)


def _unbiased_mmd2_batched(X, Y, h):
    """Float64 unbiased MMD^2 for a batch of replications (R, n, d), (R, m, d)."""
    def k(a, b):
        d2 = ((a[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * h * h))
    n, m = X.shape[1], Y.shape[1]
    Kxx, Kyy, Kxy = k(X, X), k(Y, Y), k(X, Y)
    sxx = (Kxx.sum((1, 2)) - np.trace(Kxx, axis1=1, axis2=2)) / (n * (n - 1))
    syy = (Kyy.sum((1, 2)) - np.trace(Kyy, axis1=1, axis2=2)) / (m * (m - 1))
    return sxx + syy - 2 * Kxy.mean((1, 2))


def test_mixture_mmd2_matches_unbiased_estimate(two_gaussians):
    """Closed-form Gaussian-mixture MMD^2 vs the mean of R unbiased estimates, within 3 SE."""
    target = GaussianDomain(two_gaussians.means + [0.5, -0.3], two_gaussians.covs, prior=[0.6, 0.4])
    h = 1.3
    R, n = 300, 120
    Xs = np.stack([two_gaussians.sample(n, seed=10_000 + r)[0] for r in range(R)]).astype(np.float64)
    Xt = np.stack([target.sample(n, seed=20_000 + r)[0] for r in range(R)]).astype(np.float64)
    est = _unbiased_mmd2_batched(Xs, Xt, h)
    truth = gaussian_mixture_mmd2(two_gaussians, target, h)
    assert truth > 0.01
    assert abs(est.mean() - truth) < 3 * est.std(ddof=1) / np.sqrt(R)
    assert gaussian_mixture_mmd2(two_gaussians, two_gaussians, h) == pytest.approx(0.0, abs=1e-12)


def test_ground_truth_pair(two_gaussians):
    """ground_truth(): values where closed forms exist, reasons elsewhere."""
    target = GaussianDomain(two_gaussians.means + 1.0, two_gaussians.covs, prior=[0.5, 0.5])
    gt = DomainPair(two_gaussians, target).ground_truth(bandwidth=2.0)
    assert gt["prior_tv"] == pytest.approx(0.2)
    kl = [gaussian_kl(target.means[k], target.covs[k], two_gaussians.means[k], two_gaussians.covs[k])
          for k in range(2)]
    np.testing.assert_allclose(gt["kl_per_class"], kl)
    q, p = target.prior, two_gaussians.prior
    assert gt["kl_joint"] == pytest.approx(np.sum(q * np.log(q / p)) + q @ np.array(kl))
    assert gt["mmd2"] == pytest.approx(gaussian_mixture_mmd2(two_gaussians, target, 2.0))
    assert "kl_marginal" in gt.unavailable
    with pytest.raises(KeyError, match="no closed form"):
        gt["kl_marginal"]
    X, _ = target.sample(5, seed=0)
    np.testing.assert_allclose(gt["density_ratio"](X),
                               np.exp(target.log_prob_x(X) - two_gaussians.log_prob_x(X)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(means=[[0, np.nan]], covs=np.eye(2)), "NaN"),
    (dict(means=[[0, 0]], covs=[[1, 2], [2, 1]]), "positive semi-definite"),
    (dict(means=[[0, 0]], covs=[[1, 0.5], [0, 1]]), "symmetric"),
    (dict(means=[[0, 0], [1, 1]], covs=np.eye(2), prior=[0.7, 0.7]), "sum to 1"),
    (dict(means=[[0, 0], [1, 1]], covs=np.eye(2), prior=[1.5, -0.5]), "negative"),
    (dict(means=[[0, 0], [1, 1]], covs=np.eye(3)), "covs must have shape"),
])
def test_bad_gaussian_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianDomain(**kwargs)


def test_bad_sample_size(two_gaussians):
    for n in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n must be"):
            two_gaussians.sample(n)
