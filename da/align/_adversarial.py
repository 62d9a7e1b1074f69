"""The domain discriminator and the machinery DANN and CDAN share.

Both losses feed (a map of) the features through a gradient reversal layer
into an MLP that outputs one raw logit per sample, and score it with a
class-balanced binary cross-entropy (source = 1, target = 0).
"""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from da._dropout import Dropout
from da._validation import check_positive_int
from da._validation import check_features as _check_features
from da.align.grl import grad_reverse
from da.align.schedules import _check_progress, _is_constant, make_schedule

__all__: list[str] = []


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        widths = tuple(hidden)
    except TypeError:
        raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}") from None
    return tuple(check_positive_int(w, f"hidden[{i}]") for i, w in enumerate(widths))


def _check_dropout(dropout) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    return float(dropout)


def _domain_discriminator(in_features: int, hidden: Sequence[int] = (1024, 1024),
                          dropout: float = 0.0) -> nn.Sequential:
    """MLP ``Linear-ReLU[-Dropout] x len(hidden)`` then ``Linear(., 1)``.

    Outputs one raw logit per sample (shape ``(n, 1)``), with no sigmoid: the
    loss uses :func:`torch.nn.functional.binary_cross_entropy_with_logits`,
    which is stable for confident logits.
    """
    widths = (check_positive_int(in_features, "in_features"),) + _check_hidden(hidden)
    dropout = _check_dropout(dropout)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
        if dropout > 0:
            layers.append(Dropout(dropout))
    layers.append(nn.Linear(widths[-1], 1))
    return nn.Sequential(*layers)


def _seeded_build(seed, build):
    """Run ``build()`` under a CPU RNG seeded from ``seed``.

    ``seed`` is an int, a numpy Generator (one int is drawn from it) or None
    (torch's global RNG, as for any torch module). With a seed the global RNG
    state is restored afterwards, so building a loss never changes other
    random draws.
    """
    if seed is None:
        return build()
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2 ** 63 - 1))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be None, an int or a numpy Generator, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


class _AdversarialLoss(nn.Module):
    """Schedule, progress and balanced domain BCE shared by DANN and CDAN."""

    def _init_schedule(self, schedule, lambda_, gamma):
        self._schedule = make_schedule(schedule, lambda_=lambda_, gamma=gamma)
        self._schedule_is_constant = _is_constant(schedule)
        self._progress = None

    def set_progress(self, p: float) -> None:
        """Set the training progress used when ``forward`` gets no ``p``.

        Parameters
        ----------
        p : float
            Training progress in [0, 1] (see :func:`da.align.schedules.progress`).
        """
        self._progress = _check_progress(p)

    def current_lambda(self, p: float | None = None) -> float:
        """The reversal weight :math:`\\lambda(p)` at ``p`` (or at the stored progress)."""
        if p is None:
            p = self._progress
        if p is None:
            if self._schedule_is_constant:
                p = 0.0
            else:
                raise ValueError(
                    f"p (training progress) is required by schedule={self.schedule!r}: "
                    "pass loss(fs, ft, p=...) or call loss.set_progress(p) first")
        return self._schedule(p)

    def _check_in_features(self, fs, ft) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`da._validation.check_features`, plus ``in_features`` columns."""
        fs, ft = _check_features(fs, ft)
        if fs.shape[1] != self.in_features:
            raise ValueError(f"fs has {fs.shape[1]} features but in_features={self.in_features} "
                             f"(shape {tuple(fs.shape)})")
        return fs, ft

    def _check_module_matches(self, x: torch.Tensor, name: str) -> None:
        param = next(self.discriminator.parameters())
        if x.device != param.device:
            raise ValueError(f"{name} is on {x.device} but the discriminator is on {param.device}; "
                             f"move the loss with loss.to({name}.device)")
        if x.dtype != param.dtype and not _autocast_enabled(x.device.type):
            raise ValueError(f"{name} has dtype {x.dtype} but the discriminator has {param.dtype}; "
                             f"convert the loss with loss.to({name}.dtype)")

    def _domain_bce(self, x: torch.Tensor, n_source: int, lam: float,
                    weight: torch.Tensor | None = None) -> torch.Tensor:
        """Balanced BCE of ``discriminator(GRL(x))``; source rows first, labelled 1."""
        logits = self.discriminator(grad_reverse(x, lam)).squeeze(-1)
        target = torch.zeros_like(logits)
        target[:n_source] = 1.0
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if weight is None:
            loss = 0.5 * (bce[:n_source].mean() + bce[n_source:].mean())
        else:
            ws, wt = weight[:n_source], weight[n_source:]
            loss = 0.5 * ((ws / ws.sum()) @ bce[:n_source] + (wt / wt.sum()) @ bce[n_source:])
        with torch.no_grad():  # one device-to-host copy for the three statistics
            stats = torch.stack([loss.detach().float(), (logits[:n_source] > 0).float().mean(),
                                 (logits[n_source:] < 0).float().mean()])
            disc_loss, acc_s, acc_t = stats.tolist()
        self.last_stats_ = {"disc_loss": disc_loss, "disc_acc": 0.5 * (acc_s + acc_t),
                            "disc_acc_s": acc_s, "disc_acc_t": acc_t, "lambda": float(lam)}
        return loss
