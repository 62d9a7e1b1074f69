r"""Label shift: estimate the target class prior :math:`q(y)` from an unlabelled target sample.

Under label shift :math:`p_T(x \mid y) = p_S(x \mid y)` and only the prior
moves, so the source classifier's outputs on target data carry all the
information about :math:`q`. Two estimators:

* **BBSE** (Lipton et al. 2018): moment matching with the confusion matrix of
  hard predictions on held-out source data.
* **MLLS** (Saerens et al. 2002): the maximum-likelihood prior by EM, after
  bias-corrected temperature scaling (BCTS) of the outputs on source
  validation data, which Alexandari et al. (2020) show is what makes MLLS
  work with modern (overconfident) networks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from da._lazy import lazy_module
from da._validation import check_labels, check_positive_int, check_random_state
from da._validation import check_choice as _check_choice, check_fraction as _check_fraction
from da.diagnostics.results import _jsonable

optimize, special = lazy_module("scipy.optimize"), lazy_module("scipy.special")

__all__ = ["LabelShiftResult", "estimate_label_shift", "fit_bcts", "LABEL_SHIFT_METHODS"]

LABEL_SHIFT_METHODS = ("mlls", "bbse")


@dataclass(frozen=True, eq=False)  # array fields: compare .prior etc. explicitly
class LabelShiftResult:
    r"""An estimated target prior.

    Attributes
    ----------
    prior : ndarray of shape (K,)
        Estimated target prior :math:`\hat q`, on the simplex.
    weights : ndarray of shape (K,)
        Importance weights :math:`\hat q(k) / p(k)`.
    source_prior : ndarray of shape (K,)
        :math:`p`, the class frequencies of the source validation labels.
    ci : ndarray of shape (K, 2) or None
        Percentile bootstrap interval of each :math:`\hat q(k)`.
    method : str
    n_bootstrap : int
    details : dict
        Condition number (BBSE), EM iterations, calibration parameters.
    """

    prior: np.ndarray
    weights: np.ndarray
    source_prior: np.ndarray
    ci: np.ndarray | None
    method: str
    n_bootstrap: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def target_prior(self) -> np.ndarray:
        """Alias of :attr:`prior`."""
        return self.prior

    def to_dict(self) -> dict:
        return {"prior": self.prior.tolist(), "weights": self.weights.tolist(),
                "source_prior": self.source_prior.tolist(),
                "ci": None if self.ci is None else self.ci.tolist(), "method": self.method,
                "n_bootstrap": int(self.n_bootstrap), "details": _jsonable(self.details)}


def _check_probs(P, name: str, n_classes: int | None = None) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_classes), got shape {P.shape}")
    if P.shape[0] < 1 or P.shape[1] < 2:
        raise ValueError(f"{name} needs at least one row and two classes, got shape {P.shape}")
    if n_classes is not None and P.shape[1] != n_classes:
        raise ValueError(f"{name} has {P.shape[1]} classes, expected {n_classes}")
    if not np.isfinite(P).all():
        raise ValueError(f"{name} contains NaN or inf values (shape {P.shape})")
    if (P < 0).any():
        raise ValueError(f"{name} has negative entries: it must hold class probabilities, not logits")
    s = P.sum(1)
    if np.abs(s - 1).max() > 1e-3:
        raise ValueError(f"{name} rows must sum to 1 (found sums in [{s.min():.4g}, {s.max():.4g}]); "
                         "pass softmax probabilities")
    return P / s[:, None]


def fit_bcts(probs, y, *, eps: float = 1e-12):
    r"""Bias-corrected temperature scaling (Alexandari et al. 2020), fitted by maximum likelihood.

    Parameters
    ----------
    probs : array-like of shape (n, K)
        Predicted class probabilities on held-out *source* data.
    y : array-like of shape (n,)
        Their labels.
    eps : float
        Floor before taking logs.

    Returns
    -------
    calibrate : callable
        ``calibrate(P) -> P'``: maps probabilities to calibrated probabilities.
    params : dict
        ``temperature`` and ``biases`` (with ``biases[0] = 0``, the scale
        of :math:`b` being free).

    Notes
    -----
    With :math:`z = \log p` (logits up to a per-row constant), the calibrated
    probabilities are :math:`\operatorname{softmax}(z/T + b)`; :math:`1/T` and
    :math:`b` minimise the negative log-likelihood

    .. math:: \mathcal L(a, b) = -\frac1n\sum_i \log\operatorname{softmax}(a z_i + b)_{y_i},

    a convex problem solved by an exact-Hessian trust-region method
    (:func:`scipy.optimize.minimize`, ``method="trust-exact"``). At the
    optimum the mean calibrated probability equals the label frequencies.

    References
    ----------
    Alexandari, A., Kundaje, A., & Shrikumar, A. (2020). Maximum likelihood with
    bias-corrected calibration is hard-to-beat at label shift adaptation. *ICML*.
    """
    P = _check_probs(probs, "probs")
    n, K = P.shape
    y = check_labels(y, "y", n_samples=n, n_classes=K)
    Z = np.log(np.clip(P, eps, None))
    onehot = np.eye(K)[y]

    def parts(theta):
        a, b = theta[0], np.r_[0.0, theta[1:]]
        lsm = special.log_softmax(a * Z + b, axis=1)
        return lsm, np.exp(lsm)

    def nll(theta):
        return -parts(theta)[0][np.arange(n), y].mean()

    def grad(theta):
        diff = parts(theta)[1] - onehot                    # d NLL / d logits, per row
        return np.r_[(diff * Z).sum() / n, diff.sum(0)[1:] / n]

    def hess(theta):
        # logits l_i = a z_i + b; d2 NLL / d l_i^2 = diag(s_i) - s_i s_i^T
        S = parts(theta)[1]
        sz = (S * Z).sum(1)
        H = np.empty((K, K))
        H[0, 0] = ((S * Z * Z).sum(1) - sz * sz).mean()
        H[0, 1:] = H[1:, 0] = (S * Z - S * sz[:, None]).mean(0)[1:]
        H[1:, 1:] = np.diag(S.mean(0)[1:]) - (S[:, 1:].T @ S[:, 1:]) / n
        return H

    # Convex in (a, b): an exact-Hessian trust region converges in a few steps.
    res = optimize.minimize(nll, np.r_[1.0, np.zeros(K - 1)], jac=grad, hess=hess, method="trust-exact",
                   options={"gtol": 1e-8, "maxiter": 200})
    if res.x[0] <= 0:
        raise ValueError("fit_bcts: the fitted inverse temperature is not positive; the "
                         "probabilities carry no usable ranking of the classes")
    a, b = float(res.x[0]), np.r_[0.0, res.x[1:]]

    def calibrate(Q):
        return special.softmax(a * np.log(np.clip(np.asarray(Q, dtype=np.float64), eps, None)) + b, axis=1)

    return calibrate, {"temperature": 1.0 / a, "biases": b.tolist(), "nll": float(res.fun),
                       "converged": bool(res.success)}


def _mlls_em(F: np.ndarray, p: np.ndarray, *, max_iter: int, tol: float):
    r"""Saerens-Latinne-Decaestecker EM for the target prior.

    .. math:: q^{(t+1)}_k = \frac1m\sum_i \frac{(q^{(t)}_k/p_k) f_k(x_i)}{\sum_j (q^{(t)}_j/p_j) f_j(x_i)}

    Each step increases the target log-likelihood
    :math:`\sum_i \log\sum_k (q_k/p_k) f_k(x_i)`. Returns ``(q, n_iter, converged)``.
    """
    q = p.copy()
    for it in range(1, max_iter + 1):
        post = F * (q / p)
        post /= post.sum(1, keepdims=True)
        q_new = post.mean(0)
        if np.abs(q_new - q).max() < tol:
            return q_new, it, True
        q = q_new
    return q, max_iter, False


def _bbse(pred_val: np.ndarray, y_val: np.ndarray, pred_t: np.ndarray, p: np.ndarray, K: int):
    r"""Black-box shift estimation from hard predictions: solve :math:`C w = \hat\mu`."""
    C = np.zeros((K, K))
    np.add.at(C, (pred_val, y_val), 1.0)
    C /= y_val.size
    mu = np.bincount(pred_t, minlength=K) / pred_t.size
    cond = float(np.linalg.cond(C))
    w = np.linalg.lstsq(C, mu, rcond=None)[0]
    q = np.clip(w, 0.0, None) * p
    if q.sum() <= 0:
        q = p.copy()  # every weight clipped: no information, fall back to no shift
    return q / q.sum(), cond, w


def _estimate(P_val, y_val, P_t, method, calibrate, K, max_iter, tol):
    p = np.bincount(y_val, minlength=K) / y_val.size
    details: dict = {}
    if method == "bbse":
        q, cond, w_raw = _bbse(P_val.argmax(1), y_val, P_t.argmax(1), p, K)
        details.update(condition_number=cond, raw_weights=w_raw.tolist(),
                       clipped=bool((w_raw < 0).any()))
        return q, p, details
    if calibrate:
        cal, params = fit_bcts(P_val, y_val)
        F = cal(P_t)
        details["calibration"] = params
    else:
        F = P_t
    q, it, ok = _mlls_em(F, p, max_iter=max_iter, tol=tol)
    details.update(n_iter=it, converged=ok)
    return q, p, details


def _bootstrap_prior(P_val, y_val, P_t, B, confidence, rng, method, calibrate, K, max_iter, tol):
    """Percentile interval (K, 2) of the prior over B resamples (those that keep every class)."""
    reps = []
    n, m = P_val.shape[0], P_t.shape[0]
    for _ in range(B):
        iv = rng.integers(0, n, n)
        it = rng.integers(0, m, m)
        if np.bincount(y_val[iv], minlength=K).min() == 0:
            continue  # a resample that lost a class has no source prior
        reps.append(_estimate(P_val[iv], y_val[iv], P_t[it], method, calibrate, K, max_iter, tol)[0])
    if not reps:
        raise ValueError(f"every one of the {B} bootstrap resamples lost a class of ys_val; "
                         "pass n_bootstrap=0 or more validation rows per class")
    reps = np.array(reps)
    lo, hi = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    return np.stack([lo, hi], axis=1), int(reps.shape[0])


def estimate_label_shift(probs_source_val, ys_val, probs_target, *, method: str = "mlls",
                         calibrate: bool = True, n_bootstrap: int = 100, confidence: float = 0.95,
                         seed=None, max_iter: int = 10_000, tol: float = 1e-8) -> LabelShiftResult:
    r"""Estimate the target class prior and the importance weights :math:`q(k)/p(k)`.

    Parameters
    ----------
    probs_source_val : array-like of shape (n, K)
        Class probabilities (softmax outputs) of the source classifier on held-out
        source data not used for training.
    ys_val : array-like of shape (n,)
        Labels of those rows; every class must occur.
    probs_target : array-like of shape (m, K)
        Class probabilities of the same classifier on unlabelled target data.
    method : {"mlls", "bbse"}
    calibrate : bool
        MLLS only: first fit BCTS (:func:`fit_bcts`) on the source validation
        outputs and apply it to the target outputs. BBSE uses hard predictions
        and corrects for miscalibration through its confusion matrix.
    n_bootstrap : int
        Bootstrap resamples (0: no interval). Source validation and target rows
        are resampled independently, and the calibration is refitted each time.
    confidence : float in (0, 1)
    seed : int, Generator or None
        Drives the bootstrap only; the point estimate is deterministic.
    max_iter, tol : int, float
        EM stopping rule: :math:`\max_k |q^{(t+1)}_k - q^{(t)}_k| < \mathrm{tol}`.

    Returns
    -------
    LabelShiftResult
        ``prior``, ``weights``, ``ci``; ``details["condition_number"]`` for BBSE.

    Notes
    -----
    With :math:`p` the source validation class frequencies:

    **BBSE.** :math:`C_{ij} = \hat P_S(\hat y = i, y = j)`,
    :math:`\hat\mu_i = \hat P_T(\hat y = i)`; since
    :math:`\mu = C w` with :math:`w_j = q_j/p_j`, solve :math:`\hat w = C^{-1}\hat\mu`
    (least squares), clip negative weights to 0 and renormalise
    :math:`\hat q \propto \hat w \odot p`. The estimation error scales with
    :math:`\lVert C^{-1}\rVert`, hence the reported condition number.

    **MLLS.** :math:`\hat q = \arg\max_q \sum_i \log\sum_k \frac{q_k}{p_k} f_k(x_i)`
    over the simplex, with :math:`f` the (calibrated) source posteriors on the
    target rows, by the EM of Saerens et al. (2002). Consistent when :math:`f` is
    calibrated on the source distribution.

    References
    ----------
    Lipton, Z., Wang, Y.-X., & Smola, A. (2018). Detecting and correcting for label
    shift with black box predictors. *ICML*.

    Saerens, M., Latinne, P., & Decaestecker, C. (2002). Adjusting the outputs of a
    classifier to new a priori probabilities. *Neural Computation*, 14(1), 21-41.

    Alexandari, A., Kundaje, A., & Shrikumar, A. (2020). Maximum likelihood with
    bias-corrected calibration is hard-to-beat at label shift adaptation. *ICML*.

    Examples
    --------
    >>> from da.data import GaussianDomain
    >>> src = GaussianDomain([[0.0, 0.0], [3.0, 0.0]], np.eye(2))
    >>> tgt = src.with_prior([0.2, 0.8])
    >>> Xv, yv = src.sample(2000, seed=0)
    >>> Xt, _ = tgt.sample(2000, seed=1)
    >>> res = estimate_label_shift(src.posterior(Xv), yv, src.posterior(Xt), n_bootstrap=0)
    >>> np.round(res.prior, 1)
    array([0.2, 0.8])
    """
    _check_choice(method, "method", LABEL_SHIFT_METHODS)
    P_val = _check_probs(probs_source_val, "probs_source_val")
    K = P_val.shape[1]
    P_t = _check_probs(probs_target, "probs_target", n_classes=K)
    y_val = check_labels(ys_val, "ys_val", n_samples=P_val.shape[0], n_classes=K)
    missing = np.flatnonzero(np.bincount(y_val, minlength=K) == 0)
    if missing.size:
        raise ValueError(f"ys_val has no example of class(es) {missing.tolist()}: the source prior "
                         "and the weights q(k)/p(k) are undefined there")
    B = check_positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    confidence = _check_fraction(confidence, "confidence")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = _check_fraction(tol, "tol", high=np.inf)
    rng = check_random_state(seed)

    q, p, details = _estimate(P_val, y_val, P_t, method, calibrate, K, max_iter, tol)
    ci = None
    if B:
        ci, details["n_bootstrap_used"] = _bootstrap_prior(P_val, y_val, P_t, B, confidence, rng, method,
                                                           calibrate, K, max_iter, tol)
    if method == "mlls":
        label = "mlls (EM" + (", BCTS-calibrated)" if calibrate else ")")
    else:
        label = "bbse (hard confusion matrix)"
    details.update(n_source_val=int(P_val.shape[0]), n_target=int(P_t.shape[0]))
    return LabelShiftResult(prior=q, weights=q / p, source_prior=p, ci=ci, method=label,
                            n_bootstrap=B, details=details)
