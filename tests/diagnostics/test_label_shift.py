"""Label-shift estimation: recovery of a Dirichlet-drawn prior (10 classes, Bayes posteriors and a fitted
classifier), EM vs direct likelihood maximisation, BBSE vs an explicit confusion-matrix solve, BCTS."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix

from da.data import GaussianDomain
from da.diagnostics import estimate_label_shift, fit_bcts


@pytest.fixture(scope="module")
def ten_class():
    """10-class GaussianDomain in 5-D (Bayes accuracy ~0.8); target prior ~ Dirichlet(1)."""
    rng = np.random.default_rng(0)
    src = GaussianDomain(rng.normal(size=(10, 5)) * 1.5, np.eye(5))
    q = rng.dirichlet(np.ones(10))
    tgt = src.with_prior(q)
    Xv, yv = src.sample(5000, seed=1)
    Xt, yt = tgt.sample(5000, seed=2)
    return src, q, Xv, yv, Xt, yt


def test_mlls_recovers_dirichlet_prior_from_bayes_posteriors(ten_class):
    """Reference: the Dirichlet-drawn true prior; MAE <= 0.02 at n = 5000."""
    src, q, Xv, yv, Xt, _ = ten_class
    res = estimate_label_shift(src.posterior(Xv), yv, src.posterior(Xt), n_bootstrap=0)
    assert np.abs(res.prior - q).mean() <= 0.02
    assert res.prior.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(res.weights, res.prior / res.source_prior)
    assert res.details["converged"]


def test_mlls_recovers_prior_with_fitted_classifier_and_bcts(ten_class):
    """Reference: the true prior; probabilities of a fitted LogisticRegression, BCTS-calibrated."""
    src, q, Xv, yv, Xt, _ = ten_class
    Xtr, ytr = src.sample(5000, seed=3)
    clf = LogisticRegression(max_iter=2000).fit(Xtr, ytr)
    res = estimate_label_shift(clf.predict_proba(Xv), yv, clf.predict_proba(Xt), n_bootstrap=0)
    assert np.abs(res.prior - q).mean() <= 0.02
    assert "calibration" in res.details


def test_bbse_recovers_prior_and_reports_condition_number(ten_class):
    src, q, Xv, yv, Xt, _ = ten_class
    res = estimate_label_shift(src.posterior(Xv), yv, src.posterior(Xt), method="bbse", n_bootstrap=0)
    assert np.abs(res.prior - q).mean() <= 0.03
    assert 1 < res.details["condition_number"] < 100


def test_bbse_matches_explicit_confusion_matrix_solve(ten_class):
    """Reference: sklearn.metrics.confusion_matrix and numpy.linalg.solve."""
    src, q, Xv, yv, Xt, _ = ten_class
    Pv, Pt = src.posterior(Xv), src.posterior(Xt)
    C = confusion_matrix(yv, Pv.argmax(1), labels=range(10)).T / len(yv)   # C[pred, true]
    mu = np.bincount(Pt.argmax(1), minlength=10) / len(Pt)
    w = np.linalg.solve(C, mu)
    p = np.bincount(yv, minlength=10) / len(yv)
    ref = np.clip(w, 0, None) * p
    res = estimate_label_shift(Pv, yv, Pt, method="bbse", n_bootstrap=0)
    np.testing.assert_allclose(res.prior, ref / ref.sum(), atol=1e-10)
    assert res.details["condition_number"] == pytest.approx(np.linalg.cond(C))


def test_em_equals_direct_likelihood_maximisation(ten_class):
    """Reference: scipy.optimize on the MLLS log-likelihood sum_i log sum_k (q_k/p_k) f_k(x_i)."""
    src, q, Xv, yv, Xt, _ = ten_class
    F, p = src.posterior(Xt[:1500]), np.bincount(yv, minlength=10) / len(yv)

    def negll(z):
        qq = softmax(z)
        return -np.log(F @ (qq / p)).sum()

    z = minimize(negll, np.zeros(10), method="BFGS", options={"gtol": 1e-10}).x
    res = estimate_label_shift(src.posterior(Xv), yv, src.posterior(Xt[:1500]), calibrate=False,
                               n_bootstrap=0, tol=1e-12)
    np.testing.assert_allclose(res.prior, softmax(z), atol=2e-4)


def test_bcts_recovers_temperature_of_overconfident_outputs(ten_class):
    """Reference: outputs made overconfident as softmax(3 log p) from calibrated p; fitted T ~ 3."""
    src, q, Xv, yv, Xt, _ = ten_class
    sharp = softmax(3 * np.log(src.posterior(Xv)), axis=1)
    cal, params = fit_bcts(sharp, yv)
    assert params["temperature"] == pytest.approx(3.0, rel=0.1)
    assert params["converged"]
    # at the optimum, the mean calibrated probability equals the label frequencies
    np.testing.assert_allclose(cal(sharp).mean(0), np.bincount(yv, minlength=10) / len(yv), atol=1e-5)


def test_no_shift_gives_unit_weights(ten_class):
    src, q, Xv, yv, _, _ = ten_class
    Xt2, _ = src.sample(5000, seed=9)
    res = estimate_label_shift(src.posterior(Xv), yv, src.posterior(Xt2), n_bootstrap=0)
    assert np.abs(res.weights - 1).max() < 0.25


def test_bootstrap_interval_covers_truth_and_is_seeded(ten_class):
    src, q, Xv, yv, Xt, _ = ten_class
    args = (src.posterior(Xv[:2000]), yv[:2000], src.posterior(Xt[:2000]))
    res = estimate_label_shift(*args, n_bootstrap=40, seed=0)
    assert res.ci.shape == (10, 2)
    assert np.mean((res.ci[:, 0] <= q) & (q <= res.ci[:, 1])) >= 0.8
    again = estimate_label_shift(*args, n_bootstrap=40, seed=0)
    np.testing.assert_array_equal(res.ci, again.ci)
    assert res.target_prior is res.prior
    d = res.to_dict()
    assert d["prior"] == res.prior.tolist() and len(d["ci"]) == 10


def test_label_shift_bad_input(ten_class):
    src, q, Xv, yv, Xt, _ = ten_class
    Pv, Pt = src.posterior(Xv[:100]), src.posterior(Xt[:100])
    y = yv[:100]
    with pytest.raises(ValueError, match="unknown method"):
        estimate_label_shift(Pv, y, Pt, method="em")
    bad = Pv.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="probs_source_val contains NaN"):
        estimate_label_shift(bad, y, Pt)
    with pytest.raises(ValueError, match="logits"):
        estimate_label_shift(np.log(Pv), y, Pt)
    with pytest.raises(ValueError, match="sum to 1"):
        estimate_label_shift(Pv * 2, y, Pt)
    with pytest.raises(ValueError, match="probs_target has 9 classes"):
        estimate_label_shift(Pv, y, Pt[:, :9] / Pt[:, :9].sum(1, keepdims=True))
    with pytest.raises(ValueError, match="ys_val has 99 labels"):
        estimate_label_shift(Pv, y[:99], Pt)
    y_missing = np.where(y == 3, 4, y)
    with pytest.raises(ValueError, match=r"no example of class\(es\) \[3\]"):
        estimate_label_shift(Pv, y_missing, Pt)


def test_label_shift_bad_tol_and_all_resamples_losing_a_class_raise_value_error():
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 0, 0, 0, 1])
    for tol in (float("nan"), -1.0, 0.0, "1e-8"):
        with pytest.raises(ValueError, match="tol must"):
            estimate_label_shift(P, y, P, n_bootstrap=0, tol=tol)
    # class 1 has one row: a resample misses it with probability (4/5)^5; seed 11's only resample does
    with pytest.raises(ValueError, match="every one of the 1 bootstrap resamples lost a class"):
        estimate_label_shift(P, y, P, method="bbse", n_bootstrap=1, seed=11)
