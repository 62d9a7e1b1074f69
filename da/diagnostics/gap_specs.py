r"""The table of gap metrics, and :func:`gap`: any metric with a bootstrap interval.

Each metric of :mod:`da.diagnostics.gaps` is declared once here, as a
:class:`GapSpec`: its public function, its keyword defaults, how to compute its
value on already-checked arrays (what :class:`~da.diagnostics.GapTracker`
calls every few epochs), how to bootstrap it (what :func:`gap` calls), and the
rule :func:`~da.diagnostics.shift_report` applies above ``max_exact`` rows.
:data:`GAP_METRICS` is the tuple of its names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from da._lazy import lazy_module
from da._validation import check_positive_int, check_random_state
from da.diagnostics import gaps as G
from da.diagnostics._classifier import _held_out_predictions
from da._validation import check_choice as _check_choice, check_fraction as _check_fraction, check_pair as _check_pair
from da.diagnostics._quadratic import _mmd2_pooled, _weighted_energy, _weighted_mmd2
from da.diagnostics._resample import (CI_METHODS, _block_mmd2, _coral_bootstrap, _counts,
                                      _interval_result)
from da.diagnostics.results import GapResult

stats = lazy_module("scipy.stats")

__all__ = ["GapSpec", "GAP_SPECS", "GAP_METRICS", "gap"]


@dataclass(frozen=True)
class GapSpec:
    """One gap metric: what computes it, its defaults, its bootstrap and its large-sample rule.

    Attributes
    ----------
    name : str
    function : callable
        The public ``metric(Xs, Xt, **options) -> float``.
    defaults : dict
        The options ``gap(..., metric, **options)`` accepts, with their defaults.
    value : callable
        ``value(Xs, Xt, rng, **options) -> float`` on checked float64 arrays.
    estimate : callable
        ``estimate(Xs, Xt, n_bootstrap, rng, **options) -> (value, replicates, estimator, details)``,
        or a finished :class:`GapResult` (the block MMD², whose interval is not a bootstrap).
    large_sample : {"block", "subsample", "metric", "classifier", "none"}
        What :func:`~da.diagnostics.shift_report` does above ``max_exact`` rows per domain:
        the block estimator on all rows, a seeded subsample, the metric's own
        ``max_exact`` switch, a classifier on ``max_fit`` rows, or nothing (linear cost).
    bootstrap_solves : bool
        True when each bootstrap replicate re-solves the problem (shift_report
        skips it unless ``bootstrap_ot=True``).
    nonnegative : bool
        The metric is >= 0 (a bias-corrected interval is clipped at 0).
    scale_dependent : bool
        It shrinks when the features are rescaled by :math:`c < 1` (flagged by ``compare``).
    """

    name: str
    function: Callable
    defaults: dict
    value: Callable
    estimate: Callable
    large_sample: str
    bootstrap_solves: bool = False
    nonnegative: bool = True
    scale_dependent: bool = field(default=True)


# --- values on checked arrays (the tracker's per-epoch path) ------------------------------

def _mmd2_value(Xs, Xt, rng, bandwidth=None, block_size=None):  # the tracker measures exactly
    return float(_mmd2_pooled(Xs, Xt, G._resolve_bandwidth(Xs, Xt, bandwidth)[0]))


def _energy_value(Xs, Xt, rng):
    return float(np.sqrt(max(0.0, float(_weighted_energy(Xs, Xt)[0]))))


def _wasserstein_value(Xs, Xt, rng, **w):
    return G._wasserstein(Xs, Xt, w["method"], w["max_exact"], w["reg"], w["n_projections"], rng)[0]


def _pad_value(Xs, Xt, rng, estimator=None, test_size=0.5):
    pred, y, _ = _held_out_predictions(Xs, Xt, estimator, test_size, rng)
    return G._pad(pred, y)


# --- estimates with bootstrap replicates (gap's path) --------------------------------------

def _weights(rng, n, m, B):
    """Count columns of the plain statistic (all ones) and of B multinomial resamples."""
    return (np.concatenate([np.ones((n, 1)), _counts(rng, n, B)], axis=1),
            np.concatenate([np.ones((m, 1)), _counts(rng, m, B)], axis=1))


def _mmd2_estimate(Xs, Xt, B, rng, *, confidence, bandwidth=None, block_size=None):
    h, rule = G._resolve_bandwidth(Xs, Xt, bandwidth)
    details = {"bandwidth": h, "bandwidth_rule": rule}
    if block_size is not None:
        block = check_positive_int(block_size, "block_size", minimum=2)
        value, se, nb = _block_mmd2(Xs, Xt, h, block, rng)
        z = stats.norm.ppf((1 + confidence) / 2)
        ci = (float(value - z * se), float(value + z * se)) if nb > 1 else None
        details.update(n_source=Xs.shape[0], n_target=Xt.shape[0], n_blocks=nb, block_size=block,
                       standard_error=se, ci_rule="normal over i.i.d. block estimates")
        return GapResult(value, ci, 0, "mmd2/block", confidence, details)
    vals = _weighted_mmd2(Xs, Xt, h, *_weights(rng, Xs.shape[0], Xt.shape[0], B))
    return vals[0], vals[1:], "unbiased", details


def _energy_estimate(Xs, Xt, B, rng, *, confidence):
    vals = np.sqrt(np.clip(_weighted_energy(Xs, Xt, *_weights(rng, Xs.shape[0], Xt.shape[0], B)), 0.0, None))
    return vals[0], vals[1:], "V-statistic", {}


def _coral_estimate(Xs, Xt, B, rng, *, confidence):
    reps, groups = _coral_bootstrap(Xs, Xt, B, rng)
    return G._coral(Xs, Xt), reps, None, {"bootstrap_groups": groups}


def _sliced_estimate(Xs, Xt, B, rng, *, confidence, n_projections):
    L = check_positive_int(n_projections, "n_projections")
    n, m = Xs.shape[0], Xt.shape[0]
    proj_seed = G._int_seed(rng)  # the same directions for every resample
    theta = G._projections(Xs.shape[1], L, proj_seed)
    Ps, Pt = Xs @ theta, Xt @ theta
    grid = G._quantile_grid(n, m)
    reps = [G._sliced_from_projected(Ps[rng.integers(0, n, n)], Pt[rng.integers(0, m, m)], grid)
            for _ in range(B)]
    return G._sliced(Xs, Xt, L, proj_seed), reps, None, {"n_projections": L}


def _wasserstein_estimate(Xs, Xt, B, rng, *, confidence, **w):
    r"""One solve on the data, then B on resamples of it.

    Above ``max_exact`` the value is exact OT on one seeded subsample of
    ``max_exact`` rows per domain, and each replicate solves a fresh bootstrap
    resample of that many rows drawn from all rows, so the interval covers the
    subsampling as well as the sampling noise.
    """
    n, m = Xs.shape[0], Xt.shape[0]
    w_seed = G._int_seed(rng)

    def solve(a, b):
        return G._wasserstein(a, b, w["method"], w["max_exact"], w["reg"], w["n_projections"],
                              np.random.default_rng(w_seed))
    value, used, info = solve(Xs, Xt)
    if used == "emd2-subsample":
        s, t = info["n_source"], info["n_target"]
        reps = [G._emd_w2(Xs[rng.integers(0, n, s)], Xt[rng.integers(0, m, t)]) for _ in range(B)]
        info = {**info, "subsample_size": (s, t),
                "interval_rule": "bootstrap resamples of the subsample size from all rows"}
    else:
        reps = [solve(Xs[rng.integers(0, n, n)], Xt[rng.integers(0, m, m)])[0] for _ in range(B)]
    return value, reps, used, info


def _pad_estimate(Xs, Xt, B, rng, *, confidence, estimator=None, test_size=0.5):
    test_size = _check_fraction(test_size, "test_size")
    pred, y, info = _held_out_predictions(Xs, Xt, estimator, test_size, rng)
    i0, i1 = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    reps = []
    for _ in range(B):
        idx = np.concatenate([rng.choice(i0, i0.size), rng.choice(i1, i1.size)])
        reps.append(G._pad(pred[idx], y[idx]))
    return G._pad(pred, y), reps, "held-out", info


# --- the table -----------------------------------------------------------------------------

GAP_SPECS = {spec.name: spec for spec in (
    GapSpec("mmd2", G.mmd2, {"bandwidth": None, "block_size": None}, _mmd2_value, _mmd2_estimate,
            "block", nonnegative=False, scale_dependent=False),
    GapSpec("energy_distance", G.energy_distance, {}, _energy_value, _energy_estimate, "subsample"),
    GapSpec("coral_distance", G.coral_distance, {}, lambda Xs, Xt, rng: G._coral(Xs, Xt),
            _coral_estimate, "none"),
    GapSpec("wasserstein", G.wasserstein, dict(G.WASSERSTEIN_DEFAULTS), _wasserstein_value,
            _wasserstein_estimate, "metric", bootstrap_solves=True),
    GapSpec("sliced_wasserstein", G.sliced_wasserstein, {"n_projections": 200},
            lambda Xs, Xt, rng, n_projections: G._sliced(Xs, Xt, n_projections, G._int_seed(rng)),
            _sliced_estimate, "subsample"),
    GapSpec("proxy_a_distance", G.proxy_a_distance, {"estimator": None, "test_size": 0.5}, _pad_value,
            _pad_estimate, "classifier", scale_dependent=False),
)}

#: Names accepted by :func:`gap`, :func:`~da.diagnostics.shift_report` and
#: :class:`~da.diagnostics.GapTracker`.
GAP_METRICS = tuple(GAP_SPECS)


def _options(spec: GapSpec, kwargs: dict) -> dict:
    """The spec's defaults overridden by the caller's keywords; unknown keywords are an error."""
    extra = sorted(set(kwargs) - set(spec.defaults))
    if extra:
        raise ValueError(f"unexpected argument(s) for metric {spec.name!r}: {', '.join(extra)}; "
                         f"it accepts: {', '.join(spec.defaults) or 'none'}")
    return {**spec.defaults, **kwargs}


def gap(Xs, Xt, metric: str = "mmd2", *, n_bootstrap: int = 200, confidence: float = 0.95,
        ci_method: str = "percentile", seed=None, **kwargs) -> GapResult:
    r"""A gap metric with a bootstrap interval and the estimator it used.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    Xt : array-like of shape (m, d)
    metric : str
        One of :data:`GAP_METRICS`.
    n_bootstrap : int
        Bootstrap resamples (0: no interval); source and target rows are
        resampled independently.
    confidence : float in (0, 1)
    ci_method : {"percentile", "bias-corrected"}
        ``"percentile"``: :math:`[\hat\theta^*_{(\alpha/2)}, \hat\theta^*_{(1-\alpha/2)}]`
        (Efron & Tibshirani 1993). ``"bias-corrected"``: that interval shifted
        down by the bootstrap bias :math:`\bar\theta^* - \hat\theta` (clipped
        at 0 for non-negative metrics).
    seed : int, Generator or None
        Drives the bootstrap and the metric's own randomness.
    **kwargs
        The metric's options (``GAP_SPECS[metric].defaults``: ``bandwidth``,
        ``method``, ``max_exact``, ``n_projections``, ``estimator`` ...).
        ``metric="mmd2"`` also accepts ``block_size``: the linear-memory block
        estimator of Zaremba et al. (2013) on all rows, with a normal interval
        from the block-to-block spread instead of a bootstrap.

    Returns
    -------
    GapResult
        ``method`` is ``"<metric>/<estimator>"``; ``details`` holds the sizes,
        the options used and ``bootstrap_bias``.

    Notes
    -----
    ``mmd2`` and ``energy_distance`` evaluate all resamples at once as weighted
    quadratic forms of one kernel (distance) pass; a repeated row is never
    paired with itself in the MMD's within-sample terms. ``proxy_a_distance``
    fits its classifier once and resamples the held-out predictions (the
    interval covers test-set noise, not refitting). ``wasserstein`` solves
    every resample; above ``max_exact`` rows the estimate is exact OT on a
    seeded subsample (``details["subsample_size"]``) and the resamples have
    the subsample's size, so the interval shows what subsampling leaves open.

    Plug-in metrics that are (square roots of) squared norms — CORAL, energy
    distance, (sliced) Wasserstein — are biased upwards, and resampling adds
    the same bias again, so near zero the percentile interval can lie entirely
    above the estimate; ``ci_method="bias-corrected"`` removes it (Efron &
    Tibshirani 1993, Ch. 10).

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
    _check_choice(ci_method, "ci_method", CI_METHODS)
    Xs, Xt = _check_pair(Xs, Xt)
    B = check_positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    confidence = _check_fraction(confidence, "confidence")
    rng = check_random_state(seed)
    spec = GAP_SPECS[metric]
    out = spec.estimate(Xs, Xt, B, rng, confidence=confidence, **_options(spec, kwargs))
    if isinstance(out, GapResult):
        return out
    value, reps, estimator, info = out
    details = {"n_source": Xs.shape[0], "n_target": Xt.shape[0], **info}
    method = metric if estimator is None else f"{metric}/{estimator}"
    return _interval_result(value, reps, B, method, confidence, details, ci_method, spec.nonnegative)
