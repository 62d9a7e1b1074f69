r"""How far apart two samples are: distribution-gap metrics and their bootstrap intervals.

Every metric is a plain function ``metric(Xs, Xt, ...) -> float``.
:func:`~da.diagnostics.gap` (:mod:`da.diagnostics.gap_specs`, the table of
metric specs) computes any of them together with a bootstrap interval and the
name of the estimator actually used, as a :class:`~da.diagnostics.results.GapResult`.
"""

from __future__ import annotations

import warnings

import numpy as np

from da._lazy import lazy_module
from da._validation import check_positive_int, check_random_state
from da.diagnostics._classifier import _held_out_predictions
from da._validation import (check_bandwidth as _check_bandwidth, check_choice as _check_choice,
                             check_fraction as _check_fraction, check_pair as _check_pair,
                             subsample_rows as _subsample)
from da.diagnostics._quadratic import _pooled_median, _weighted_energy, _weighted_mmd2

ot = lazy_module("ot")  # POT imports scikit-learn, pandas and networkx: seconds, paid on first use

__all__ = ["mmd2", "energy_distance", "coral_distance", "wasserstein", "sliced_wasserstein",
           "proxy_a_distance", "WASSERSTEIN_DEFAULTS"]

#: The keyword defaults of :func:`wasserstein`, read by ``gap`` and ``GapTracker`` too.
#: ``max_exact``: the exact network simplex on the full sample up to this many rows per
#: domain. Measured on the 2-core development machine (``benchmarks/ot_exact.py``):
#: about 7 s and a 0.4 GiB cost matrix at 5000 rows, ~cubic beyond.
WASSERSTEIN_DEFAULTS = {"method": "auto", "max_exact": 5000, "reg": 0.05, "n_projections": 200}

# ot.emd2 stops silently-wrong at its default 1e5 network-simplex iterations for n ~ 1e3.
_EMD_ITER = 1_000_000_000


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


def wasserstein(Xs, Xt, *, method: str = WASSERSTEIN_DEFAULTS["method"],
                max_exact: int = WASSERSTEIN_DEFAULTS["max_exact"], reg: float = WASSERSTEIN_DEFAULTS["reg"],
                n_projections: int = WASSERSTEIN_DEFAULTS["n_projections"], seed=None) -> float:
    r"""2-Wasserstein distance between the empirical measures (POT).

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    method : {"auto", "exact", "sinkhorn", "sliced"}
        ``"exact"``: network simplex, :func:`ot.emd2`, uniform weights, cost
        :math:`\lVert x-y\rVert^2`, solved to optimality (a solve that stops
        early warns). ``"auto"``: exact when ``max(n, m) <= max_exact``,
        otherwise exact on a seeded subsample of ``max_exact`` rows per domain
        (the same quantity at a smaller ``n``, biased upwards by the smaller
        sample; :func:`~da.diagnostics.gap` adds a bootstrap interval and says
        which estimator ran and on how many rows). ``"sinkhorn"``:
        entropic plan (:func:`ot.sinkhorn2`, log domain) with regularisation
        ``reg`` times the mean cost, returning
        :math:`\langle P_\varepsilon, C\rangle^{1/2}` (biased upwards).
        ``"sliced"``: :func:`sliced_wasserstein` — a different quantity.
        Use :func:`gap` to see which estimator ran.
    max_exact : int
        Default 5000: an exact solve costs roughly :math:`O(n^3)` time (about 7 s
        at 5000 rows on 2 cores) and :math:`8nm` bytes for the cost matrix.
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
    """Exact W2 by POT's network simplex on the full squared-Euclidean cost matrix."""
    M = ot.dist(Xs, Xt)  # squared Euclidean
    a = np.full(Xs.shape[0], 1.0 / Xs.shape[0])
    b = np.full(Xt.shape[0], 1.0 / Xt.shape[0])
    cost, log = ot.emd2(a, b, M, numItermax=_EMD_ITER, log=True)
    if log.get("warning"):
        warnings.warn(f"wasserstein: ot.emd2 did not reach the optimum ({log['warning']}); "
                      "the value is an upper bound", RuntimeWarning, stacklevel=3)
    return float(np.sqrt(max(0.0, float(cost))))


def _wasserstein(Xs, Xt, method, max_exact, reg, n_projections, rng):
    """Returns ``(value, method_used, details)``."""
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
             "reason": f"max(n, m) = {max(n, m)} > max_exact = {max_exact}: exact OT is ~cubic in n; "
                       "the subsample estimate is biased upwards, less so as max_exact grows"})


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
