r"""Domain-adversarial loss (DANN)."""

from __future__ import annotations

from typing import Sequence

import torch

from da._validation import check_positive_int
from da.align._adversarial import _AdversarialLoss, _domain_discriminator, _seeded_build

__all__ = ["DANNLoss"]


class DANNLoss(_AdversarialLoss):
    r"""Domain-adversarial loss of DANN: a discriminator behind a gradient reversal layer.

    With discriminator :math:`D` (one raw logit), gradient reversal
    :math:`R_\lambda` and :math:`\ell` the binary cross-entropy on logits,

    .. math::

        \mathcal{L}(f_s, f_t) = \frac{1}{2}\Big[\frac{1}{N}\sum_{i=1}^{N}
            \ell\big(D(R_\lambda(f_s^i)), 1\big)
          + \frac{1}{M}\sum_{j=1}^{M} \ell\big(D(R_\lambda(f_t^j)), 0\big)\Big].

    Minimising it over the discriminator's parameters trains :math:`D` to tell
    source (label 1) from target (label 0); the features receive
    :math:`-\lambda` times that gradient, i.e. they are pushed to *maximise*
    the discriminator's loss. The returned value is the discriminator's BCE
    (the reversal acts on gradients only), so add it to the task loss and
    take one optimiser step. The two domains are averaged separately so that
    unequal batch sizes do not bias the discriminator.

    The weight :math:`\lambda(p)` follows ``schedule``; the Ganin schedule is
    :math:`\lambda(p) = \lambda_{\max}\,(2 / (1 + e^{-\gamma p}) - 1)`.

    Parameters
    ----------
    in_features : int
        Feature width ``d``.
    hidden : sequence of int, default (1024, 1024)
        Hidden widths of the discriminator MLP (ReLU; Dropout when ``dropout > 0``).
    schedule : {"ganin", "constant"}, float or callable, default "ganin"
        Reversal weight as a function of the training progress ``p``; see
        :func:`da.align.schedules.make_schedule`. ``"ganin"`` needs ``p``.
    lambda_ : float, default 1
        :math:`\lambda_{\max}` for ``"ganin"``, the value for ``"constant"``.
    gamma : float, default 10
        Steepness :math:`\gamma` of the Ganin schedule.
    dropout : float, default 0
        Dropout probability after each hidden ReLU.
    seed : int, numpy Generator or None, default 0
        Seeds the discriminator's initialisation (the global RNG is left
        untouched); ``None`` uses torch's global RNG.

    Attributes
    ----------
    discriminator : torch.nn.Sequential
        ``Linear-ReLU[-Dropout] ... Linear(., 1)``, one raw logit per sample.
        Give its parameters their own optimiser group if they need their own
        learning rate.
    last_stats_ : dict
        After each call: ``disc_loss``, ``disc_acc`` (balanced), ``disc_acc_s``,
        ``disc_acc_t``, ``lambda``.

    Notes
    -----
    Call as ``loss(fs, ft, p=p)`` with ``fs`` of shape (N, d) and ``ft`` of
    shape (M, d); ``logits_s``, ``logits_t`` and ``ys`` are accepted and
    ignored. The discriminator's parameters are created in float32 on the CPU;
    move the loss with ``loss.to(device, dtype)`` like any module.

    **Optimizer.** The min-max game is sensitive to the optimizer. When the
    labelled source is small enough to be memorised, the featurizer's gradient
    becomes almost only the reversed discriminator gradient, and Adam's
    per-parameter normalisation turns that small signal into full-size steps:
    the features chase the discriminator instead of aligning. On digits ->
    MNIST (1258 source images) DANN under Adam did not beat source-only, and
    plain SGD (lr 0.1, as Ganin et al. use SGD) gained +0.09; with 3500 source
    images (MNIST -> digits) Adam worked better (docs/reproductions.md, section 2).
    :func:`da.transfer.finetune` warns when it sees this case (an adversarial
    loss under Adam and a source cross-entropy below 0.05).

    **Distributed training** (:mod:`da.transfer.distributed`). Each process
    evaluates this loss on its own shard of the global batch (``B/W`` source and
    target rows) and the discriminator is wrapped in its own
    ``DistributedDataParallel``, so its gradients, like the featurizer's, are
    averaged over the processes: the step follows the gradient of the mean of the
    per-process discriminator losses, which for the discriminator's mean
    cross-entropy on equal shards is the global-batch mean. ``gather_features`` does
    not apply.

    References
    ----------
    Ganin, Y., Ustinova, E., Ajakan, H., Germain, P., Larochelle, H.,
    Laviolette, F., Marchand, M. & Lempitsky, V. (2016). Domain-adversarial
    training of neural networks. JMLR 17(59).

    Examples
    --------
    >>> loss = DANNLoss(8, hidden=(16,))
    >>> fs, ft = torch.randn(5, 8), torch.randn(7, 8)
    >>> value = loss(fs, ft, p=0.5)
    >>> value.shape, sorted(loss.last_stats_)
    (torch.Size([]), ['disc_acc', 'disc_acc_s', 'disc_acc_t', 'disc_loss', 'lambda'])
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (1024, 1024), schedule="ganin",
                 lambda_: float = 1.0, gamma: float = 10.0, dropout: float = 0.0, seed=0):
        super().__init__()
        self.in_features = in_features
        self.hidden = hidden
        self.schedule = schedule
        self.lambda_ = lambda_
        self.gamma = gamma
        self.dropout = dropout
        self.seed = seed
        check_positive_int(in_features, "in_features")
        self._init_schedule(schedule, lambda_, gamma)
        self.discriminator = _seeded_build(seed, lambda: _domain_discriminator(in_features, hidden, dropout))

    def forward(self, fs: torch.Tensor, ft: torch.Tensor, *, logits_s=None, logits_t=None, ys=None,
                p: float | None = None) -> torch.Tensor:
        fs, ft = self._check_in_features(fs, ft)
        self._check_module_matches(fs, "fs")
        lam = self.current_lambda(p)
        return self._domain_bce(torch.cat([fs, ft]), fs.shape[0], lam)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, schedule={self.schedule!r}, lambda_={self.lambda_}"
