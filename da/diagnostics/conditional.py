r"""Class-conditional gaps: is :math:`P_T(x \mid y)` far from :math:`P_S(x \mid y)`?

A small marginal gap can hide classes that moved onto each other; a large one
can be pure label shift. Per-class MMD², with target labels where they exist
and pseudo-labels otherwise, reported next to the marginal MMD².
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from da._validation import check_labels, check_positive_int, check_random_state
from da._validation import check_pair as _check_pair, subsample_rows as _subsample
from da.diagnostics._quadratic import _weighted_mmd2
from da.diagnostics.gaps import _resolve_bandwidth
from da.diagnostics.results import _jsonable

__all__ = ["ConditionalGapResult", "class_conditional_gap"]


@dataclass(frozen=True)
class ConditionalGapResult:
    """Per-class MMD² next to the marginal MMD² (see :func:`class_conditional_gap`)."""

    per_class: dict[int, float]
    marginal: float
    weighted_mean: float
    label_source: str
    bandwidth: float
    counts: dict[int, tuple[int, int]]
    skipped: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _jsonable({"per_class": self.per_class, "marginal": self.marginal,
                          "weighted_mean": self.weighted_mean, "label_source": self.label_source,
                          "bandwidth": self.bandwidth, "counts": self.counts, "skipped": self.skipped})


def class_conditional_gap(Xs, ys, Xt, yt=None, *, pseudo_labels=None, bandwidth=None,
                          max_per_class: int = 2000, seed=0) -> ConditionalGapResult:
    r"""MMD² between source and target within each class, and across all of them.

    Parameters
    ----------
    Xs : array-like of shape (n, d)
    ys : array-like of shape (n,)
        Source labels.
    Xt : array-like of shape (m, d)
    yt : array-like of shape (m,), optional
        Target labels (evaluation data only).
    pseudo_labels : array-like of shape (m,) or (m, K), optional
        Predicted target labels, or class probabilities (their argmax is used),
        when ``yt`` is not available. Exactly one of ``yt``/``pseudo_labels``.
    bandwidth : float or None
        One bandwidth for every class and the marginal so the numbers share a
        scale; ``None``: the median heuristic on the pooled marginal sample.
    max_per_class : int
        Rows per class and domain (and per domain for the marginal) above which
        a seeded subsample is used; the MMD² costs :math:`O(n^2 d)`.
    seed : int, Generator or None

    Returns
    -------
    ConditionalGapResult
        ``per_class[k]`` :math:`= \widehat{\mathrm{MMD}}^2_u(P_S(\cdot\mid k), P_T(\cdot\mid k))`;
        ``weighted_mean`` :math:`= \sum_k \hat q_k\,\mathrm{MMD}^2_k` over the
        classes measured, with :math:`\hat q` the target label frequencies;
        ``marginal``; ``label_source`` is ``"target labels"`` or
        ``"pseudo-labels"``; classes with fewer than 2 rows in either domain
        are in ``skipped`` with the reason.

    Notes
    -----
    With pseudo-labels the conditional gaps are biased towards zero: the
    classifier assigns target points to the source class they resemble most.

    Examples
    --------
    >>> from da.data import GaussianDomain
    >>> src = GaussianDomain([[0.0, 0.0], [4.0, 0.0]], np.eye(2))
    >>> Xs, ys = src.sample(300, seed=0)
    >>> Xt, yt = src.with_prior([0.9, 0.1]).sample(300, seed=1)
    >>> res = class_conditional_gap(Xs, ys, Xt, yt)
    >>> res.marginal > 10 * abs(res.weighted_mean)  # pure label shift
    True
    """
    Xs, Xt = _check_pair(Xs, Xt)
    ys = check_labels(ys, "ys", n_samples=Xs.shape[0])
    if (yt is None) == (pseudo_labels is None):
        raise ValueError("give exactly one of yt (target labels) and pseudo_labels")
    if yt is not None:
        lt, source = check_labels(yt, "yt", n_samples=Xt.shape[0]), "target labels"
    else:
        pl = np.asarray(pseudo_labels)
        if pl.ndim == 2:
            if pl.shape[0] != Xt.shape[0]:
                raise ValueError(f"pseudo_labels has {pl.shape[0]} rows but Xt has {Xt.shape[0]}")
            if not np.isfinite(pl).all():
                raise ValueError("pseudo_labels contains NaN or inf values")
            pl = pl.argmax(1)
        lt, source = check_labels(pl, "pseudo_labels", n_samples=Xt.shape[0]), "pseudo-labels"
    cap = check_positive_int(max_per_class, "max_per_class", minimum=2)
    rng = check_random_state(seed)
    h, _ = _resolve_bandwidth(Xs, Xt, bandwidth)
    Ms, Mt = _subsample(Xs, cap, rng), _subsample(Xt, cap, rng)
    marginal = float(_weighted_mmd2(Ms, Mt, h)[0])
    per_class, counts, skipped = {}, {}, {}
    for k in np.union1d(np.unique(ys), np.unique(lt)).tolist():
        a, b = Xs[ys == k], Xt[lt == k]
        counts[k] = (int(a.shape[0]), int(b.shape[0]))
        if min(a.shape[0], b.shape[0]) < 2:
            skipped[k] = f"fewer than 2 rows (source {a.shape[0]}, target {b.shape[0]})"
            continue
        per_class[k] = float(_weighted_mmd2(_subsample(a, cap, rng), _subsample(b, cap, rng), h)[0])
    if per_class:
        w = np.array([counts[k][1] for k in per_class], dtype=np.float64)
        mean = float(np.dot(w / w.sum(), list(per_class.values())))
    else:
        mean = float("nan")
    return ConditionalGapResult(per_class, marginal, mean, source, h, counts, skipped)
