"""Result records returned by the two-sample tests and the gap metrics.

Both are small frozen dataclasses in the style of :mod:`scipy.stats` results:
plain fields, no behaviour beyond conversion to a dict of JSON-ready values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from da._json import to_jsonable

__all__ = ["TestResult", "GapResult"]


# numpy scalars/arrays and tuples -> plain Python, recursively; other objects pass through
_jsonable = functools.partial(to_jsonable, strict=False)


@dataclass(frozen=True)
class TestResult:
    """Outcome of a two-sample test of :math:`H_0: P_S = P_T`.

    Attributes
    ----------
    statistic : float
        The test statistic (its meaning depends on ``method``).
    pvalue : float
        Always in ``(0, 1]``; permutation p-values are
        :math:`(1 + \\#\\{T_b \\ge T\\}) / (B + 1)`.
    method : str
        Which test and estimator produced the numbers.
    n_permutations : int
        ``B``; 0 for tests with an analytic null distribution.
    details : dict
        Test-specific extras (bandwidths, per-feature p-values, sample sizes).

    Like scipy's results, it unpacks as ``statistic, pvalue = result``.
    """

    __test__ = False  # not a pytest test class, despite the name

    statistic: float
    pvalue: float
    method: str
    n_permutations: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):
        return iter((self.statistic, self.pvalue))

    def to_dict(self) -> dict:
        return {"statistic": float(self.statistic), "pvalue": float(self.pvalue),
                "method": self.method, "n_permutations": int(self.n_permutations),
                "details": _jsonable(self.details)}


@dataclass(frozen=True)
class GapResult:
    """A distribution-gap estimate with a bootstrap confidence interval.

    Attributes
    ----------
    value : float
        The point estimate on the full (or stated) sample.
    ci : tuple of float or None
        Interval ``(low, high)`` at ``confidence``: a bootstrap interval
        (``details["ci_method"]``: percentile or bias-corrected), or for the
        block MMD² (``method="mmd2/block"``, ``n_bootstrap == 0``) a normal
        interval over the block estimates. ``None`` when there is none.
    n_bootstrap : int
    method : str
        The estimator actually used (e.g. ``"wasserstein/emd2"``).
    confidence : float
    details : dict
    """

    value: float
    ci: tuple[float, float] | None
    n_bootstrap: int
    method: str
    confidence: float = 0.95
    details: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)

    def to_dict(self) -> dict:
        return {"value": float(self.value),
                "ci": None if self.ci is None else [float(self.ci[0]), float(self.ci[1])],
                "n_bootstrap": int(self.n_bootstrap), "method": self.method,
                "confidence": float(self.confidence), "details": _jsonable(self.details)}
