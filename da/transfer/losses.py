r"""Loss terms of the fine-tuning objective: named alignment losses and their weights.

The objective is

.. math::

    \mathcal{L}(p) = \mathrm{CE}_S + w_T\,\mathrm{CE}_{T,\mathrm{labelled}}
        + \sum_i \lambda_i(p)\,L_i(f_s, f_t) \;[+\;\Omega_{\mathrm{L2\text{-}SP}}]

with :math:`p \in [0, 1]` the training progress. A term is a
:class:`LossTerm`: a name, an alignment loss from :mod:`da.align` (shared call
``loss(fs, ft, *, logits_s, logits_t, ys, p)``) and a weight that is a number
or a schedule ``p -> lambda`` (:func:`da.align.make_schedule`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable

from torch import nn

__all__ = ["LossTerm", "make_alignment", "as_terms", "ALIGN_METHODS"]

ALIGN_METHODS = ("mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd")


@dataclass
class LossTerm:
    """One weighted term ``lambda(p) * loss(...)`` of the objective."""

    name: str
    loss: nn.Module
    weight: object = 1.0

    def __post_init__(self):
        from da.align import make_schedule

        if not isinstance(self.loss, nn.Module):
            raise ValueError(f"loss term {self.name!r} must be an nn.Module, got {type(self.loss).__name__}")
        self.schedule: Callable[[float], float] = make_schedule(self.weight)

    def describe(self):
        w = self.weight
        return w if isinstance(w, (numbers.Real, str)) else getattr(w, "__name__", repr(w))


def make_alignment(name: str, in_features: int, n_classes: int, seed=0, **kwargs) -> nn.Module:
    """Build a :mod:`da.align` loss from its short name.

    Parameters
    ----------
    name : {"mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd"}
    in_features : int
        Feature width (discriminators need it).
    n_classes : int
    seed : int
        Seeds discriminators and projections.
    **kwargs
        Passed to the loss's constructor.
    """
    import da.align as A

    seed = int(seed) if seed is not None else None
    if name == "mmd":
        return A.MMDLoss(**kwargs)
    if name == "dann":
        return A.DANNLoss(in_features, seed=seed, **kwargs)
    if name == "cdan":
        return A.CDANLoss(in_features, n_classes, seed=seed, **kwargs)
    if name == "jdot":
        return A.JDOTLoss(**kwargs)
    if name == "coral":
        return A.CORALLoss(**kwargs)
    if name == "sinkhorn":
        return A.SinkhornLoss(**kwargs)
    if name == "swd":
        return A.SlicedWassersteinLoss(seed=seed, **kwargs)
    raise ValueError(f"unknown alignment {name!r}; valid: None, {', '.join(ALIGN_METHODS)}, a da.align "
                     "loss module or a list of (loss, weight) pairs")


def _name_of(loss: nn.Module) -> str:
    n = type(loss).__name__
    return (n[:-4] if n.endswith("Loss") else n).lower() or "loss"


def as_terms(losses, *, in_features: int | None = None, n_classes: int | None = None, seed=0,
             weight=1.0) -> list[LossTerm]:
    """Normalise every accepted spelling of the alignment terms to a list of :class:`LossTerm`.

    Accepts None, a name from :data:`ALIGN_METHODS`, a loss module, a
    :class:`LossTerm`, or a list of any of: module, ``(loss, weight)``,
    ``(name, loss, weight)``, where ``loss`` may be a module or a name.
    Bare modules and names get ``weight``. Names are made unique (``mmd``, ``mmd_1``).
    """
    if losses is None:
        return []
    if isinstance(losses, (str, nn.Module, LossTerm)):
        losses = [losses]
    if isinstance(losses, tuple) and len(losses) in (2, 3) and not isinstance(losses[-1], (nn.Module, tuple)) \
            and isinstance(losses[-2], (nn.Module, str)):
        losses = [losses]
    terms, seen = [], {}
    for item in losses:
        name = None
        if isinstance(item, LossTerm):
            terms.append(item)
            continue
        if isinstance(item, (str, nn.Module)):
            loss, w = item, weight
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            loss, w = item
        elif isinstance(item, (tuple, list)) and len(item) == 3:
            name, loss, w = item
        else:
            raise ValueError(f"cannot read loss term {item!r}: use a loss module, (loss, weight) or "
                             "(name, loss, weight)")
        if isinstance(loss, str):
            if in_features is None or n_classes is None:
                raise ValueError(f"alignment {loss!r} given by name needs in_features and n_classes")
            name = name or loss
            loss = make_alignment(loss, in_features, n_classes, seed)
        name = name or _name_of(loss)
        terms.append(LossTerm(name, loss, w))
    for t in terms:
        k = seen.get(t.name, 0)
        seen[t.name] = k + 1
        if k:
            t.name = f"{t.name}_{k}"
    return terms
