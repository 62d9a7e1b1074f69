r"""Two-sample tests of :math:`H_0: P_S = P_T` on held-out samples.

Every test takes ``(Xs, Xt, *, ..., seed=None)`` and returns a
:class:`~da.diagnostics.results.TestResult`. The permutation tests (MMD,
energy) evaluate all permutations as batched matrix products on one pooled
matrix (:mod:`da.diagnostics.permutation`).
"""

from __future__ import annotations

import numpy as np
import torch

from da._lazy import lazy_module
from da._validation import check_positive_int, check_random_state
from da.diagnostics._classifier import _held_out_predictions
from da._validation import (check_bandwidth as _check_bandwidth, check_choice as _check_choice,
                             check_fraction as _check_fraction, check_pair as _check_pair)
from da.diagnostics._quadratic import _pooled_median
from da.diagnostics.permutation import _batched_energy_test, _batched_mmd_test, _permutation_pvalues
from da.diagnostics.results import TestResult

stats = lazy_module("scipy.stats")  # a second of imports; only some functions need it

__all__ = ["mmd_test", "energy_test", "c2st", "ks_test", "linear_mmd_test", "DEFAULT_AGG_SCALES"]

#: Multiples of the median-heuristic bandwidth used by ``mmd_test(aggregate=True)``.
DEFAULT_AGG_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def mmd_test(Xs, Xt, *, bandwidth=None, n_permutations: int = 1000, seed=None,
             aggregate: bool = False, scales=DEFAULT_AGG_SCALES) -> TestResult:
    r"""Kernel two-sample test with the unbiased MMD² and a permutation null.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
        Held-out source sample.
    Xt : array-like of shape (m, d)
        Held-out target sample.
    bandwidth : float, sequence of float or None
        Gaussian-kernel bandwidth :math:`h`. ``None`` uses the median heuristic
        on the pooled sample. A sequence is only allowed with ``aggregate=True``.
    n_permutations : int
        Number :math:`B \ge 1` of random splits.
    seed : int, Generator or None
    aggregate : bool
        Test with several bandwidths at once (below); ``statistic`` is then the
        smallest per-bandwidth p-value.
    scales : sequence of float
        With ``aggregate=True`` and ``bandwidth=None``: the bandwidths are these
        multiples of the median heuristic.

    Returns
    -------
    TestResult
        ``statistic`` is :math:`\widehat{\mathrm{MMD}}^2_u`; ``details`` holds
        the bandwidth(s) and, when aggregated, the per-bandwidth MMD² and p-values.

    Notes
    -----
    With :math:`k_h(x,y) = \exp(-\lVert x-y\rVert^2/2h^2)`,

    .. math:: \widehat{\mathrm{MMD}}^2_u = \frac{1}{n(n-1)}\sum_{i\ne j}k(x_i,x_j)
              + \frac{1}{m(m-1)}\sum_{i\ne j}k(y_i,y_j) - \frac{2}{nm}\sum_{i,j}k(x_i,y_j).

    The p-value is :math:`(1 + \#\{b: T_b \ge T\})/(B+1)` over :math:`B`
    uniformly random re-splits of the pooled sample, all evaluated as quadratic
    forms :math:`a^\top K a` of one pooled kernel matrix (one matmul per chunk of
    permutations). The median bandwidth is a function of the pooled sample, hence
    permutation invariant, so the test stays exact. Memory is
    :math:`O((n+m)^2)` per bandwidth (a ``ValueError`` says so above ~6 GiB);
    :func:`linear_mmd_test` and :func:`~da.diagnostics.shift_report` handle
    larger samples.

    The aggregated test follows MMDAgg (Schrab et al. 2023) in spirit: the
    per-bandwidth statistics are computed on the *same* permutations and
    combined by the minimum of their permutation p-values, calibrated by the
    permutation distribution of that minimum (Westfall-Young); this keeps the
    level exact without a Bonferroni penalty. It differs from MMDAgg's
    weighted-quantile calibration.

    References
    ----------
    Gretton, A., Borgwardt, K. M., Rasch, M. J., Schölkopf, B., & Smola, A. (2012).
    A kernel two-sample test. *JMLR*, 13, 723-773.

    Schrab, A., Kim, I., Albert, M., Laurent, B., Guedj, B., & Gretton, A. (2023).
    MMD aggregated two-sample test. *JMLR*, 24(194), 1-81.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = mmd_test(rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 1.0,
    ...                n_permutations=200, seed=0)
    >>> res.pvalue < 0.05
    True
    """
    Xs, Xt = _check_pair(Xs, Xt)
    B = check_positive_int(n_permutations, "n_permutations")
    rng = check_random_state(seed)
    if aggregate:
        if bandwidth is None:
            scales = tuple(_check_bandwidth(s, "scales") for s in np.atleast_1d(scales))
            if not scales:
                raise ValueError("scales must hold at least one multiple of the median bandwidth")
        else:
            bandwidth = [_check_bandwidth(h) for h in np.atleast_1d(bandwidth)]
    elif bandwidth is not None:
        if np.ndim(bandwidth) != 0:
            raise ValueError("a sequence of bandwidths needs aggregate=True; got "
                             f"bandwidth={bandwidth!r}")
        bandwidth = _check_bandwidth(bandwidth)
        scales = (1.0,)
    else:
        scales = (1.0,)
    res = _batched_mmd_test(Xs[None], Xt[None], n_permutations=B, rng=rng, bandwidth=bandwidth,
                            scales=scales, aggregate=aggregate)
    h = res["bandwidths"][0]
    details = {"n_source": Xs.shape[0], "n_target": Xt.shape[0],
               "bandwidth_rule": "median heuristic (pooled)" if bandwidth is None else "fixed"}
    if aggregate:
        details.update(bandwidths=h.tolist(), mmd2=res["mmd2"][0].tolist(),
                       pvalues=res["pvalues"][0].tolist())
        return TestResult(float(res["pvalues"][0].min()), float(res["pvalue"][0]),
                          f"mmd-agg (min-p over {h.size} Gaussian bandwidths, permutation)", B, details)
    details["bandwidth"] = float(h[0])
    return TestResult(float(res["mmd2"][0, 0]), float(res["pvalue"][0]),
                      "mmd (unbiased MMD^2, Gaussian kernel, permutation)", B, details)


def energy_test(Xs, Xt, *, n_permutations: int = 1000, seed=None) -> TestResult:
    r"""Energy-distance two-sample test (Székely & Rizzo) with a permutation null.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    n_permutations : int
    seed : int, Generator or None

    Returns
    -------
    TestResult
        ``statistic`` is :math:`\frac{nm}{n+m}\,\mathcal E_{n,m}`.

    Notes
    -----
    .. math:: \mathcal E_{n,m} = \frac{2}{nm}\sum_{i,j}\lVert x_i-y_j\rVert
              - \frac{1}{n^2}\sum_{i,j}\lVert x_i-x_j\rVert - \frac{1}{m^2}\sum_{i,j}\lVert y_i-y_j\rVert

    (V-statistics). Permutations are batched quadratic forms of the pooled
    Euclidean distance matrix, as in :func:`mmd_test`.

    References
    ----------
    Székely, G. J., & Rizzo, M. L. (2004). Testing for equal distributions in
    high dimension. *InterStat*, 5(16.10).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> energy_test(rng.normal(size=(40, 3)), rng.normal(size=(40, 3)), seed=0).pvalue > 0.05
    True
    """
    Xs, Xt = _check_pair(Xs, Xt)
    B = check_positive_int(n_permutations, "n_permutations")
    rng = check_random_state(seed)
    res = _batched_energy_test(Xs[None], Xt[None], n_permutations=B, rng=rng)
    return TestResult(float(res["statistic"][0]), float(res["pvalue"][0]),
                      "energy (Szekely-Rizzo statistic, permutation)", B,
                      {"n_source": Xs.shape[0], "n_target": Xt.shape[0]})


def c2st(Xs, Xt, *, estimator=None, test_size: float = 0.5, pvalue: str = "binomial",
         n_permutations: int = 1000, seed=None) -> TestResult:
    r"""Classifier two-sample test (Lopez-Paz & Oquab 2017).

    A domain classifier (source = 0, target = 1) is trained on one part of the
    data and scored on a held-out part it never saw. Under :math:`H_0` no
    classifier beats chance on held-out data.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    estimator : scikit-learn classifier, optional
        Cloned before fitting; a ``random_state=None`` parameter is seeded from
        ``seed``. Default: standardisation + ``LogisticRegression``.
    test_size : float in (0, 1)
        The held-out part is ``k = floor(test_size * min(n, m))`` rows **from
        each domain**, so it is balanced and chance accuracy is exactly 1/2
        whatever the ratio ``n : m``; ``min(n, m) - k`` rows of each domain train
        the classifier (the larger domain's surplus is not used).
    pvalue : {"binomial", "permutation"}
        ``"binomial"``: :math:`P(\mathrm{Bin}(2k, 1/2) \ge c)` for :math:`c`
        correct held-out predictions. ``"permutation"``: the domain labels of the
        held-out rows are permuted ``n_permutations`` times against the fixed
        predictions (exact conditional test, no refitting; each permutation's
        count is drawn from its hypergeometric law, not by shuffling).
    n_permutations : int
        Used by ``pvalue="permutation"`` only.
    seed : int, Generator or None

    Returns
    -------
    TestResult
        ``statistic`` is the held-out accuracy.

    Notes
    -----
    Under :math:`H_0` the held-out labels are exchangeable given the
    predictions, so the number correct is
    :math:`c = 2H + k - \hat P` with :math:`H` hypergeometric; its variance
    averages to :math:`k/2`, the binomial one, so the binomial p-value is
    calibrated up to the discreteness of :math:`c` (a grid of :math:`1/(2k)`).

    References
    ----------
    Lopez-Paz, D., & Oquab, M. (2017). Revisiting classifier two-sample tests. *ICLR*.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c2st(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 1.0, seed=0).pvalue < 0.01
    True
    """
    Xs, Xt = _check_pair(Xs, Xt)
    test_size = _check_fraction(test_size, "test_size")
    _check_choice(pvalue, "pvalue", ("binomial", "permutation"))
    rng = check_random_state(seed)
    if pvalue == "permutation":
        B = check_positive_int(n_permutations, "n_permutations")
    _check_c2st_sizes(Xs.shape[0], Xt.shape[0], test_size)
    pred, y_te, details = _held_out_predictions(Xs, Xt, estimator, test_size, rng)
    correct = int((pred == y_te).sum())
    acc = correct / y_te.size
    details["n_correct"] = correct
    if pvalue == "binomial":
        p = float(stats.binom.sf(correct - 1, y_te.size, 0.5))
        return TestResult(acc, p, "c2st (held-out accuracy, binomial)", 0, details)
    # A uniform relabelling of the held-out rows puts H ~ Hypergeom(2k, k, P) of the k
    # target labels on the P rows predicted "target", so its count of correct
    # predictions is 2H + k - P: B permutations are sampled exactly in O(B).
    k, P = int((y_te == 1).sum()), int((pred == 1).sum())
    H = rng.hypergeometric(k, y_te.size - k, P, size=B) if 0 < P else np.zeros(B, np.int64)
    counts = np.concatenate([[correct], 2 * H + (y_te.size - k) - P]).astype(np.float64)
    p = float(_permutation_pvalues(torch.from_numpy(counts)))
    return TestResult(acc, p, "c2st (held-out accuracy, label permutation)", B, details)


#: Held-out rows per domain below which the C2ST cannot reject at 5 %
#: (with k rows per domain its smallest p-value is :math:`2^{-2k}`), and training rows
#: per domain below which the classifier has nothing to learn from.
_C2ST_MIN_TEST, _C2ST_MIN_TRAIN = 3, 2


def _check_c2st_sizes(n: int, m: int, test_size: float) -> None:
    k = int(np.floor(test_size * min(n, m)))
    if k < _C2ST_MIN_TEST or min(n, m) - k < _C2ST_MIN_TRAIN:
        raise ValueError(
            f"c2st needs at least {_C2ST_MIN_TEST} held-out and {_C2ST_MIN_TRAIN} training rows per "
            f"domain; Xs has {n} rows and Xt {m}, so test_size={test_size} holds out {k} and trains "
            f"on {min(n, m) - k} per domain (at least {_C2ST_MIN_TEST + _C2ST_MIN_TRAIN} rows in each "
            "of Xs and Xt are needed)")


def ks_test(Xs, Xt, *, correction: str = "bonferroni", alpha: float = 0.05, seed=None) -> TestResult:
    r"""Per-feature two-sample Kolmogorov-Smirnov tests with a multiplicity correction.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    correction : {"bonferroni", "bh"}
        ``"bonferroni"``: adjusted :math:`\tilde p_j = \min(1, d\,p_j)` and the
        overall p-value :math:`\min(1, d \min_j p_j)` (valid under any
        dependence). ``"bh"``: Benjamini-Hochberg adjusted p-values; the overall
        p-value is their minimum, the Simes test (valid under independence or
        positive dependence).
    alpha : float
        Level at which ``details["rejected"]`` flags features.
    seed : None
        Accepted for a common signature; the test is deterministic.

    Returns
    -------
    TestResult
        ``statistic`` is :math:`\max_j D_j`; ``details`` holds per-feature
        ``statistics``, ``pvalues``, ``adjusted_pvalues`` and ``rejected``.

    Notes
    -----
    :math:`D_j = \sup_x |F_{S,j}(x) - F_{T,j}(x)|` on feature :math:`j`, with
    p-values from :func:`scipy.stats.ks_2samp` (exact for small samples).

    References
    ----------
    Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate.
    *JRSS B*, 57(1), 289-300.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ks_test(rng.normal(size=(100, 3)), rng.normal(size=(100, 3))).pvalue > 0.05
    True
    """
    Xs, Xt = _check_pair(Xs, Xt)
    _check_choice(correction, "correction", ("bonferroni", "bh"))
    alpha = _check_fraction(alpha, "alpha")
    check_random_state(seed)
    res = stats.ks_2samp(Xs, Xt, axis=0)
    D = np.atleast_1d(np.asarray(res.statistic, dtype=np.float64))
    p = np.atleast_1d(np.asarray(res.pvalue, dtype=np.float64))
    d = p.size
    if correction == "bonferroni":
        adj = np.minimum(1.0, d * p)
    else:
        adj = stats.false_discovery_control(p, method="bh")
    overall = float(adj.min())
    details = {"statistics": D.tolist(), "pvalues": p.tolist(), "adjusted_pvalues": adj.tolist(),
               "rejected": (adj <= alpha).tolist(), "alpha": alpha, "correction": correction,
               "n_source": Xs.shape[0], "n_target": Xt.shape[0]}
    return TestResult(float(D.max()), overall, f"ks (per-feature, {correction})", 0, details)


def linear_mmd_test(Xs, Xt, *, bandwidth=None, seed=None) -> TestResult:
    r"""Linear-time MMD test with an asymptotic normal null (Gretton et al. 2012, Sec. 6).

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    bandwidth : float or None
        ``None``: median heuristic on the pooled sample (a fixed subsample of at
        most 4000 pooled rows, so the cost stays linear in ``n``).
    seed : int, Generator or None
        Shuffles the rows before they are paired.

    Returns
    -------
    TestResult
        ``statistic`` is :math:`\widehat{\mathrm{MMD}}^2_l`; ``details`` holds the
        z-score, the number of pairs and the bandwidth.

    Notes
    -----
    With :math:`p = \lfloor \min(n, m)/2 \rfloor` disjoint quadruples,

    .. math:: h_i = k(x_{2i-1},x_{2i}) + k(y_{2i-1},y_{2i}) - k(x_{2i-1},y_{2i}) - k(x_{2i},y_{2i-1}),
              \qquad \widehat{\mathrm{MMD}}^2_l = \frac1p\sum_i h_i,

    an unbiased estimate with i.i.d. terms, so
    :math:`z = \sqrt p\,\overline h / s_h \to N(0,1)` under :math:`H_0`
    and :math:`p\text{-value} = 1 - \Phi(z)`. Cost :math:`O((n+m)d)`; it uses
    only :math:`2p` rows of each sample, so it has less power than the
    quadratic-time test at equal ``n``.

    References
    ----------
    Gretton, A., Borgwardt, K. M., Rasch, M. J., Schölkopf, B., & Smola, A. (2012).
    A kernel two-sample test. *JMLR*, 13, 723-773.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> linear_mmd_test(rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2)) + 0.5, seed=0).pvalue < 0.01
    True
    """
    Xs, Xt = _check_pair(Xs, Xt)
    rng = check_random_state(seed)
    p_pairs = min(Xs.shape[0], Xt.shape[0]) // 2
    if p_pairs < 2:
        raise ValueError(f"linear_mmd_test needs at least 4 rows per sample, got {Xs.shape[0]} and {Xt.shape[0]}")
    if bandwidth is None:
        h, used = _pooled_median(Xs, Xt, max_points=4000)
        rule = f"median heuristic (pooled, {used} rows)"
    else:
        h, rule = _check_bandwidth(bandwidth), "fixed"
    hvals = _linear_mmd_terms(Xs, Xt, h, p_pairs, rng)
    mean = float(hvals.mean())
    sd = float(hvals.std(ddof=1))
    if not sd > 0:
        raise ValueError("linear_mmd_test: the paired terms have zero variance (degenerate data); "
                         "the normal approximation is undefined")
    z = mean / (sd / np.sqrt(p_pairs))
    return TestResult(mean, float(stats.norm.sf(z)), "linear-mmd (linear-time MMD^2, normal approx.)", 0,
                      {"z": z, "n_pairs": p_pairs, "bandwidth": h, "bandwidth_rule": rule,
                       "n_source": Xs.shape[0], "n_target": Xt.shape[0]})


def _linear_mmd_terms(Xs, Xt, h: float, p_pairs: int, rng) -> np.ndarray:
    """The i.i.d. terms :math:`h_i` of the linear-time MMD on shuffled, paired rows."""
    si = rng.permutation(Xs.shape[0])[:2 * p_pairs]
    ti = rng.permutation(Xt.shape[0])[:2 * p_pairs]
    x1, x2 = Xs[si[0::2]], Xs[si[1::2]]
    y1, y2 = Xt[ti[0::2]], Xt[ti[1::2]]
    g = -0.5 / (h * h)

    def k(a, b):
        return np.exp(g * ((a - b) ** 2).sum(1))

    return k(x1, x2) + k(y1, y2) - k(x1, y2) - k(x2, y1)
