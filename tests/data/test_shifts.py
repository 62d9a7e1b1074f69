"""Shift operators: each checked against the property that defines it."""

import numpy as np
import pytest

from da.data import (DomainPair, EmpiricalDomain, GaussianDomain, LabelShiftedDomain, MoonsDomain,
                     TransformedDomain, additive_noise, affine_shift, blur, conditional_shift,
                     contrast, covariate_shift, invert, label_shift, rotation, subspace_shift)


def test_label_shift_changes_prior_keeps_conditionals(two_gaussians):
    """P(Y) moves to the requested prior; class-conditional moments stay those of the source."""
    q = np.array([0.9, 0.1])
    t = label_shift(two_gaussians, q)
    np.testing.assert_allclose(t.prior, q)
    np.testing.assert_allclose(t.means, two_gaussians.means)
    np.testing.assert_allclose(t.covs, two_gaussians.covs)
    X, y = t.sample(100_000, seed=0)
    assert abs(np.mean(y == 0) - 0.9) < 4 * np.sqrt(0.09 / 1e5)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].mean(0), two_gaussians.means[k], atol=0.03)
    half = label_shift(two_gaussians, q, severity=0.5)
    np.testing.assert_allclose(half.prior, 0.5 * two_gaussians.prior + 0.5 * q)


def test_label_shift_generic_domain_keeps_conditionals():
    """Label shift of a non-Gaussian domain: class-conditional samples unchanged in distribution."""
    moons = MoonsDomain(noise=0.05)
    t = label_shift(moons, [0.2, 0.8])
    assert isinstance(t, LabelShiftedDomain)
    Xs, ys = moons.sample(40_000, seed=1)
    Xt, yt = t.sample(40_000, seed=2)
    assert abs(np.mean(yt == 1) - 0.8) < 0.01
    for k in range(2):
        np.testing.assert_allclose(Xt[yt == k].mean(0), Xs[ys == k].mean(0), atol=0.02)


def test_covariate_shift_density_ratio_and_posterior(two_gaussians):
    """p_T/p_S from the shift equals exp(log_prob_x_T - log_prob_x_S); P(Y|X) is unchanged."""
    t = covariate_shift(two_gaussians, severity=2.0)
    X, _ = two_gaussians.sample(200, seed=3)
    ratio = DomainPair(two_gaussians, t).ground_truth()["density_ratio"](X)
    np.testing.assert_allclose(ratio, np.exp(t.log_prob_x(X) - two_gaussians.log_prob_x(X)), rtol=1e-10)
    np.testing.assert_allclose(t.posterior(X), two_gaussians.posterior(X), atol=1e-10)
    # the ratio integrates to one under the source (independent Monte-Carlo check of Z)
    Xbig, _ = two_gaussians.sample(400_000, seed=4)
    r = t.density_ratio(Xbig)
    assert abs(r.mean() - 1.0) < 4 * r.std() / np.sqrt(r.size)


def test_covariate_shift_samples_follow_importance_weights(two_gaussians):
    """Rejection samples match the importance-weighted source: E_T[x] = E_S[w x]/E_S[w], and P_T(y|x)."""
    t = covariate_shift(two_gaussians, severity=1.5, direction=[1.0, 1.0])
    Xt, yt = t.sample(100_000, seed=5)
    Xs, ys = two_gaussians.sample(400_000, seed=6)
    w = t.density_ratio(Xs)
    np.testing.assert_allclose(Xt.mean(0), (w[:, None] * Xs).sum(0) / w.sum(), atol=0.02)
    # the empirical label frequency in a slab matches the (unchanged) Bayes posterior there
    slab = (Xt[:, 0] > 0.8) & (Xt[:, 0] < 1.2)
    post = two_gaussians.posterior(Xt[slab])[:, 1].mean()
    assert abs(np.mean(yt[slab] == 1) - post) < 0.02
    np.testing.assert_allclose(t.prior, np.bincount(yt) / yt.size, atol=0.01)


def test_covariate_shift_monte_carlo_normalizer_is_declared():
    """Non-Gaussian base: normalizers by Monte Carlo, and the method says so."""
    t = covariate_shift(MoonsDomain(noise=0.1), severity=1.0, n_mc=50_000)
    assert t.normalizer_method.startswith("monte carlo")
    X, y = t.sample(1000, seed=0)
    assert X.shape == (1000, 2)
    gt = DomainPair(t.base, t).ground_truth()
    assert "density_ratio" in gt and "mmd2" in gt.unavailable


def test_affine_change_of_variables_matches_gaussian_closure(two_gaussians):
    """The generic TransformedDomain density equals the Gaussian closure of the same affine map."""
    generic = LabelShiftedDomain(two_gaussians, two_gaussians.prior)  # hides the Gaussian type
    A = np.array([[[1.2, 0.3], [0.0, 0.8]], [[0.9, -0.4], [0.2, 1.1]]])
    b = np.array([[0.5, -1.0], [1.0, 0.0]])
    t_generic = affine_shift(generic, A, b, "t")
    t_gauss = affine_shift(two_gaussians, A, b, "t")
    assert isinstance(t_generic, TransformedDomain) and isinstance(t_gauss, GaussianDomain)
    X, y = t_gauss.sample(100, seed=1)
    np.testing.assert_allclose(t_generic.log_prob(X, y), t_gauss.log_prob(X, y), rtol=1e-8)
    Xg, yg = t_generic.sample(100_000, seed=2)
    np.testing.assert_allclose(Xg[yg == 1].mean(0), t_gauss.means[1], atol=0.02)


def test_rotation_and_composition(two_gaussians):
    r = rotation(label_shift(two_gaussians, [0.5, 0.5]), 90)
    np.testing.assert_allclose(r.means, two_gaussians.means @ np.array([[0, 1], [-1, 0]]), atol=1e-12)
    np.testing.assert_allclose(r.prior, [0.5, 0.5])
    assert "rotation(90)" in r.name and "label_shift" in r.name


def test_subspace_shift_principal_angle():
    """The top principal axis of the target makes the requested angle with the source's."""
    g = GaussianDomain(np.zeros((1, 4)), np.diag([4.0, 2.0, 1.0, 0.5]))
    for s in (0.0, 1 / 3, 1.0):
        t = subspace_shift(g, s)
        v = np.linalg.eigh(t.covs[0])[1][:, -1]
        angle = np.degrees(np.arccos(min(1.0, abs(v[0]))))
        assert angle == pytest.approx(90 * s, abs=1e-6)
        np.testing.assert_allclose(np.linalg.eigvalsh(t.covs[0]), [0.5, 1, 2, 4], atol=1e-12)


def test_conditional_shift_is_class_dependent(two_gaussians):
    t = conditional_shift(two_gaussians, severity=1.0, seed=0)
    d0 = np.linalg.norm(t.means[0] - two_gaussians.means[0])
    d1 = np.linalg.norm(t.means[1] - two_gaussians.means[1])
    assert d0 > 0 and d1 > 0 and not np.allclose(t.means - two_gaussians.means, t.means[0] - two_gaussians.means[0])
    assert conditional_shift(two_gaussians, 0.0).means == pytest.approx(two_gaussians.means)


def test_image_shifts_on_arrays():
    """invert, contrast, blur and noise transform sampled images as their formulas say."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(30, 16)).astype(np.float32)
    y = rng.integers(2, size=30)
    dom = EmpiricalDomain(X, y, image_shape=(1, 4, 4))
    assert isinstance(invert(dom, 1.0), EmpiricalDomain)  # materialised: splits survive
    Xi, yi = invert(dom, 1.0).sample(30, seed=1)
    Xo, yo = dom.sample(30, seed=1)
    np.testing.assert_allclose(Xi, 1 - Xo, atol=1e-6)
    Xc, _ = contrast(dom, 0.5).sample(30, seed=1)
    m = Xo.mean(1, keepdims=True)
    np.testing.assert_allclose(Xc, 0.5 * (Xo - m) + m, atol=1e-6)
    Xb, _ = blur(dom, 1.0).sample(30, seed=1)
    assert Xb.std() < Xo.std()
    np.testing.assert_allclose(Xb.sum(1), Xo.sum(1), rtol=0.6)  # blur spreads mass, keeps scale
    Xn, _ = additive_noise(dom, 0.2).sample(30, seed=1)
    assert 0.1 < (Xn - Xo).std() < 0.3


def test_image_shifts_keep_gaussian_closure():
    """blur of a Gaussian is Gaussian with covariance B S B^T (B read off the map)."""
    g = GaussianDomain(np.zeros((1, 9)), np.eye(9))
    b = blur(g, 0.8)
    assert isinstance(b, GaussianDomain)
    Xb, _ = b.sample(50_000, seed=0)
    np.testing.assert_allclose(np.cov(Xb.T), b.covs[0], atol=0.03)
    n = additive_noise(g, 0.5)
    np.testing.assert_allclose(n.covs[0], 1.25 * np.eye(9))


@pytest.mark.parametrize("call, match", [
    (lambda g: label_shift(g, [0.5, 0.6]), "sum to 1"),
    (lambda g: label_shift(g, [0.5, 0.3, 0.2]), "entries"),
    (lambda g: label_shift(g, [0.5, 0.5], severity=2), "severity"),
    (lambda g: rotation(g, 10, plane=(0, 0)), "plane"),
    (lambda g: subspace_shift(g, 1.0, k=2), "k must"),
    (lambda g: covariate_shift(g, direction=[0, 0]), "direction"),
    (lambda g: contrast(g, 1.5), "severity"),
])
def test_bad_shift_input(two_gaussians, call, match):
    with pytest.raises(ValueError, match=match):
        call(two_gaussians)
