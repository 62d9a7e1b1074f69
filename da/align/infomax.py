r"""Information maximisation on the target predictions (the IM loss of SHOT)."""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from da._validation import check_features as _check_features
from da._validation import check_logits as _check_logits

__all__ = ["InformationMaximizationLoss"]


class InformationMaximizationLoss(nn.Module):
    r"""Confident target predictions that stay diverse across the classes.

    With :math:`p_j = \mathrm{softmax}(z_j)` the predicted class probabilities of the
    :math:`M` target rows of the batch and :math:`\bar p = \frac1M \sum_j p_j` their mean,

    .. math::

        \mathcal{L}_{\mathrm{IM}} = \frac1M \sum_j H(p_j) \;-\; \beta\, H(\bar p),
        \qquad H(q) = -\sum_c q_c \log q_c .

    The first term (entropy minimisation, Grandvalet & Bengio 2005) moves the decision
    boundary away from the target rows; the second (diversity) keeps them from all
    falling into one class. At :math:`\beta = 1` it is minus the mutual information
    between a target row and its predicted class under the batch's empirical
    distribution, the quantity the ``im`` selection criterion scores
    (:func:`da.transfer.selection.im`). Its range is :math:`[-\beta \log C, \log C]`;
    a balanced, one-hot target batch reaches :math:`-\beta \log C`.

    Unlike the other losses of :mod:`da.align` it reads the target **logits**, not the
    features: its gradient reaches the classifier head and, through it, the features.

    Parameters
    ----------
    diversity : float, default 1
        :math:`\beta \ge 0`; 0 is plain entropy minimisation. SHOT uses 1.
    n_classes : int or None, default None
        When given, ``logits_t`` must have that many columns.

    Attributes
    ----------
    last_stats_ : dict
        ``entropy`` (the mean conditional entropy), ``marginal_entropy`` (:math:`H(\bar p)`)
        and ``infomax`` (the returned value).

    Notes
    -----
    Call as ``loss(fs, ft, logits_t=...)``; ``fs`` and ``ft`` are checked (shape, finite
    values) but do not enter the value, and ``logits_s``, ``ys`` and ``p`` are ignored.
    The diversity term is measured on the batch, so it is a minibatch estimate of the
    target's predicted class proportions. It pulls them towards uniform, which costs
    where the target's class prior is far from uniform (label shift; docs/defaults.md,
    stage 17).

    **Distributed training** (:mod:`da.transfer.distributed`). By default each process
    evaluates the loss on its own shard of the target batch and DDP averages the gradients:
    the entropy term is the global-batch mean, the diversity term the mean of :math:`W`
    per-shard marginal entropies (a minibatch estimate at batch ``B/W``). With
    ``TrainConfig.gather_features`` the logits of all processes are gathered (gradients
    flowing back to each shard), and the loss is that of the global batch, with the
    one-process value and gradient.

    References
    ----------
    Liang, J., Hu, D. & Feng, J. (2020). Do we really need to access the source data?
    Source hypothesis transfer for unsupervised domain adaptation (SHOT). ICML.

    Krause, A., Perona, P. & Gomes, R. (2010). Discriminative clustering by regularized
    information maximization. NeurIPS.

    Grandvalet, Y. & Bengio, Y. (2005). Semi-supervised learning by entropy
    minimization. NeurIPS.

    Examples
    --------
    >>> loss = InformationMaximizationLoss()
    >>> onehot = torch.eye(3).repeat(2, 1) * 50.0  # confident and balanced
    >>> round(float(loss(torch.zeros(6, 2), torch.zeros(6, 2), logits_t=onehot)), 4)
    -1.0986
    """

    def __init__(self, diversity: float = 1.0, n_classes: int | None = None):
        super().__init__()
        self.diversity = diversity
        self.n_classes = n_classes
        if (isinstance(diversity, bool) or not isinstance(diversity, numbers.Real) or not math.isfinite(diversity)
                or diversity < 0):
            raise ValueError(f"diversity must be a finite number >= 0, got {diversity!r}")
        if n_classes is not None and (isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral)
                                      or n_classes < 2):
            raise ValueError(f"n_classes must be an integer >= 2 or None, got {n_classes!r}")

    def forward(self, fs: torch.Tensor, ft: torch.Tensor, *, logits_s=None, logits_t=None, ys=None,
                p: float | None = None) -> torch.Tensor:
        fs, ft = _check_features(fs, ft)
        logits_t = _check_logits(logits_t, "logits_t", ft, "ft", n_classes=self.n_classes)
        log_p = torch.log_softmax(logits_t, dim=1)
        prob = log_p.exp()
        conditional = -(prob * log_p).sum(1).mean()
        mean = prob.mean(0)  # a class no row gives mass to would have an infinite log-gradient: clamp its log
        marginal = -(mean * torch.log(mean.clamp_min(torch.finfo(mean.dtype).tiny))).sum()
        value = conditional - self.diversity * marginal
        self.last_stats_ = {"entropy": float(conditional.detach()), "marginal_entropy": float(marginal.detach()),
                            "infomax": float(value.detach())}
        return value

    def extra_repr(self) -> str:
        return f"diversity={self.diversity}, n_classes={self.n_classes}"
