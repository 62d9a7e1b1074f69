r"""An ensemble of trained models as one :class:`~da.transfer.FeaturizerHead`.

:func:`softmax_ensemble` averages the members' class probabilities,

.. math:: \bar p(y \mid x) = \sum_m w_m\, \mathrm{softmax}(f_m(x))_y, \qquad \sum_m w_m = 1,

and returns :math:`\log \bar p` as its logits, so ``argmax``, ``softmax`` and every selection
criterion read the ensemble's prediction as they read one model's. Its features are the members'
features side by side (``(n, sum_m d_m)``). ``align="auto"`` builds one with ``rule="ensemble"``
(:mod:`da.transfer.auto`).
"""

from __future__ import annotations

import torch
from torch import nn

from da._names import AUTO_TOP_ENSEMBLE
from da.transfer.models import FeaturizerHead
from da.transfer.source_guard import source_guard

__all__ = ["ENSEMBLE_RULES", "ensemble_members", "is_ensemble_rule", "parse_top_rule",
           "softmax_ensemble"]

#: the rules of ``align="auto"`` that average the softmax outputs of the guarded candidates instead of
#: choosing one (:func:`ensemble_members`): ``"ensemble"`` (source-only included), ``"ensemble_aligned"``;
#: besides them, ``"ensemble_top{k}:{criterion}"`` (:func:`parse_top_rule`) averages the k guarded candidates
#: with the highest label-free score
ENSEMBLE_RULES = ("ensemble", "ensemble_aligned")


def parse_top_rule(rule):
    """``(k, criterion)`` of a rule spelled ``"ensemble_top{k}:{criterion}"`` (``k >= 1``), else ``None``.

    >>> parse_top_rule("ensemble_top3:bnm"), parse_top_rule("ensemble")
    ((3, 'bnm'), None)
    """
    if not (isinstance(rule, str) and rule.startswith(AUTO_TOP_ENSEMBLE)):
        return None
    k, sep, criterion = rule[len(AUTO_TOP_ENSEMBLE):].partition(":")
    if not (sep and k.isdigit() and int(k) >= 1 and criterion):
        raise ValueError(f"spell a top-k ensemble {AUTO_TOP_ENSEMBLE}K:CRITERION with an integer K >= 1 "
                         f"(e.g. {AUTO_TOP_ENSEMBLE}3:bnm), got {rule!r}")
    return int(k), criterion


def is_ensemble_rule(rule) -> bool:
    """Whether ``rule`` averages candidates (:data:`ENSEMBLE_RULES` or a top-k ensemble) rather than picking one."""
    return isinstance(rule, str) and (rule in ENSEMBLE_RULES or parse_top_rule(rule) is not None)


class _Concat(nn.Module):
    """The members' featurizers, their outputs concatenated along the feature axis."""

    def __init__(self, featurizers):
        super().__init__()
        self.members = nn.ModuleList(featurizers)

    def forward(self, x):
        return torch.cat([f(x) for f in self.members], dim=1)


class _MeanProbaHead(nn.Module):
    """The members' heads on their slices of the concatenated features; the log of the weighted mean softmax."""

    def __init__(self, heads, widths, weights):
        super().__init__()
        self.members = nn.ModuleList(heads)
        self.widths = tuple(int(w) for w in widths)
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float64))

    def forward(self, f):
        parts = torch.split(f, self.widths, dim=1)
        logp = torch.stack([torch.log_softmax(h(z), dim=1) for h, z in zip(self.members, parts)])
        logw = torch.log(self.weights).to(logp.dtype).view(-1, 1, 1)
        return torch.logsumexp(logp + logw, dim=0)  # log sum_m w_m p_m, stable


def softmax_ensemble(models, weights=None, *, example=None) -> FeaturizerHead:
    """One model that predicts the weighted mean of the members' softmax outputs.

    Parameters
    ----------
    models : sequence of FeaturizerHead
        The members (used as they are, not copied; at least one).
    weights : sequence of float, optional
        Non-negative, not all zero; normalised to sum to 1. Default: equal weights.
    example : array-like or Tensor, optional
        One or more input rows, to measure each member's feature width (images: ``(n, C, H, W)``).
        Default: one zero row as wide as the first member's first ``nn.Linear``.

    Returns
    -------
    FeaturizerHead
        Logits :math:`\\log \\bar p`; features the members' features side by side.

    Examples
    --------
    >>> from da.transfer.models import FeaturizerHead, mlp
    >>> a, b = (FeaturizerHead(*mlp(4, hidden=(8,), n_classes=3, seed=s)) for s in (0, 1))
    >>> ens = softmax_ensemble([a, b])
    >>> p = torch.softmax(ens(torch.zeros(2, 4)), 1)
    >>> bool(torch.allclose(p, (torch.softmax(a(torch.zeros(2, 4)), 1) + torch.softmax(b(torch.zeros(2, 4)), 1)) / 2))
    True
    """
    models = list(models)
    if not models:
        raise ValueError("models must hold at least one model")
    w = torch.ones(len(models), dtype=torch.float64) if weights is None else torch.as_tensor(
        weights, dtype=torch.float64).flatten()
    if w.numel() != len(models):
        raise ValueError(f"weights must have one entry per model ({len(models)}), got {w.numel()}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
    devices = sorted({str(p.device) for m in models for p in m.parameters()})
    if len(devices) > 1:
        raise ValueError(f"models must all be on one device, got parameters on {', '.join(devices)}; move them "
                         "with .to(device) first")
    p0 = next(models[0].parameters())
    if example is None:
        lin = next((m for m in models[0].featurizer.modules() if isinstance(m, nn.Linear)), None)
        if lin is None:
            raise ValueError("example is needed: the first model's featurizer has no nn.Linear to read the "
                             "input width from")
        probe = torch.zeros(1, lin.in_features, dtype=p0.dtype, device=p0.device)
    else:
        probe = torch.as_tensor(example)[:1].to(device=p0.device, dtype=p0.dtype)
    widths = []
    for m in models:
        was = m.training
        m.eval()
        with torch.no_grad():
            widths.append(m.featurizer(probe).shape[1])
        m.train(was)
    head = _MeanProbaHead([m.head for m in models], widths, w / w.sum()).to(p0.device)
    return FeaturizerHead(_Concat([m.featurizer for m in models]), head)


def ensemble_members(records: list, *, rule="ensemble", tolerance: float | None) -> tuple:
    r"""The candidates an ensemble rule averages, and why.

    ``records`` are ``align="auto"``'s candidate records (:func:`da.transfer.auto.auto_select`).
    ``"ensemble"``: every candidate whose held-out source accuracy is within ``tolerance`` of
    source-only's (the source guard of :func:`da.transfer.auto.choose`; ``None``: every candidate), source-only
    included; ``"ensemble_aligned"``: the same less source-only (source-only alone if no aligned
    candidate passes); ``"ensemble_top{k}:{criterion}"``: the k guarded candidates with the highest
    ``criterion`` score (higher is better; a tie keeps the earlier candidate; all of them if fewer
    than k pass), source-only among them if it ranks. A diverged candidate is never a member.

    Returns
    -------
    (names, reason) : (list of str, str)
    """
    top = parse_top_rule(rule)
    if rule not in ENSEMBLE_RULES and top is None:
        raise ValueError(f"rule must be one of {', '.join(ENSEMBLE_RULES)} or '{AUTO_TOP_ENSEMBLE}K:CRITERION', "
                         f"got {rule!r}")
    _, guarded, why = source_guard(records, tolerance)
    if top is not None:
        k, crit = top
        missing = [r["name"] for r in guarded if crit not in r["scores"]]
        if missing:
            raise ValueError(f"rule {rule!r}: candidates {missing} have no {crit!r} score")
        ranked = sorted(guarded, key=lambda r: -r["scores"][crit])[:k]  # stable: a tie keeps the earlier one
        names = [r["name"] for r in ranked]
        return names, why + (f"; {rule}: the mean softmax output of the {len(names)} highest by {crit} ("
                             + ", ".join(f"{r['name']} {r['scores'][crit]:.4g}" for r in ranked) + ")")
    names = [r["name"] for r in guarded]
    if rule == "ensemble_aligned":
        names = [n for n in names if n != "source_only"] or ["source_only"]
    return names, why + f"; {rule}: the mean softmax output of {', '.join(names)}"
