"""The held-out domain classifier shared by the C2ST and the proxy A-distance."""

from __future__ import annotations

import numpy as np


def _fit_seed(estimator, rng: np.random.Generator):
    """Seed every ``random_state=None`` parameter (also inside pipelines) from ``rng`` so runs repeat."""
    unset = {k: int(rng.integers(2 ** 31 - 1)) for k, v in estimator.get_params(deep=True).items()
             if (k == "random_state" or k.endswith("__random_state")) and v is None}
    if unset:
        estimator.set_params(**unset)
    return estimator


def _domain_classifier(estimator):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if estimator is None:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
        raise ValueError(f"estimator must be a scikit-learn classifier with fit/predict, got {estimator!r}")
    return clone(estimator)


def _balanced_split(n: int, m: int, test_size: float, rng: np.random.Generator):
    """Balanced train and held-out indices for a domain classifier.

    ``k = floor(test_size * min(n, m))`` rows of each domain are held out and
    ``min(n, m) - k`` rows of each domain train the classifier; the surplus of
    the larger domain is left unused. Balanced training keeps the classifier's
    threshold at chance level under :math:`H_0` (an imbalanced one predicts the
    majority domain everywhere and scores exactly 1/2), which keeps the
    binomial p-value calibrated rather than merely conservative.
    """
    k = int(np.floor(test_size * min(n, m)))
    n_train = min(n, m) - k
    if k < 1 or n_train < 1:
        raise ValueError(f"test_size={test_size} leaves no training or no test rows for "
                         f"n_source={n}, n_target={m}")
    ps, pt = rng.permutation(n), rng.permutation(m)
    return ps[k:k + n_train], pt[k:k + n_train], ps[:k], pt[:k]


def _held_out_predictions(Xs, Xt, estimator, test_size, rng):
    """Fit a domain classifier (source=0, target=1) on one part; predict the balanced held-out part."""
    tr_s, tr_t, te_s, te_t = _balanced_split(Xs.shape[0], Xt.shape[0], test_size, rng)
    clf = _fit_seed(_domain_classifier(estimator), rng)
    X_tr = np.concatenate([Xs[tr_s], Xt[tr_t]])
    y_tr = np.r_[np.zeros(tr_s.size, np.int64), np.ones(tr_t.size, np.int64)]
    clf.fit(X_tr, y_tr)
    X_te = np.concatenate([Xs[te_s], Xt[te_t]])
    y_te = np.r_[np.zeros(te_s.size, np.int64), np.ones(te_t.size, np.int64)]
    pred = np.asarray(clf.predict(X_te)).astype(np.int64)
    return pred, y_te, {"n_train_per_domain": int(tr_s.size), "n_test_per_domain": int(te_s.size),
                        "n_unused": int(Xs.shape[0] + Xt.shape[0] - 2 * (tr_s.size + te_s.size)),
                        "estimator": type(clf).__name__ if estimator is not None else
                        "StandardScaler+LogisticRegression"}
