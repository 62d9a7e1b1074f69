r"""How far apart two samples are: distribution-gap metrics and their bootstrap intervals.

Every metric is a plain function ``metric(Xs, Xt, ...) -> float``. :func:`gap`
computes any of them together with a percentile bootstrap interval and the
name of the estimator actually used, as a :class:`~da.diagnostics.results.GapResult`.
"""

from __future__ import annotations

import numpy as np
import torch

from da._lazy import lazy_module
from da._validation import check_positive_int, check_random_state
from da.diagnostics._classifier import _held_out_predictions
from da.diagnostics._inputs import (_check_bandwidth, _check_choice, _check_fraction, _check_pair,
                                    _subsample)
from da.diagnostics._quadratic import (_MAX_BYTES, _mmd2_pooled, _pooled_median, _weighted_energy,
                                       _weighted_mmd2)
from da.diagnostics.results import GapResult

stats = lazy_module("scipy.stats")  # a second of imports; only some functions need it

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
    >>> from da.data import GaussianDomain, gaussian_mixture_mmd2
    >>> p, q = GaussianDomain([[0.0, 0.0]], np.eye(2)), GaussianDomain([[1.0, 0.0]], np.eye(2))
    >>> Xs, Xt = p.sample(1000, seed=0)[0], q.sample(1000, seed=1)[0]
    >>> abs(mmd2(Xs, Xt, bandwidth=1.0) - gaussian_mixture_mmd2(p, q, 1.0)) < 0.02
    True
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


def _projections(d: int, n_projections: int, seed: int) -> np.ndarray:
    """Directions uniform on the sphere, shape (d, L), from a private generator.

    (POT's own ``seed=int`` path reseeds numpy's *global* generator.)
    """
    theta = np.random.default_rng(seed).standard_normal((d, n_projections))
    return theta / np.linalg.norm(theta, axis=0, keepdims=True)


def _sliced(Xs, Xt, n_projections: int, seed: int) -> float:
    import ot

    theta = _projections(Xs.shape[1], n_projections, seed)
    return float(ot.sliced_wasserstein_distance(Xs, Xt, projections=theta, p=2))


def _quantile_grid(n: int, m: int):
    r"""Breakpoints of :math:`F^{-1}` and :math:`G^{-1}` for uniform weights: row indices and widths.

    On each interval between consecutive points of :math:`\{k/n\}\cup\{k/m\}`
    both empirical quantile functions are constant; the midpoint picks the rows.
    """
    u = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    lo = np.r_[0.0, u[:-1]]
    mid = (lo + u) / 2
    return (np.minimum((mid * n).astype(np.int64), n - 1), np.minimum((mid * m).astype(np.int64), m - 1),
            u - lo)


def _sliced_from_projected(Ps: np.ndarray, Pt: np.ndarray, grid) -> float:
    r""":math:`\big(\frac1L\sum_l W_2^2\big)^{1/2}` from projected samples (n, L), (m, L).

    Exact 1-D optimal transport between uniform empirical measures:
    :math:`W_2^2 = \int_0^1 (F^{-1}(u) - G^{-1}(u))^2\,du`.
    """
    ix, iy, du = grid
    xs, ys = np.sort(Ps, axis=0), np.sort(Pt, axis=0)
    w2 = (du[:, None] * (xs[ix] - ys[iy]) ** 2).sum(0)
    return float(np.sqrt(w2.mean()))


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

    The rows are shuffled and cut into :math:`b = \max(1, \lfloor \min(n,m)/B \rfloor)`
    blocks of :math:`\lfloor n/b \rfloor` source and :math:`\lfloor m/b \rfloor`
    target rows (fewer than :math:`b` leftover rows per domain are dropped). The
    block estimates are i.i.d. and unbiased, so their mean is unbiased with
    standard error :math:`s/\sqrt b`. Cost :math:`O((n+m)Bd)` time; blocks are
    evaluated a chunk at a time as one batched kernel computation.
    Returns ``(value, standard_error, n_blocks)``.
    """
    n, m = Xs.shape[0], Xt.shape[0]
    nb = max(1, min(n, m) // block_size)
    bs, bt = n // nb, m // nb
    S = Xs[rng.permutation(n)[:nb * bs]].reshape(nb, bs, -1)
    T = Xt[rng.permutation(m)[:nb * bt]].reshape(nb, bt, -1)
    N = bs + bt
    chunk = max(1, int(_MAX_BYTES // (8 * N * N)))
    vals = torch.cat([_mmd2_pooled(S[c:c + chunk], T[c:c + chunk], bandwidth)
                      for c in range(0, nb, chunk)]).numpy()
    se = float(vals.std(ddof=1) / np.sqrt(nb)) if nb > 1 else float("nan")
    return float(vals.mean()), se, nb


_CI_METHODS = ("percentile", "bias-corrected")


def _bootstrap_ci(value, reps, confidence, ci_method, nonnegative):
    """Percentile interval, or the percentile interval shifted by the bootstrap bias estimate."""
    reps = np.asarray(reps, dtype=np.float64)
    lo, hi = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2])
    bias = float(reps.mean() - value)
    if ci_method == "bias-corrected":
        lo, hi = lo - bias, hi - bias
        if nonnegative:
            lo, hi = max(lo, 0.0), max(hi, 0.0)
    return (float(lo), float(hi)), bias


def _counts(rng, n: int, n_bootstrap: int) -> np.ndarray:
    """Multinomial bootstrap counts, shape (n, n_bootstrap)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).T.astype(np.float64)


def gap(Xs, Xt, metric: str = "mmd2", *, n_bootstrap: int = 200, confidence: float = 0.95,
        ci_method: str = "percentile", seed=None, **kwargs) -> GapResult:
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
    ci_method : {"percentile", "bias-corrected"}
        ``"percentile"``: :math:`[\hat\theta^*_{(\alpha/2)}, \hat\theta^*_{(1-\alpha/2)}]`.
        ``"bias-corrected"``: the same interval shifted down by the bootstrap
        bias estimate :math:`\bar\theta^* - \hat\theta` (clipped at 0 for
        non-negative metrics); see Notes.
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

    Plug-in metrics that are (square roots of) squared norms — CORAL, energy
    distance, (sliced) Wasserstein — are biased upwards, and resampling adds
    the same bias again, so near zero the percentile interval can lie entirely
    above the estimate. ``details["bootstrap_bias"]`` reports
    :math:`\bar\theta^* - \hat\theta`; ``ci_method="bias-corrected"``
    removes it (Efron & Tibshirani 1993, Ch. 10). The MMD² resamples exclude
    a repeated row's pairs with itself and are (nearly) unbiased.

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
    _check_choice(ci_method, "ci_method", _CI_METHODS)
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
        return _result(vals[0], vals[1:], B, "mmd2/unbiased", confidence, details, ci_method, False)

    if metric == "energy_distance":
        _no_extra(kwargs, metric)
        Ws = np.concatenate([np.ones((n, 1)), _counts(rng, n, B)], axis=1)
        Wt = np.concatenate([np.ones((m, 1)), _counts(rng, m, B)], axis=1)
        vals = np.sqrt(np.clip(_weighted_energy(Xs, Xt, Ws, Wt), 0.0, None))
        return _result(vals[0], vals[1:], B, "energy_distance/V-statistic", confidence, details, ci_method)

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
        return _result(_pad(pred, y), reps, B, "proxy_a_distance/held-out", confidence, details, ci_method)

    if metric == "coral_distance":
        _no_extra(kwargs, metric)
        reps, G = _coral_bootstrap(Xs, Xt, B, rng)
        details.update(bootstrap_groups=G)
        return _result(_coral(Xs, Xt), reps, B, "coral_distance", confidence, details, ci_method)
    if metric == "sliced_wasserstein":
        L = check_positive_int(kwargs.pop("n_projections", 200), "n_projections")
        _no_extra(kwargs, metric)
        proj_seed = _int_seed(rng)  # the same directions for every resample
        theta = _projections(Xs.shape[1], L, proj_seed)
        Ps, Pt = Xs @ theta, Xt @ theta
        grid = _quantile_grid(n, m)
        reps = [_sliced_from_projected(Ps[rng.integers(0, n, n)], Pt[rng.integers(0, m, m)], grid)
                for _ in range(B)]
        details.update(n_projections=L)
        return _result(_sliced(Xs, Xt, L, proj_seed), reps, B, "sliced_wasserstein", confidence,
                       details, ci_method)
    if metric == "wasserstein":
        # wasserstein()'s defaults, overridden by the caller's keywords
        w = {"method": "auto", "max_exact": 2500, "reg": 0.05, "n_projections": 200}
        w.update({k: kwargs.pop(k) for k in list(w) if k in kwargs})
        _no_extra(kwargs, metric)
        w_seed = _int_seed(rng)

        def fn(a, b):
            return _wasserstein(a, b, w["method"], w["max_exact"], w["reg"], w["n_projections"],
                                np.random.default_rng(w_seed))
        value, used, info = fn(Xs, Xt)
        details.update(info)
        reps = [fn(Xs[rng.integers(0, n, n)], Xt[rng.integers(0, m, m)])[0] for _ in range(B)]
        return _result(value, reps, B, f"wasserstein/{used}", confidence, details, ci_method)
    raise AssertionError(metric)  # pragma: no cover - GAP_METRICS is checked above


def _coral_bootstrap(Xs, Xt, B: int, rng, max_groups: int = 512):
    r"""Bootstrap replicates of the CORAL distance from per-group sufficient statistics.

    Each domain's rows are split at random into :math:`G \le` ``max_groups``
    groups with sums :math:`s_g` and second moments :math:`Q_g = X_g^\top X_g`;
    a replicate resamples groups (multinomial weights :math:`w`) and rebuilds
    :math:`C = (\sum_g w_g Q_g - \frac{1}{N} s s^\top)/(N-1)` in :math:`O(Gd^2)`.
    With :math:`n \le G` every group is one row: the ordinary row bootstrap.
    Returns ``(replicates, G)``.
    """
    d = Xs.shape[1]
    cap = max(2, min(max_groups, int(2 ** 27 // (8 * d * d))))

    def moments(X):
        G = min(cap, X.shape[0])
        groups = np.array_split(rng.permutation(X.shape[0]), G)
        cnt = np.array([g.size for g in groups], dtype=np.float64)
        S = np.stack([X[g].sum(0) for g in groups])
        Q = np.stack([X[g].T @ X[g] for g in groups])
        return G, cnt, S, Q

    def covs(G, cnt, S, Q):
        W = rng.multinomial(G, np.full(G, 1.0 / G), size=B).astype(np.float64)     # (B, G)
        N = W @ cnt
        s = W @ S
        C = np.einsum("bg,gij->bij", W, Q) - s[:, :, None] * s[:, None, :] / N[:, None, None]
        return C / (N - 1)[:, None, None]

    (Gs, *ms), (Gt, *mt) = moments(Xs), moments(Xt)
    if B == 0:
        return [], min(Gs, Gt)
    diff = covs(Gs, *ms) - covs(Gt, *mt)
    return list((diff * diff).sum((1, 2)) / (4.0 * d * d)), min(Gs, Gt)


def _no_extra(kwargs: dict, metric: str) -> None:
    if kwargs:
        raise ValueError(f"unexpected argument(s) for metric {metric!r}: {', '.join(sorted(kwargs))}")


def _result(value, reps, B, method, confidence, details, ci_method="percentile",
            nonnegative=True) -> GapResult:
    ci = None
    if B > 0:
        ci, bias = _bootstrap_ci(value, reps, confidence, ci_method, nonnegative)
        details = {**details, "bootstrap_bias": bias, "ci_method": ci_method}
    return GapResult(float(value), ci, B, method, confidence, details)
