r"""Transfer strategies: what of a pretrained model is trained, at which rate, toward what.

A :class:`Strategy` is a plain description (frozen blocks or name patterns,
head re-initialisation, a learning-rate factor for the backbone, L2-SP
strengths). :meth:`Strategy.prepare` applies it to a model and returns the
optimizer parameter groups and, for L2-SP, the regulariser to add to the loss.

Named constructors cover the usual cases: :func:`full_finetune`,
:func:`partial`, :func:`linear_probe`, :func:`head_reinit`,
:func:`discriminative_lr`, :func:`l2sp`; their fields combine freely.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace

import torch
from torch import nn

from da.transfer._rng import seeded
from da.transfer.models import FeaturizerHead, blocks_of

__all__ = ["Strategy", "L2SPRegularizer", "full_finetune", "partial", "linear_probe", "head_reinit",
           "discriminative_lr", "l2sp", "get_strategy", "STRATEGIES"]


class L2SPRegularizer(nn.Module):
    r"""L2-SP: pull the shared weights toward their pretrained values (Li et al. 2018).

    .. math::

        \Omega(w) = \frac{\alpha}{2}\lVert w_S - w_S^0\rVert_2^2
                  + \frac{\beta}{2}\lVert w_{\bar S}\rVert_2^2

    :math:`w_S` are the trainable parameters shared with the pretrained model
    (the featurizer, and the head unless it was re-initialised), :math:`w_S^0`
    their starting values, :math:`w_{\bar S}` the new (re-initialised) head.

    Called with no argument it returns :math:`\Omega` for the current weights;
    the reference weights are a buffer-free copy held outside the state dict.

    Parameters
    ----------
    shared : list of nn.Parameter
    new : list of nn.Parameter
    alpha, beta : float

    References
    ----------
    X. Li, Y. Grandvalet, F. Davoine. "Explicit inductive bias for transfer
    learning with convolutional networks." ICML 2018.
    """

    def __init__(self, shared, new, alpha: float = 0.01, beta: float = 0.01):
        super().__init__()
        # plain lists: these parameters belong to the model, not to this module
        self._shared = list(shared)
        self._start = [p.detach().clone() for p in self._shared]
        self._new = list(new)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.last_stats_: dict = {}

    def forward(self, *args, **kwargs) -> torch.Tensor:
        dev = self._shared[0].device if self._shared else (self._new[0].device if self._new else "cpu")
        sp = sum(((p - p0.to(p.device)) ** 2).sum() for p, p0 in zip(self._shared, self._start)) \
            if self._shared else torch.zeros((), device=dev)
        new = sum((p ** 2).sum() for p in self._new) if self._new else torch.zeros((), device=dev)
        out = 0.5 * self.alpha * sp + 0.5 * self.beta * new
        self.last_stats_ = {"sp_sq_dist": float(sp.detach()), "new_sq_norm": float(new.detach())}
        return out


@dataclass(frozen=True)
class Strategy:
    """How to fine-tune a pretrained :class:`~da.transfer.FeaturizerHead`.

    Parameters
    ----------
    name : str
        Recorded in the run.
    freeze_blocks : int
        Freeze the first ``k`` featurizer blocks (see :func:`~da.transfer.models.blocks_of`);
        ``-1`` freezes the whole featurizer (linear probe).
    freeze_patterns : tuple of str
        Also freeze parameters whose qualified name (``featurizer.1.0.weight``)
        matches one of these ``fnmatch`` patterns.
    reinit_head : bool
        Re-initialise the head (``reset_parameters`` of each submodule).
    backbone_lr_factor : float
        The featurizer's learning rate is ``lr * backbone_lr_factor``
        (discriminative learning rates); the head gets ``lr``.
    l2sp_alpha, l2sp_beta : float
        L2-SP strengths; both 0 means no regulariser.
    freeze_batchnorm : bool
        Keep the running statistics of frozen blocks fixed (eval mode).
    """

    name: str = "full"
    freeze_blocks: int = 0
    freeze_patterns: tuple = ()
    reinit_head: bool = False
    backbone_lr_factor: float = 1.0
    l2sp_alpha: float = 0.0
    l2sp_beta: float = 0.0
    freeze_batchnorm: bool = True

    def __post_init__(self):
        if not isinstance(self.freeze_blocks, int) or self.freeze_blocks < -1:
            raise ValueError(f"freeze_blocks must be an int >= -1, got {self.freeze_blocks!r}")
        if isinstance(self.freeze_patterns, str):
            object.__setattr__(self, "freeze_patterns", (self.freeze_patterns,))
        if not self.backbone_lr_factor >= 0:
            raise ValueError(f"backbone_lr_factor must be >= 0, got {self.backbone_lr_factor!r}")
        if self.l2sp_alpha < 0 or self.l2sp_beta < 0:
            raise ValueError("l2sp_alpha and l2sp_beta must be >= 0")

    def to_dict(self) -> dict:
        return {"name": self.name, "freeze_blocks": self.freeze_blocks,
                "freeze_patterns": list(self.freeze_patterns), "reinit_head": self.reinit_head,
                "backbone_lr_factor": self.backbone_lr_factor, "l2sp_alpha": self.l2sp_alpha,
                "l2sp_beta": self.l2sp_beta, "freeze_batchnorm": self.freeze_batchnorm}

    def frozen_modules(self, model: FeaturizerHead) -> list[nn.Module]:
        blocks = blocks_of(model.featurizer)
        if self.freeze_blocks == -1:
            return [model.featurizer]
        if self.freeze_blocks > len(blocks):
            raise ValueError(f"freeze_blocks={self.freeze_blocks} but the featurizer has only "
                             f"{len(blocks)} blocks")
        return blocks[:self.freeze_blocks]

    def prepare(self, model: FeaturizerHead, lr: float, seed=0):
        """Apply the strategy in place.

        Returns
        -------
        param_groups : list of dict
            ``{"params", "lr", "name"}`` for the trainable backbone and head.
        regularizer : L2SPRegularizer or None
        frozen : list of nn.Module
            Modules to keep in eval mode while training.
        """
        if self.reinit_head:
            with seeded(seed):
                for m in model.head.modules():
                    if hasattr(m, "reset_parameters"):
                        m.reset_parameters()
        frozen = self.frozen_modules(model)
        frozen_ids = {id(p) for m in frozen for p in m.parameters()}
        names = []
        for name, p in model.named_parameters():
            if id(p) in frozen_ids or any(fnmatch.fnmatchcase(name, pat) for pat in self.freeze_patterns):
                p.requires_grad_(False)
            else:
                p.requires_grad_(True)
                names.append(name)
        if self.freeze_patterns and not any(
                fnmatch.fnmatchcase(n, pat) for n, _ in model.named_parameters() for pat in self.freeze_patterns):
            raise ValueError(f"freeze_patterns {list(self.freeze_patterns)} match no parameter; "
                             f"names look like {[n for n, _ in model.named_parameters()][:4]}")
        backbone = [p for p in model.featurizer.parameters() if p.requires_grad]
        head = [p for p in model.head.parameters() if p.requires_grad]
        if not backbone and not head:
            raise ValueError(f"strategy {self.name!r} leaves no trainable parameter")
        groups = []
        if backbone and self.backbone_lr_factor > 0:
            groups.append({"params": backbone, "lr": lr * self.backbone_lr_factor, "name": "backbone"})
        elif backbone:
            for p in backbone:
                p.requires_grad_(False)
        if head:
            groups.append({"params": head, "lr": lr, "name": "head"})
        reg = None
        if self.l2sp_alpha or self.l2sp_beta:
            shared = [p for p in backbone if p.requires_grad] + ([] if self.reinit_head else head)
            new = head if self.reinit_head else []
            reg = L2SPRegularizer(shared, new, self.l2sp_alpha, self.l2sp_beta)
        bn_frozen = frozen if self.freeze_batchnorm else []
        return groups, reg, bn_frozen

    def replace(self, **changes) -> "Strategy":
        return replace(self, **changes)


def full_finetune() -> Strategy:
    """Train every parameter at the same rate."""
    return Strategy("full")


def partial(blocks: int = 0, patterns=()) -> Strategy:
    """Freeze the first ``blocks`` featurizer blocks and parameters matching ``patterns``."""
    return Strategy("partial", freeze_blocks=int(blocks), freeze_patterns=tuple(
        (patterns,) if isinstance(patterns, str) else patterns))


def linear_probe(reinit: bool = True) -> Strategy:
    """Freeze the featurizer; train a (re-initialised) head only."""
    return Strategy("linear_probe", freeze_blocks=-1, reinit_head=reinit)


def head_reinit() -> Strategy:
    """Fine-tune everything from a freshly initialised head."""
    return Strategy("head_reinit", reinit_head=True)


def discriminative_lr(factor: float = 0.1) -> Strategy:
    """Backbone at ``lr * factor``, head at ``lr``."""
    return Strategy("discriminative_lr", backbone_lr_factor=float(factor))


def l2sp(alpha: float = 0.01, beta: float = 0.01, reinit: bool = False) -> Strategy:
    """L2-SP toward the pretrained weights (Li et al. 2018)."""
    return Strategy("l2sp", reinit_head=reinit, l2sp_alpha=float(alpha), l2sp_beta=float(beta))


STRATEGIES = {"full": full_finetune, "partial": partial, "linear_probe": linear_probe,
              "head_reinit": head_reinit, "discriminative_lr": discriminative_lr, "l2sp": l2sp}


def get_strategy(strategy) -> Strategy:
    """A :class:`Strategy`, a name from :data:`STRATEGIES` or None (full fine-tuning)."""
    if strategy is None:
        return full_finetune()
    if isinstance(strategy, Strategy):
        return strategy
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid: {sorted(STRATEGIES)}")
        return STRATEGIES[strategy]()
    raise ValueError(f"strategy must be a Strategy, a name or None, got {type(strategy).__name__}")
