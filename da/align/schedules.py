r"""Schedules of training progress :math:`p \in [0, 1]` for adversarial losses.

Every schedule is a plain function of the progress ``p``, passed explicitly;
no loss counts its own steps. The horizon (the total number of steps) lives in
the trainer's configuration and enters only through :func:`progress`.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Union

from da._validation import check_positive_int
from da._validation import check_nonnegative as _check_nonnegative, check_positive as _check_positive

__all__ = ["progress", "ganin_lambda", "ganin_lr_factor", "cosine_lr_factor", "constant_lr_factor",
           "LR_SCHEDULES", "make_schedule", "linear_schedule", "schedule_from_spec"]

Schedule = Callable[[float], float]
ScheduleSpec = Union[str, float, Schedule]

_NAMED = ("ganin", "constant")


def _check_progress(p, name: str = "p") -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not math.isfinite(p) \
            or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} (training progress) must be a number in [0, 1], got {p!r}")
    return float(p)


def progress(step: int, horizon: int) -> float:
    r"""Training progress :math:`p = \mathrm{step} / \mathrm{horizon}`.

    Parameters
    ----------
    step : int
        Steps taken so far, ``0 <= step <= horizon``.
    horizon : int
        Total number of steps (from the trainer's configuration), ``>= 1``.

    Returns
    -------
    float
        ``p`` in [0, 1].

    Examples
    --------
    >>> progress(250, 1000)
    0.25
    """
    horizon = check_positive_int(horizon, "horizon")
    step = check_positive_int(step, "step", minimum=0)
    if step > horizon:
        raise ValueError(f"step must be <= horizon, got step={step} > horizon={horizon}")
    return step / horizon


def ganin_lambda(p: float, gamma: float = 10.0) -> float:
    r"""Ganin & Lempitsky's adaptation-weight schedule.

    .. math:: \lambda(p) = \frac{2}{1 + \exp(-\gamma p)} - 1

    It rises from 0 at :math:`p=0` to almost 1 at :math:`p=1`, so the noisy
    early discriminator does not disturb the features.

    Parameters
    ----------
    p : float
        Training progress in [0, 1].
    gamma : float, default 10
        Steepness (:math:`\gamma = 10` in the paper).

    Returns
    -------
    float

    References
    ----------
    Ganin, Y. & Lempitsky, V. (2015). Unsupervised domain adaptation by
    backpropagation. ICML. Section 5.2.

    Examples
    --------
    >>> ganin_lambda(0.0), round(ganin_lambda(1.0), 5)
    (0.0, 0.99991)
    """
    p = _check_progress(p)
    _check_positive(gamma, "gamma")
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def ganin_lr_factor(p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    r"""Ganin & Lempitsky's learning-rate annealing factor.

    .. math:: \eta_p / \eta_0 = \frac{1}{(1 + \alpha p)^{\beta}}

    Multiply the base learning rate :math:`\eta_0` by this factor (for
    example in a ``torch.optim.lr_scheduler.LambdaLR``).

    Parameters
    ----------
    p : float
        Training progress in [0, 1].
    alpha : float, default 10
    beta : float, default 0.75

    Returns
    -------
    float

    References
    ----------
    Ganin, Y. & Lempitsky, V. (2015). Unsupervised domain adaptation by
    backpropagation. ICML. Section 5.2.

    Examples
    --------
    >>> ganin_lr_factor(0.0)
    1.0
    """
    p = _check_progress(p)
    _check_nonnegative(alpha, "alpha")
    _check_nonnegative(beta, "beta")
    return 1.0 / (1.0 + alpha * p) ** beta


def cosine_lr_factor(p: float) -> float:
    r"""Cosine annealing: :math:`\eta_p / \eta_0 = \tfrac12 (1 + \cos \pi p)`."""
    return 0.5 * (1.0 + math.cos(math.pi * _check_progress(p)))


def constant_lr_factor(p: float) -> float:
    """No annealing: 1."""
    _check_progress(p)
    return 1.0


#: learning-rate multipliers of the progress p, by name (:data:`da._names.LR_SCHEDULES`).
LR_SCHEDULES = {"constant": constant_lr_factor, "ganin": ganin_lr_factor, "cosine": cosine_lr_factor}


def linear_schedule(start: float, end: float) -> Schedule:
    r"""A weight that moves linearly with the progress: :math:`w(p) = a + (b - a)\,p`."""
    for v, nm in ((start, "start"), (end, "end")):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"{nm} must be a finite number, got {v!r}")
    a, b = float(start), float(end)
    return lambda p: a + (b - a) * _check_progress(p)


def make_schedule(spec: ScheduleSpec, *, lambda_: float = 1.0, gamma: float = 10.0) -> Schedule:
    r"""Turn a schedule specification into a function ``p -> lambda``.

    Parameters
    ----------
    spec : {"ganin", "constant"}, float or callable
        ``"ganin"``: :math:`\lambda_{\max} \cdot` :func:`ganin_lambda` ``(p, gamma)``
        with :math:`\lambda_{\max}` = ``lambda_``.
        ``"constant"``: always ``lambda_``.
        A number: always that number.
        A callable: called as ``spec(p)``; it must return a finite number.
    lambda_ : float, default 1
        Final (``"ganin"``) or constant (``"constant"``) weight.
    gamma : float, default 10
        Steepness of the Ganin schedule.

    Returns
    -------
    callable
        ``schedule(p)`` validates ``p`` in [0, 1] and returns a float.

    Examples
    --------
    >>> make_schedule("constant", lambda_=0.3)(0.5)
    0.3
    >>> make_schedule(0.1)(1.0)
    0.1
    """
    if isinstance(lambda_, bool) or not isinstance(lambda_, numbers.Real) or not math.isfinite(lambda_):
        raise ValueError(f"lambda_ must be a finite number, got {lambda_!r}")
    lam = float(lambda_)
    if isinstance(spec, str):
        if spec == "ganin":
            ganin_lambda(0.0, gamma)  # validates gamma now rather than at the first step
            return lambda p: lam * ganin_lambda(p, gamma)
        if spec == "constant":
            return lambda p: (_check_progress(p), lam)[1]
        raise ValueError(f"schedule must be one of {', '.join(repr(s) for s in _NAMED)}, "
                         f"a number or a callable p -> lambda; got {spec!r}")
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        if not math.isfinite(spec):
            raise ValueError(f"schedule must be finite when given as a number, got {spec!r}")
        value = float(spec)
        return lambda p: (_check_progress(p), value)[1]
    if callable(spec):
        def schedule(p: float) -> float:
            out = spec(_check_progress(p))
            if isinstance(out, bool) or not isinstance(out, numbers.Real) or not math.isfinite(out):
                raise ValueError(f"schedule callable returned {out!r} at p={p}; expected a finite number")
            return float(out)
        return schedule
    raise ValueError(f"schedule must be one of {', '.join(repr(s) for s in _NAMED)}, "
                     f"a number or a callable p -> lambda; got {type(spec).__name__}")


def _is_constant(spec: ScheduleSpec) -> bool:
    """Whether ``spec`` ignores the progress (so ``p`` may be omitted)."""
    return spec == "constant" or (isinstance(spec, numbers.Real) and not isinstance(spec, bool))


def schedule_from_spec(spec, *, scale: float = 1.0) -> Schedule:
    r"""A config's weight spec -> ``p -> scale * w(p)``, named for the records.

    ``spec`` is a number (constant weight) or a mapping ``{schedule: NAME, ...}``
    with the parameters of :data:`da._names.WEIGHT_SCHEDULES`: ``constant``
    (``value``), ``ganin`` (``max``, ``gamma``: :math:`w = w_{\max}` :func:`ganin_lambda`),
    ``linear`` (``start``, ``end``: :func:`linear_schedule`). ``scale`` is the
    config's global ``lambda``.
    """
    lam = float(scale)
    if not isinstance(spec, dict):
        base, label = make_schedule(float(spec)), f"{lam:g}*{float(spec):g}"
    elif spec["schedule"] == "ganin":
        base = make_schedule("ganin", lambda_=spec["max"], gamma=spec["gamma"])
        label = f"{lam:g}*ganin(max={spec['max']:g},gamma={spec['gamma']:g})"
    elif spec["schedule"] == "constant":
        base, label = make_schedule("constant", lambda_=spec["value"]), f"{lam:g}*{spec['value']:g}"
    elif spec["schedule"] == "linear":
        base = linear_schedule(spec["start"], spec["end"])
        label = f"{lam:g}*linear({spec['start']:g}->{spec['end']:g})"
    else:
        raise ValueError(f"unknown weight schedule {spec!r}; valid: constant, ganin, linear")

    def schedule(p):
        return lam * base(p)

    schedule.__name__ = label
    return schedule
