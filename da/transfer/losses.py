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

import math
import numbers
from dataclasses import dataclass
from typing import Callable

from torch import nn

from da._names import LOSSES
from da.transfer.recipes import (  # noqa: F401 (re-exported)
    COMBINATIONS, METHOD_RECIPES, method_of, method_of_terms, method_recipe)

__all__ = ["LossTerm", "FeatureScaleNormalized", "check_weight", "make_alignment", "METHOD_RECIPES",
           "method_recipe", "method_of", "alignment_defaults", "as_terms", "ALIGN_METHODS",
           "ALIGNMENT_DEFAULTS_REVISION", "describe_terms"]

ALIGN_METHODS = LOSSES  # the loss names of da._names


#: progress values at which a weight schedule is probed when its term is built
_PROBE_PROGRESS = (0.0, 0.25, 0.5, 0.75, 1.0)


def check_weight(weight, name: str = "weight") -> Callable[[float], float]:
    """The schedule ``p -> lambda`` of a term weight, refusing weights that are negative or NaN.

    A negative alignment weight *maximises* the divergence, so a number must be
    finite and ``>= 0``; a schedule (a name or a callable ``p -> lambda``) is
    probed at ``p`` in :data:`_PROBE_PROGRESS` when the term is built and
    checked again at every step.

    Raises
    ------
    ValueError
        Naming ``name`` and the offending value (and ``p`` for a schedule).
    """
    from da.align import make_schedule

    if isinstance(weight, numbers.Real) and not isinstance(weight, bool):
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"{name} must be a finite number >= 0 (a negative alignment weight maximises "
                             f"the divergence), got {weight!r}")
    try:
        inner = make_schedule(weight)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None

    def schedule(p: float) -> float:
        v = inner(p)
        if v < 0:
            raise ValueError(f"{name} schedule returned {v!r} at p={p}: a negative alignment weight "
                             "maximises the divergence; weights must be >= 0")
        return v

    for p in _PROBE_PROGRESS:
        schedule(p)
    return schedule


@dataclass
class LossTerm:
    """One weighted term ``lambda(p) * loss(...)`` of the objective.

    ``weight`` is a number ``>= 0``, a schedule name or a callable ``p -> lambda``
    whose values are ``>= 0`` (:func:`check_weight`; anything else is a ``ValueError``).
    """

    name: str
    loss: nn.Module
    weight: object = 1.0

    def __post_init__(self):
        if not isinstance(self.loss, nn.Module):
            raise ValueError(f"loss term {self.name!r} must be an nn.Module, got {type(self.loss).__name__}")
        self.schedule: Callable[[float], float] = check_weight(self.weight, f"weight of loss term {self.name!r}")

    def describe(self):
        w = self.weight
        return w if isinstance(w, (numbers.Real, str)) else getattr(w, "__name__", repr(w))


class FeatureScaleNormalized(nn.Module):
    r"""A loss divided by the feature scale of the batch: scale-free weights.

    .. math:: \tilde L(f_s, f_t) = L(f_s, f_t) \,/\, \bar D^{\,q},
              \qquad \bar D = \frac{1}{NM}\sum_{i,j}\lVert f_s^i - f_t^j\rVert^2

    Losses measured in
    squared feature distances (Sinkhorn: :math:`q = 1`), in distances (sliced
    Wasserstein :math:`W_2`: :math:`q = 1/2`) or in squared squared distances
    (CORAL: :math:`q = 2`) change by orders of magnitude with
    the feature scale, so one weight cannot suit a 2-d toy and pretrained CNN
    features; divided by :math:`\bar D^q` they are invariant to rescaling the
    features.

    ``grad=False`` (the default): :math:`\bar D` is detached, so shrinking every
    feature by :math:`c` divides the loss by :math:`c^{2q}` while the
    normaliser stays fixed within the step, and the features are pulled
    towards a point; on the digits pairs of ``benchmarks/defaults`` Sinkhorn
    and SWD wrapped this way collapsed the features (target accuracy -0.4 to
    -0.7 against source-only; docs/defaults.md). ``grad=True``: :math:`\bar D`
    is differentiated too, so a loss homogeneous of degree :math:`2q` becomes
    homogeneous of degree 0 and its gradient has no component along the scale
    (Euler: :math:`\langle\nabla\tilde L, f\rangle = 0`). That is what
    ``SinkhornLoss(normalize=True)``, the name-based Sinkhorn of revision 8,
    does inside the loss (docs/defaults.md, stage 8).

    Parameters
    ----------
    loss : nn.Module
        A :mod:`da.align` loss (same call signature).
    power : float, default 1
        :math:`q`.
    grad : bool, default False
        Keep :math:`\bar D` in the graph (in the features' dtype); otherwise it
        is computed detached, in float32.

    Attributes
    ----------
    last_stats_ : dict
        The wrapped loss's statistics plus ``feature_scale`` (:math:`\bar D`).
    """

    def __init__(self, loss: nn.Module, power: float = 1.0, grad: bool = False):
        super().__init__()
        self.loss = loss
        self.power = power
        self.grad = grad
        if not isinstance(loss, nn.Module):
            raise ValueError(f"loss must be an nn.Module, got {type(loss).__name__}")
        if isinstance(power, bool) or not isinstance(power, numbers.Real) or not math.isfinite(power) or power <= 0:
            raise ValueError(f"power must be a finite number > 0, got {power!r}")
        if not isinstance(grad, bool):
            raise ValueError(f"grad must be True or False, got {grad!r}")

    def forward(self, fs, ft, **kw):
        import torch

        from da._kernels import mean_sq_dist

        value = self.loss(fs, ft, **kw)
        if self.grad:  # in the graph, in the features' dtype
            scale = mean_sq_dist(fs, ft).clamp_min(torch.finfo(fs.dtype).tiny)
        else:
            with torch.no_grad():
                scale = mean_sq_dist(fs.detach().float(), ft.detach().float()).clamp_min(
                    torch.finfo(torch.float32).tiny)
        self.last_stats_ = {**(getattr(self.loss, "last_stats_", None) or {}), "feature_scale": float(scale.detach())}
        return value / scale.to(value.dtype) ** self.power

    def extra_repr(self) -> str:
        return f"power={self.power}, grad={self.grad}"


# features narrower than this get the small-feature defaults of make_alignment
_SMALL_FEATURES = 256

#: Revision of the rules in :func:`alignment_defaults`. Experiment run ids hash it
#: (:func:`da.experiments.config.config_hash`), so that a sweep resumed after the
#: defaults change trains again instead of reading back runs built with the old
#: ones. Bump it whenever :func:`alignment_defaults` returns something new.
#: 1: the loss classes' own defaults; 2: discriminators sized to the features,
#: CDAN's randomized map, Sinkhorn's median-relative reg; 3: the generated benchmark of
#: ``benchmarks/defaults`` (docs/defaults.md): MMD with 9 Laplacian kernels, JDOT's alpha
#: relative to the feature distances, and the method weights and optimizers of
#: :data:`METHOD_RECIPES`; Sinkhorn solved by :func:`da.align.symmetric_sinkhorn`; 4: Sinkhorn's
#: reg 0.2 (relative) and weight 0.1 (stage 4 of the benchmark: weight 1 collapsed the features);
#: 5: CORAL's weight 3e4 (stage 5: Deep CORAL's 1/(4 d^2) left the term ~1e-5 of the loss at 100);
#: 6: stage 6: ``source_val_loss`` epochs for MMD, CORAL, DANN, CDAN and SWD (``METHOD_RECIPES``),
#: dropout 0.5 in CDAN's small discriminator; 7: stage 7: ``source_val_drift`` epochs for CDAN;
#: 8: stage 8: Sinkhorn divided by the mean squared feature distance in the graph (``normalize=True``)
#: at weight 1 (JDOT's stage-8 candidate, ``scale_grad=True``, was withdrawn after the held-out check);
#: 9: stage 10: DANN's and CDAN's SGD recipes clip the global gradient norm at 100 (``METHOD_RECIPES``);
#: 10: stage 17: the ``infomax`` method (:class:`da.align.InformationMaximizationLoss`, weight 2, the epoch of
#: the lowest held-out source cross-entropy); the other names are unchanged; 11: stage 18: the ``infomax_coral``
#: method (:data:`COMBINATIONS`: infomax at 2 plus CORAL at 1e4, the source cross-entropy's epoch); a list of
#: exactly those two losses trains under its recipe (:func:`method_of_terms`); the other names are unchanged; and
#: ``align="auto"``'s candidates leave JDOT out (stage 19, :data:`da.transfer.auto.AUTO_CANDIDATES`).
ALIGNMENT_DEFAULTS_REVISION = 11

#: bandwidth multipliers of the default MMD: 2^-4 .. 2^4 times the median distance
_LAPLACIAN_MULTIPLIERS = tuple(2.0 ** k for k in range(-4, 5))


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
    out: dict = {}
    if name in ("dann", "cdan") and in_features < _SMALL_FEATURES:
        w = _discriminator_width(in_features)
        out = {"hidden": (w,)}
        if name == "cdan" and in_features * n_classes > w:
            out.update(randomized=True, random_dim=w)
        if name == "cdan":  # stage 6 of the benchmark (revision 6), with the source-loss epoch (METHOD_RECIPES)
            out["dropout"] = 0.5
    elif name == "mmd":
        out = {"kernel": "laplacian", "multipliers": _LAPLACIAN_MULTIPLIERS}
    elif name == "jdot":
        out = {"alpha": 0.03, "lambda_t": 0.1, "scale": "mean"}
    elif name == "sinkhorn":
        out = {"reg": 0.2, "scale": "median", "tol": 1e-4, "method": "symmetric", "normalize": True}
    return out


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
      With small features, CDAN's discriminator also gets ``dropout=0.5``
      (as in the authors' code; stage 6 of the benchmark, with the epoch of the
      lowest held-out source cross-entropy: docs/defaults.md).
    - ``sinkhorn``: ``scale="median"`` and ``reg=0.2`` (relative to the median
      squared distance, so the same setting works at any feature scale; an
      absolute 0.1 is near-unregularised OT on pretrained features, which
      does not converge in 1000 iterations; 0.2 and the class's 0.1 differ by
      less than the seed noise on the benchmark, 0.2 had fewer harms),
      ``tol=1e-4`` (marginal violation;
      the divergence moves by < 1e-5 relative against a converged solve on
      MNIST features, far below the minibatch noise) and ``method="symmetric"``
      (our solver, :func:`da.align.symmetric_sinkhorn`: the symmetric update of
      the two self terms and ε-scaling; about 3x faster than POT's batched solve
      and the same value to the tolerance, ``docs/benchmarks.md``), and
      ``normalize=True`` (revision 8: the divergence divided by the batch's mean
      squared distance, kept in the graph, so it is invariant to the feature
      scale and has no pull to shrink the features; with it the recipe's weight
      is 1, where the unnormalised divergence at weight 1 collapsed them).
    - ``mmd``: ``kernel="laplacian"`` with multipliers 2^-4 .. 2^4 (nine
      Laplacian kernels around the median distance; the Gaussian family of the
      class default has no gradient between distant points, which rotated
      classes need).
    - ``jdot``: ``scale="mean"``, ``alpha=0.03``, ``lambda_t=0.1`` (the feature
      cost relative to the batch's mean squared distance, so one setting works
      at any feature scale; an absolute alpha of 1 gained on 2-d data and
      collapsed 64-d digits features. ``scale_grad=True`` with ``alpha=1``,
      which keeps the normaliser in the graph, was better on the benchmark in
      both regimes but fell below the +0.02 bar on MNIST->digits, the held-out
      check: docs/defaults.md, stage 8).
    - The other names (``coral``, ``swd``, ``infomax``) use their class defaults (``infomax`` is told
      ``n_classes``, to check the logits' width).

    The weight and optimizer of each method are in :data:`METHOD_RECIPES`; the
    benchmark behind all of these is ``benchmarks/defaults`` (docs/defaults.md).

    The arguments are recorded: the trainer writes every loss's constructor
    arguments to the resolved config (``config["losses"][i]["params"]``).

    Parameters
    ----------
    name : {"mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd", "infomax"}
        ``feature_scale_power=q`` among ``kwargs`` wraps the loss in
        :class:`FeatureScaleNormalized` (an opt-in; see its caveat).
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
    if name in COMBINATIONS:
        raise ValueError(f"{name!r} is a sum of losses ({', '.join(t for t, _ in COMBINATIONS[name])}), not one; "
                         f"give it as align={name!r} (or as_terms({name!r}, ...)), or build each term by its name")
    if name not in ALIGN_METHODS:
        raise ValueError(f"unknown alignment {name!r}; valid: None, {', '.join(ALIGN_METHODS)}, a da.align "
                         "loss module or a list of (loss, weight) pairs")
    kwargs = {**alignment_defaults(name, in_features, n_classes), **kwargs}
    power = kwargs.pop("feature_scale_power", None)
    grad = bool(kwargs.pop("feature_scale_grad", False))
    loss = _build(A, name, in_features, n_classes, seed, kwargs)
    return loss if not power else FeatureScaleNormalized(loss, power, grad=grad)


def _build(A, name, in_features, n_classes, seed, kwargs):
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
    if name == "infomax":
        return A.InformationMaximizationLoss(n_classes=n_classes, **kwargs)
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
    n = type(loss).__name__
    return method_of(loss) or (n[:-4] if n.endswith("Loss") else n).lower() or "loss"


def as_terms(losses, *, in_features: int | None = None, n_classes: int | None = None, seed=0,
             weight=None) -> list[LossTerm]:
    """Normalise every accepted spelling of the alignment terms to a list of :class:`LossTerm`.

    Accepts None, a name from :data:`ALIGN_METHODS`, a loss module, a
    :class:`LossTerm`, or a list of any of: module, ``(loss, weight)``,
    ``(name, loss, weight)``, where ``loss`` may be a module or a name.
    Bare modules and names get ``weight``; ``None``: a bare name gets its
    method's recipe weight (:data:`METHOD_RECIPES`), a bare module 1.
    A method of :data:`COMBINATIONS` (``"infomax_coral"``) stands for its terms, each at its
    weight times the number given (1 for ``None``).
    Names are made unique (``mmd``, ``mmd_1``).
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
            if w is None:
                w = method_recipe(item)["weight"] if isinstance(item, str) and item in METHOD_RECIPES else 1.0
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            loss, w = item
        elif isinstance(item, (tuple, list)) and len(item) == 3:
            name, loss, w = item
        else:
            raise ValueError(f"cannot read loss term {item!r}: use a loss module, (loss, weight) or "
                             "(name, loss, weight)")
        if isinstance(loss, str) and loss in COMBINATIONS:  # a sum of losses: each term, its weight times w
            if not isinstance(w, numbers.Real) or isinstance(w, bool):
                raise ValueError(f"the weight of {loss!r} multiplies each of its terms' weights, so it must be a "
                                 f"number, got {w!r}; for a schedule give the terms as a list of (loss, weight)")
            check_weight(w, f"weight of {loss!r}")
            terms += as_terms([(t, tw * w) for t, tw in COMBINATIONS[loss]], in_features=in_features,
                              n_classes=n_classes, seed=seed)
            continue
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
