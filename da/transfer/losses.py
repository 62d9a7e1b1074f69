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

__all__ = ["LossTerm", "make_alignment", "alignment_defaults", "as_terms", "ALIGN_METHODS",
           "ALIGNMENT_DEFAULTS_REVISION", "describe_terms"]

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


# features narrower than this get the small-feature defaults of make_alignment
_SMALL_FEATURES = 256

#: Revision of the rules in :func:`alignment_defaults`. Experiment run ids hash it
#: (:func:`da.experiments.config.config_hash`), so that a sweep resumed after the
#: defaults change trains again instead of reading back runs built with the old
#: ones. Bump it whenever :func:`alignment_defaults` returns something new.
#: 1: the loss classes' own defaults; 2: discriminators sized to the features,
#: CDAN's randomized map, Sinkhorn's median-relative reg; 3: Sinkhorn solved by
#: :func:`da.align.symmetric_sinkhorn` (``method="symmetric"``).
ALIGNMENT_DEFAULTS_REVISION = 3


def _discriminator_width(in_features: int) -> int:
    return max(int(in_features), 100)


def alignment_defaults(name: str, in_features: int, n_classes: int) -> dict:
    """The constructor arguments :func:`make_alignment` adds to the loss class's own defaults.

    See :func:`make_alignment` for the rules and their reasons. Returns a new
    dict (empty where the class defaults are used as they are).

    Examples
    --------
    >>> alignment_defaults("dann", 128, 10)
    {'hidden': (128,)}
    >>> alignment_defaults("dann", 2048, 31)
    {}
    """
    if name in ("dann", "cdan") and in_features < _SMALL_FEATURES:
        w = _discriminator_width(in_features)
        out = {"hidden": (w,)}
        if name == "cdan" and in_features * n_classes > w:
            out.update(randomized=True, random_dim=w)
        return out
    if name == "sinkhorn":
        return {"scale": "median", "tol": 1e-4, "method": "symmetric"}
    return {}


def make_alignment(name: str, in_features: int, n_classes: int, seed=0, **kwargs) -> nn.Module:
    """Build a :mod:`da.align` loss from its short name, with defaults sized to the features.

    This is what every name-based spelling builds: ``finetune(..., losses="dann")``,
    ``DomainAdaptationClassifier(align="dann")`` and ``method: dann`` in a
    config. The loss classes keep the defaults of their papers; for a name,
    the arguments of :func:`alignment_defaults` are added (``kwargs`` win):

    - ``dann``, ``cdan`` with ``in_features < 256``:
      a discriminator with **one hidden layer of** ``w = max(in_features, 100)``
      units instead of the classes' (1024, 1024). The papers use (1024, 1024)
      on 256-d bottleneck or wider CNN features (Office, VisDA); DANN's digit
      experiments use one layer of 100 units. On the 128-d features of the
      quickstart MLP, (1024, 1024) has ~25x the parameters of the model it
      regularises and made a DANN epoch cost 7x a source-only epoch (CDAN 13x);
      one layer of 128 costs about 2x and reached the same or better target
      accuracy (``benchmarks/train_speed.py``, ``docs/benchmarks.md``).
      Wider features keep (1024, 1024).
    - ``cdan`` with small features, when ``in_features * n_classes > w``: the
      randomized multilinear map of CDAN with ``random_dim = w``, so the
      discriminator's input is as wide as the features (the exact map would
      be ``in_features * n_classes`` wide, 1280 for 128 features and 10
      classes). The paper uses the randomized map (1024-d) for wide maps.
    - ``sinkhorn``: ``scale="median"`` (``reg`` = 0.1 is relative to the median
      squared distance, so the same setting works at any feature scale; an
      absolute 0.1 is near-unregularised OT on pretrained features, which
      does not converge in 1000 iterations), ``tol=1e-4`` (marginal violation;
      the divergence moves by < 1e-5 relative against a converged solve on
      MNIST features, far below the minibatch noise) and ``method="symmetric"``
      (our solver, :func:`da.align.symmetric_sinkhorn`: the symmetric update of
      the two self terms and ε-scaling; about 3x faster than POT's batched solve
      and the same value to the tolerance, ``docs/benchmarks.md``).
    - The other names use their class defaults.

    The arguments are recorded: the trainer writes every loss's constructor
    arguments to the resolved config (``config["losses"][i]["params"]``).

    Parameters
    ----------
    name : {"mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd"}
    in_features : int
        Feature width (discriminators need it).
    n_classes : int
    seed : int
        Seeds discriminators and projections.
    **kwargs
        Passed to the loss's constructor; they override the name-based defaults.
    """
    import da.align as A

    seed = int(seed) if seed is not None else None
    if name not in ALIGN_METHODS:
        raise ValueError(f"unknown alignment {name!r}; valid: None, {', '.join(ALIGN_METHODS)}, a da.align "
                         "loss module or a list of (loss, weight) pairs")
    kwargs = {**alignment_defaults(name, in_features, n_classes), **kwargs}
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
    return A.SlicedWassersteinLoss(seed=seed, **kwargs)


def _loss_params(loss: nn.Module) -> dict:
    """The constructor arguments of a :mod:`da.align` loss, as JSON values (for records).

    The losses store their arguments unchanged under the same names; tuples
    become lists, and values JSON cannot hold (a callable schedule, a numpy
    Generator seed) their ``repr``.
    """
    import inspect

    out = {}
    for p in inspect.signature(type(loss).__init__).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or not hasattr(loss, p.name):
            continue
        out[p.name] = _json_value(getattr(loss, p.name))
    return out


def _json_value(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if isinstance(v, (tuple, list)):
        return [_json_value(x) for x in v]
    return repr(v)


def _name_of(loss: nn.Module) -> str:
    """A loss module's record name: its registry name (:data:`da._names.LOSS_CLASSES`), else the
    lower-cased class name without ``Loss``."""
    from da._names import LOSS_CLASSES

    n = type(loss).__name__
    by_class = {v: k for k, v in LOSS_CLASSES.items()}
    return by_class.get(n) or (n[:-4] if n.endswith("Loss") else n).lower() or "loss"


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


def describe_terms(terms) -> list[dict]:
    """What a run records of its loss terms: name, class, weight, constructor arguments, repr."""
    return [{"name": t.name, "class": type(t.loss).__name__, "weight": t.describe(),
             "params": _loss_params(t.loss), "repr": repr(t.loss)} for t in terms]
