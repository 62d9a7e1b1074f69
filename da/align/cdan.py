r"""Conditional domain-adversarial loss (CDAN, CDAN+E)."""

from __future__ import annotations

import math
from typing import Sequence

import torch

from da._validation import check_positive_int
from da.align._adversarial import _AdversarialLoss, _domain_discriminator, _seeded_build
from da._validation import check_logits as _check_logits

__all__ = ["CDANLoss"]

# The reference implementation switches to the randomized map above this width.
_MAX_MULTILINEAR_DIM = 4096


class CDANLoss(_AdversarialLoss):
    r"""Conditional adversarial loss: a discriminator on features *and* predictions.

    With features :math:`f`, class probabilities :math:`g = \mathrm{softmax}(\text{logits})`
    and the multilinear map

    .. math::

        T(f, g) = \begin{cases} \operatorname{vec}(g \otimes f) \in \mathbb{R}^{C d}
                    & \text{(exact)} \\
                    \frac{1}{\sqrt{d_r}} (R_f^\top f) \odot (R_g^\top g) \in \mathbb{R}^{d_r}
                    & \text{(randomized)} \end{cases}

    where :math:`R_f \in \mathbb{R}^{d \times d_r}`, :math:`R_g \in \mathbb{R}^{C \times d_r}`
    are fixed standard-normal matrices, the loss is the balanced binary
    cross-entropy of a discriminator behind a gradient reversal layer
    (source = 1, target = 0), exactly as :class:`~da.align.DANNLoss` but on
    :math:`T(f, g)`:

    .. math::

        \mathcal{L} = \frac12\Big[\sum_{i} w_i^s\, \ell\big(D(R_\lambda(T(f_s^i, g_s^i))), 1\big)
                    + \sum_{j} w_j^t\, \ell\big(D(R_\lambda(T(f_t^j, g_t^j))), 0\big)\Big].

    Without entropy conditioning the weights are uniform (:math:`w = 1/N`,
    :math:`1/M`). With ``entropy=True`` (CDAN+E) each sample gets
    :math:`1 + e^{-H(g)}`, :math:`H(g) = -\sum_c g_c \log g_c`, normalised to
    sum to one within each domain, so confident predictions count more.

    Parameters
    ----------
    in_features : int
        Feature width ``d``.
    n_classes : int
        Number of classes ``C`` (columns of the logits).
    hidden : sequence of int, default (1024, 1024)
        Hidden widths of the discriminator MLP.
    randomized : bool or None, default None
        Use the randomized map. ``None``: only when :math:`Cd > 4096`, as in
        the reference implementation.
    random_dim : int, default 1024
        Output width :math:`d_r` of the randomized map.
    entropy : bool, default False
        Entropy conditioning (CDAN+E).
    schedule : {"ganin", "constant"}, float or callable, default "ganin"
        Reversal weight :math:`\lambda(p)`; see :func:`da.align.schedules.make_schedule`.
    lambda_ : float, default 1
    gamma : float, default 10
    dropout : float, default 0
    seed : int, numpy Generator or None, default 0
        Seeds the random matrices and the discriminator's initialisation
        (the global RNG is left untouched); ``None`` uses torch's global RNG.

    Attributes
    ----------
    discriminator : torch.nn.Sequential
        The MLP, one raw logit per sample.
    random_matrix_f, random_matrix_g : torch.Tensor
        Buffers :math:`R_f`, :math:`R_g` (only when randomized); they move
        with ``loss.to(...)``.
    last_stats_ : dict
        ``disc_loss``, ``disc_acc`` (balanced), ``disc_acc_s``, ``disc_acc_t``, ``lambda``.

    Notes
    -----
    Call as ``loss(fs, ft, logits_s=..., logits_t=..., p=p)``; both logits are
    required. The remark on optimizers in :class:`~da.align.DANNLoss` applies
    here too (a small, memorised source: prefer SGD to Adam). As in the reference implementation the probabilities :math:`g`
    (and hence the entropy weights) are **detached**: the conditioning tells
    the discriminator which class a sample looks like, but the adversarial
    gradient reaches only the features, not the classifier head. Gradient
    reversal is applied to :math:`T(f, g)`, which is linear in :math:`f` once
    :math:`g` is detached, so this is the same as reversing at the features.

    **Distributed training** (:mod:`da.transfer.distributed`). Each process
    evaluates this loss on its own shard of the global batch (``B/W`` source and
    target rows) and the discriminator is wrapped in its own
    ``DistributedDataParallel``, so its gradients, like the featurizer's, are
    averaged over the processes: the step follows the gradient of the mean of the
    per-process conditional discriminator losses, which for the discriminator's mean
    cross-entropy on equal shards is the global-batch mean. ``gather_features`` does
    not apply.

    References
    ----------
    Long, M., Cao, Z., Wang, J. & Jordan, M. I. (2018). Conditional adversarial
    domain adaptation. NeurIPS.

    Examples
    --------
    >>> loss = CDANLoss(8, 3, hidden=(16,))
    >>> fs, ft = torch.randn(5, 8), torch.randn(6, 8)
    >>> value = loss(fs, ft, logits_s=torch.randn(5, 3), logits_t=torch.randn(6, 3), p=1.0)
    >>> value.shape
    torch.Size([])
    """

    def __init__(self, in_features: int, n_classes: int, hidden: Sequence[int] = (1024, 1024),
                 randomized: bool | None = None, random_dim: int = 1024, entropy: bool = False,
                 schedule="ganin", lambda_: float = 1.0, gamma: float = 10.0, dropout: float = 0.0,
                 seed=0):
        super().__init__()
        self.in_features = in_features
        self.n_classes = n_classes
        self.hidden = hidden
        self.randomized = randomized
        self.random_dim = random_dim
        self.entropy = entropy
        self.schedule = schedule
        self.lambda_ = lambda_
        self.gamma = gamma
        self.dropout = dropout
        self.seed = seed
        d = check_positive_int(in_features, "in_features")
        c = check_positive_int(n_classes, "n_classes")
        check_positive_int(random_dim, "random_dim")
        if randomized not in (None, True, False):
            raise ValueError(f"randomized must be True, False or None (auto), got {randomized!r}")
        if entropy not in (True, False):
            raise ValueError(f"entropy must be True or False, got {entropy!r}")
        self._init_schedule(schedule, lambda_, gamma)
        self._use_random = d * c > _MAX_MULTILINEAR_DIM if randomized is None else bool(randomized)
        map_dim = random_dim if self._use_random else d * c

        def build():
            if self._use_random:
                rf = torch.randn(d, random_dim)
                rg = torch.randn(c, random_dim)
            else:
                rf = rg = None
            return rf, rg, _domain_discriminator(map_dim, hidden, dropout)

        rf, rg, self.discriminator = _seeded_build(seed, build)
        self.register_buffer("random_matrix_f", rf)
        self.register_buffer("random_matrix_g", rg)

    def forward(self, fs: torch.Tensor, ft: torch.Tensor, *, logits_s=None, logits_t=None, ys=None,
                p: float | None = None) -> torch.Tensor:
        fs, ft = self._check_in_features(fs, ft)
        logits_s = _check_logits(logits_s, "logits_s", fs, "fs", n_classes=self.n_classes)
        logits_t = _check_logits(logits_t, "logits_t", ft, "ft", n_classes=self.n_classes)
        self._check_module_matches(fs, "fs")
        lam = self.current_lambda(p)

        f = torch.cat([fs, ft])
        logits = torch.cat([logits_s.detach(), logits_t.detach()]).to(f.dtype)  # no graph for a detached input
        g = torch.softmax(logits, dim=1)
        if self._use_random:
            x = (f @ self.random_matrix_f) * (g @ self.random_matrix_g) / math.sqrt(self.random_dim)
        else:
            x = (g.unsqueeze(2) * f.unsqueeze(1)).flatten(1)
        weight = None
        if self.entropy:
            h = -(g * torch.log_softmax(logits, dim=1)).sum(1)
            weight = 1.0 + torch.exp(-h)
        return self._domain_bce(x, fs.shape[0], lam, weight)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, "
                f"randomized={self._use_random}, entropy={self.entropy}, schedule={self.schedule!r}")
