r"""How far apart two samples are: distribution-gap metrics and their bootstrap intervals.

Every metric is a plain function ``metric(Xs, Xt, ...) -> float``. :func:`gap`
computes any of them together with a percentile bootstrap interval and the
name of the estimator actually used, as a :class:`~da.diagnostics.results.GapResult`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from da._validation import check_positive_int, check_random_state
from da.diagnostics._classifier import _held_out_predictions
from da.diagnostics._inputs import (_check_bandwidth, _check_choice, _check_fraction, _check_pair,
                                    _subsample)
from da.diagnostics._quadratic import _pooled_median, _weighted_energy, _weighted_mmd2
from da.diagnostics.results import GapResult

__all__ = ["GAP_METRICS", "mmd2", "energy_distance", "coral_distance", "wasserstein",
           "sliced_wasserstein", "proxy_a_distance", "gap"]

#: Names accepted by :func:`gap` and :func:`da.diagnostics.shift_report`.
GAP_METRICS = ("mmd2", "energy_distance", "coral_distance", "wasserstein", "sliced_wasserstein",
               "proxy_a_distance")

# ot.emd2 stops silently-wrong at its default 1e5 network-simplex iterations for n ~ 1e3.
_EMD_ITER = 100_000_000


def _resolve_bandwidth(Xs, Xt, bandwidth) -> tuple[float, str]:
    if bandwidth is None:
        h, used = _pooled_median(Xs, Xt)
        total = Xs.shape[0] + Xt.shape[0]
        rule = ("median heuristic (pooled)" if used == total
                else f"median heuristic (pooled, fixed subsample of {used} of {total} rows)")
        return h, rule
    return _check_bandwidth(bandwidth), "fixed"


def mmd2(Xs, Xt, *, bandwidth=None) -> float:
    r"""Unbiased squared maximum mean discrepancy with a Gaussian kernel.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    bandwidth : float or None
        ``None``: median heuristic on the pooled sample (on a fixed subsample of
        4000 pooled rows when there are more).

    Returns
    -------
    float
        :math:`\widehat{\mathrm{MMD}}^2_u`; it can be slightly negative when the
        distributions are equal.

    Notes
    -----
    .. math:: \widehat{\mathrm{MMD}}^2_u = \frac{1}{n(n-1)}\sum_{i\ne j}k(x_i,x_j)
              + \frac{1}{m(m-1)}\sum_{i\ne j}k(y_i,y_j) - \frac{2}{nm}\sum_{i,j}k(x_i,y_j),

    :math:`k_h(x,y) = \exp(-\lVert x-y\rVert^2/2h^2)`. Exact, in
    :math:`O((n+m)^2 d)` time and row-blocked :math:`O(n+m)` memory; for very
    large samples use ``gap(..., "mmd2", block_size=...)``.

    References
    ----------
    Gretton, A., Borgwardt, K. M., Rasch, M. J., Schölkopf, B., & Smola, A. (2012).
    A kernel two-sample test. *JMLR*, 13, 723-773.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(mmd2(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 3.0, bandwidth=1.0), 2)
    0.18
    """
    Xs, Xt = _check_pair(Xs, Xt)
    h, _ = _resolve_bandwidth(Xs, Xt, bandwidth)
    return float(_weighted_mmd2(Xs, Xt, h)[0])


def energy_distance(Xs, Xt) -> float:
    r"""Energy distance (Székely & Rizzo), the square root of the V-statistic.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)

    Returns
    -------
    float

    Notes
    -----
    .. math:: D(P_S, P_T) = \Big(2E\lVert X-Y\rVert - E\lVert X-X'\rVert - E\lVert Y-Y'\rVert\Big)^{1/2}

    with every expectation a V-statistic. In one dimension this equals
    :func:`scipy.stats.energy_distance` (:math:`\sqrt{2\int (F-G)^2}`).

    References
    ----------
    Székely, G. J., & Rizzo, M. L. (2013). Energy statistics: A class of
    statistics based on distances. *J. Stat. Plan. Inference*, 143(8), 1249-1272.

    Examples
    --------
    >>> round(energy_distance([[0.0], [1.0]], [[0.0], [3.0]]), 4)
    1.0
    """
    Xs, Xt = _check_pair(Xs, Xt, min_samples=1)
    return float(np.sqrt(max(0.0, float(_weighted_energy(Xs, Xt)[0]))))


def coral_distance(Xs, Xt) -> float:
    r"""CORAL distance between second-order statistics (Sun & Saenko 2016).

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)

    Returns
    -------
    float

    Notes
    -----
    .. math:: \frac{1}{4d^2}\,\lVert C_S - C_T\rVert_F^2

    with :math:`C` the unbiased sample covariances. Blind to mean shifts.

    References
    ----------
    Sun, B., & Saenko, K. (2016). Deep CORAL: Correlation alignment for deep
    domain adaptation. *ECCV Workshops*.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> coral_distance(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 5.0) < 0.01
    True
    """
    Xs, Xt = _check_pair(Xs, Xt)
    return _coral(Xs, Xt)


def _coral(Xs, Xt) -> float:
    d = Xs.shape[1]
    diff = np.cov(Xs, rowvar=False).reshape(d, d) - np.cov(Xt, rowvar=False).reshape(d, d)
    return float((diff * diff).sum() / (4.0 * d * d))


def _int_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2 ** 31 - 1))


def sliced_wasserstein(Xs, Xt, *, n_projections: int = 200, seed=None) -> float:
    r"""Sliced 2-Wasserstein distance, Monte-Carlo over random directions (POT).

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    n_projections : int
        Number :math:`L` of directions drawn uniformly on the sphere.
    seed : int, Generator or None

    Returns
    -------
    float

    Notes
    -----
    .. math:: SW_2(P_S,P_T) = \Big(\int_{S^{d-1}} W_2^2(\theta_\#P_S, \theta_\#P_T)\,d\theta\Big)^{1/2}
              \approx \Big(\frac1L\sum_{l=1}^L W_2^2(\theta_l^\top X, \theta_l^\top Y)\Big)^{1/2}

    Each 1-D :math:`W_2` is exact (sorting), so the cost is
    :math:`O(L(n+m)\log(n+m) + L(n+m)d)`; a different quantity from
    :math:`W_2` itself (about :math:`W_2/\sqrt d` for an isotropic shift).

    References
    ----------
    Bonneel, N., Rabin, J., Peyré, G., & Pfister, H. (2015). Sliced and Radon
    Wasserstein barycenters of measures. *J. Math. Imaging Vis.*, 51, 22-45.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sliced_wasserstein(rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 2.0, seed=0) > 0.5
    True
    """
    Xs, Xt = _check_pair(Xs, Xt, min_samples=1)
    L = check_positive_int(n_projections, "n_projections")
    return _sliced(Xs, Xt, L, _int_seed(check_random_state(seed)))


def _sliced(Xs, Xt, n_projections: int, seed: int) -> float:
    import ot

    return float(ot.sliced_wasserstein_distance(Xs, Xt, n_projections=n_projections, p=2, seed=seed))


def wasserstein(Xs, Xt, *, method: str = "auto", max_exact: int = 2500, reg: float = 0.05,
                n_projections: int = 200, seed=None) -> float:
    r"""2-Wasserstein distance between the empirical measures (POT).

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    method : {"auto", "exact", "sinkhorn", "sliced"}
        ``"exact"``: network simplex, :func:`ot.emd2`, uniform weights, cost
        :math:`\lVert x-y\rVert^2`. ``"auto"``: exact when ``max(n, m) <=
        max_exact``, otherwise exact on a seeded subsample of ``max_exact`` rows
        per domain (the same quantity, at a smaller ``n``; an exact solve costs
        roughly :math:`O(n^3)`, about 2 s at ``n = 2500``). ``"sinkhorn"``:
        entropic plan (:func:`ot.sinkhorn2`, log domain) with regularisation
        ``reg`` times the mean cost, returning
        :math:`\langle P_\varepsilon, C\rangle^{1/2}` (biased upwards).
        ``"sliced"``: :func:`sliced_wasserstein` — a different quantity.
        Use :func:`gap` to see which estimator ran.
    max_exact : int
    reg : float
        Relative entropic regularisation for ``"sinkhorn"``.
    n_projections : int
        For ``"sliced"``.
    seed : int, Generator or None
        Subsampling and projections.

    Returns
    -------
    float

    Notes
    -----
    .. math:: W_2(\hat P_S, \hat P_T) = \Big(\min_{\gamma\in\Pi(\frac1n\mathbf 1, \frac1m\mathbf 1)}
              \sum_{ij}\gamma_{ij}\lVert x_i-y_j\rVert^2\Big)^{1/2}

    The plug-in estimate is biased upwards, by :math:`O(n^{-1/d})` in general
    dimension :math:`d` (Fournier & Guillin 2015), so compare it across runs at
    equal ``n``.

    References
    ----------
    Peyré, G., & Cuturi, M. (2019). Computational optimal transport.
    *Foundations and Trends in ML*, 11(5-6).

    Fournier, N., & Guillin, A. (2015). On the rate of convergence in
    Wasserstein distance of the empirical measure. *PTRF*, 162, 707-738.

    Examples
    --------
    >>> round(wasserstein([[0.0, 0.0], [1.0, 0.0]], [[0.0, 2.0], [1.0, 2.0]]), 6)
    2.0
    """
    Xs, Xt = _check_pair(Xs, Xt, min_samples=1)
    value, _, _ = _wasserstein(Xs, Xt, method, max_exact, reg, n_projections, check_random_state(seed))
    return value


def _emd_w2(Xs, Xt) -> float:
    import ot

    M = ot.dist(Xs, Xt)  # squared Euclidean
    a = np.full(Xs.shape[0], 1.0 / Xs.shape[0])
    b = np.full(Xt.shape[0], 1.0 / Xt.shape[0])
    return float(np.sqrt(max(0.0, float(ot.emd2(a, b, M, numItermax=_EMD_ITER)))))


def _wasserstein(Xs, Xt, method, max_exact, reg, n_projections, rng):
    """Returns ``(value, method_used, details)``."""
    import ot

    _check_choice(method, "method", ("auto", "exact", "sinkhorn", "sliced"))
    max_exact = check_positive_int(max_exact, "max_exact", minimum=1)
    n, m = Xs.shape[0], Xt.shape[0]
    if method == "sliced":
        L = check_positive_int(n_projections, "n_projections")
        return _sliced(Xs, Xt, L, _int_seed(rng)), "sliced-wasserstein", {"n_projections": L}
    if method == "sinkhorn":
        reg = _check_fraction(reg, "reg", high=np.inf)
        M = ot.dist(Xs, Xt)
        eps = reg * float(M.mean())
        a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
        P = ot.sinkhorn(a, b, M, eps, method="sinkhorn_log", numItermax=10_000)
        return (float(np.sqrt(max(0.0, float((P * M).sum())))), "sinkhorn",
                {"reg": reg, "epsilon": eps})
    if method == "exact" or max(n, m) <= max_exact:
        return _emd_w2(Xs, Xt), "emd2", {"n_source": n, "n_target": m}
    Xs_sub, Xt_sub = _subsample(Xs, max_exact, rng), _subsample(Xt, max_exact, rng)
    return (_emd_w2(Xs_sub, Xt_sub), "emd2-subsample",
            {"n_source": Xs_sub.shape[0], "n_target": Xt_sub.shape[0],
             "reason": f"max(n, m) = {max(n, m)} > max_exact = {max_exact}: exact OT is ~cubic in n"})


def proxy_a_distance(Xs, Xt, *, estimator=None, test_size: float = 0.5, seed=None) -> float:
    r"""Proxy A-distance (Ben-David et al. 2007): how well a classifier tells the domains apart.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    estimator : scikit-learn classifier, optional
        Default: standardisation + ``LogisticRegression``; cloned, seeded.
    test_size : float in (0, 1)
        Balanced held-out part, as in :func:`~da.diagnostics.c2st`.
    seed : int, Generator or None

    Returns
    -------
    float in [0, 2]

    Notes
    -----
    .. math:: \hat d_{\mathcal A} = \operatorname{clip}_{[0,2]}\; 2(1 - 2\varepsilon),

    with :math:`\varepsilon` the balanced error of a domain classifier on a
    seeded held-out split it was not trained on. 0: indistinguishable; 2:
    perfectly separable.

    References
    ----------
    Ben-David, S., Blitzer, J., Crammer, K., & Pereira, F. (2007). Analysis of
    representations for domain adaptation. *NeurIPS*.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> proxy_a_distance(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 10.0, seed=0)
    2.0
    """
    Xs, Xt = _check_pair(Xs, Xt)
    test_size = _check_fraction(test_size, "test_size")
    pred, y, _ = _held_out_predictions(Xs, Xt, estimator, test_size, check_random_state(seed))
    return _pad(pred, y)


def _pad(pred: np.ndarray, y: np.ndarray) -> float:
    err = 0.5 * (np.mean(pred[y == 0] != 0) + np.mean(pred[y == 1] != 1))
    return float(np.clip(2.0 * (1.0 - 2.0 * err), 0.0, 2.0))


def _block_mmd2(Xs, Xt, bandwidth: float, block_size: int, rng):
    r"""Block MMD² (Zaremba et al. 2013): mean of :math:`\widehat{\mathrm{MMD}}^2_u` over disjoint blocks.

    Each of the :math:`b = \lfloor \min(n,m)/B \rfloor` blocks pairs about
    ``block_size`` shuffled source rows with as many target rows (in proportion
    ``n : m``); the block estimates are i.i.d. and unbiased, so their mean is
    unbiased with standard error :math:`s/\sqrt b`. Cost :math:`O((n+m)Bd)`.
    Returns ``(value, standard_error, n_blocks)``.
    """
    n, m = Xs.shape[0], Xt.shape[0]
    nb = max(1, min(n, m) // block_size)
    ps, pt = np.array_split(rng.permutation(n), nb), np.array_split(rng.permutation(m), nb)
    vals = np.array([_weighted_mmd2(Xs[i], Xt[j], bandwidth)[0] for i, j in zip(ps, pt)])
    se = float(vals.std(ddof=1) / np.sqrt(nb)) if nb > 1 else float("nan")
    return float(vals.mean()), se, nb


def _percentile_ci(reps, confidence):
    lo, hi = np.quantile(np.asarray(reps, dtype=np.float64), [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def _counts(rng, n: int, n_bootstrap: int) -> np.ndarray:
    """Multinomial bootstrap counts, shape (n, n_bootstrap)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).T.astype(np.float64)


def gap(Xs, Xt, metric: str = "mmd2", *, n_bootstrap: int = 200, confidence: float = 0.95,
        seed=None, **kwargs) -> GapResult:
    r"""A gap metric with a percentile bootstrap interval and the estimator it used.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    metric : str
        One of :data:`GAP_METRICS`.
    n_bootstrap : int
        Bootstrap resamples (0: no interval). Source and target rows are
        resampled independently.
    confidence : float in (0, 1)
    seed : int, Generator or None
        Drives the bootstrap and the metric's own randomness.
    **kwargs
        Passed to the metric (``bandwidth``, ``method``, ``n_projections``,
        ``estimator`` ...). ``metric="mmd2"`` also accepts ``block_size``: use
        the linear-memory block estimator of Zaremba et al. (2013) on all rows,
        with a normal interval from the block-to-block spread instead of a
        bootstrap.

    Returns
    -------
    GapResult

    Notes
    -----
    The percentile interval is :math:`[\hat\theta^*_{(\alpha/2)}, \hat\theta^*_{(1-\alpha/2)}]`
    (Efron & Tibshirani 1993). For ``mmd2`` and ``energy_distance`` all resamples
    are evaluated at once as weighted quadratic forms of one kernel (distance)
    pass; a repeated row is never paired with itself in the MMD's within-sample
    terms. For ``proxy_a_distance`` the classifier is fitted once and its
    held-out predictions are resampled (the interval covers test-set noise, not
    refitting). For ``wasserstein`` each resample is a full OT solve.

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall.

    Zaremba, W., Gretton, A., & Blaschko, M. (2013). B-test: A non-parametric,
    low variance kernel two-sample test. *NeurIPS*.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = gap(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 1.0, "mmd2", seed=0)
    >>> res.ci[0] < res.value < res.ci[1]
    True
    """
    _check_choice(metric, "metric", GAP_METRICS)
    Xs, Xt = _check_pair(Xs, Xt)
    B = check_positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    confidence = _check_fraction(confidence, "confidence")
    rng = check_random_state(seed)
    n, m = Xs.shape[0], Xt.shape[0]
    details: dict = {"n_source": n, "n_target": m}

    if metric == "mmd2":
        h, rule = _resolve_bandwidth(Xs, Xt, kwargs.pop("bandwidth", None))
        block = kwargs.pop("block_size", None)
        _no_extra(kwargs, metric)
        details.update(bandwidth=h, bandwidth_rule=rule)
        if block is not None:
            block = check_positive_int(block, "block_size", minimum=2)
            value, se, nb = _block_mmd2(Xs, Xt, h, block, rng)
            z = stats.norm.ppf((1 + confidence) / 2)
            ci = (float(value - z * se), float(value + z * se)) if nb > 1 else None
            details.update(n_blocks=nb, block_size=block, standard_error=se,
                           ci_rule="normal over i.i.d. block estimates")
            return GapResult(value, ci, 0, "mmd2/block", confidence, details)
        Ws = np.concatenate([np.ones((n, 1)), _counts(rng, n, B)], axis=1)
        Wt = np.concatenate([np.ones((m, 1)), _counts(rng, m, B)], axis=1)
        vals = _weighted_mmd2(Xs, Xt, h, Ws, Wt)
        return _result(vals[0], vals[1:], B, "mmd2/unbiased", confidence, details)

    if metric == "energy_distance":
        _no_extra(kwargs, metric)
        Ws = np.concatenate([np.ones((n, 1)), _counts(rng, n, B)], axis=1)
        Wt = np.concatenate([np.ones((m, 1)), _counts(rng, m, B)], axis=1)
        vals = np.sqrt(np.clip(_weighted_energy(Xs, Xt, Ws, Wt), 0.0, None))
        return _result(vals[0], vals[1:], B, "energy_distance/V-statistic", confidence, details)

    if metric == "proxy_a_distance":
        estimator = kwargs.pop("estimator", None)
        test_size = _check_fraction(kwargs.pop("test_size", 0.5), "test_size")
        _no_extra(kwargs, metric)
        pred, y, info = _held_out_predictions(Xs, Xt, estimator, test_size, rng)
        details.update(info)
        i0, i1 = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
        reps = []
        for _ in range(B):
            idx = np.concatenate([rng.choice(i0, i0.size), rng.choice(i1, i1.size)])
            reps.append(_pad(pred[idx], y[idx]))
        return _result(_pad(pred, y), reps, B, "proxy_a_distance/held-out", confidence, details)

    # The remaining metrics have no batched form: one call per resample.
    if metric == "coral_distance":
        _no_extra(kwargs, metric)
        fn, method = _coral, "coral_distance"
    elif metric == "sliced_wasserstein":
        L = check_positive_int(kwargs.pop("n_projections", 200), "n_projections")
        _no_extra(kwargs, metric)
        proj_seed = _int_seed(rng)  # the same directions for every resample
        details.update(n_projections=L)

        def fn(a, b):
            return _sliced(a, b, L, proj_seed)
        method = "sliced_wasserstein"
    else:
        wargs = {k: kwargs.pop(k) for k in ("method", "max_exact", "reg", "n_projections") if k in kwargs}
        _no_extra(kwargs, metric)
        wargs.setdefault("method", "auto")
        wargs.setdefault("max_exact", 2500)
        wargs.setdefault("reg", 0.05)
        wargs.setdefault("n_projections", 200)
        w_seed = _int_seed(rng)
        value, used, info = _wasserstein(Xs, Xt, wargs["method"], wargs["max_exact"], wargs["reg"],
                                         wargs["n_projections"], np.random.default_rng(w_seed))
        details.update(info)

        def fn(a, b):
            return _wasserstein(a, b, wargs["method"], wargs["max_exact"], wargs["reg"],
                                wargs["n_projections"], np.random.default_rng(w_seed))[0]
        reps = [fn(Xs[rng.integers(0, n, n)], Xt[rng.integers(0, m, m)]) for _ in range(B)]
        return _result(value, reps, B, f"wasserstein/{used}", confidence, details)
    value = fn(Xs, Xt)
    reps = [fn(Xs[rng.integers(0, n, n)], Xt[rng.integers(0, m, m)]) for _ in range(B)]
    return _result(value, reps, B, method, confidence, details)


def _no_extra(kwargs: dict, metric: str) -> None:
    if kwargs:
        raise ValueError(f"unexpected argument(s) for metric {metric!r}: {', '.join(sorted(kwargs))}")


def _result(value, reps, B, method, confidence, details) -> GapResult:
    ci = _percentile_ci(reps, confidence) if B > 0 else None
    return GapResult(float(value), ci, B, method, confidence, details)
