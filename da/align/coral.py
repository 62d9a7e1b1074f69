r"""Correlation alignment loss (Deep CORAL)."""

from __future__ import annotations

import torch
from torch import nn

from da._validation import check_features as _check_features

__all__ = ["CORALLoss"]


def _cov(x: torch.Tensor) -> torch.Tensor:
    xc = x - x.mean(0, keepdim=True)
    return xc.T @ xc / (x.shape[0] - 1)


class CORALLoss(nn.Module):
    r"""Distance between the source and target feature covariances.

    .. math:: \mathcal{L}_{\mathrm{CORAL}} = \frac{1}{4d^2}\lVert C_S - C_T\rVert_F^2,
              \qquad C_S = \frac{1}{N-1} (D_S - \bar D_S)^\top (D_S - \bar D_S),

    with :math:`C_T` alike, i.e. the unbiased covariances of the :math:`N \times d`
    source and :math:`M \times d` target feature batches. Its gradient
    (eqs. 4–5 of the paper) is
    :math:`\partial\mathcal L / \partial D_S = \frac{1}{d^2(N-1)} (D_S - \bar D_S)(C_S - C_T)`.

    Attributes
    ----------
    last_stats_ : dict
        ``coral`` (the returned value).

    Notes
    -----
    Call as ``loss(fs, ft)``; both batches need at least two samples, their
    sizes may differ. ``logits_s``, ``logits_t``, ``ys`` and ``p`` are ignored.

    **Distributed training** (:mod:`da.transfer.distributed`). By default each
    process evaluates this loss on its own shard of the global batch (``B/W`` rows
    per domain) and DDP averages the gradients: the step minimises the mean of
    :math:`W` per-process CORAL distances (a minibatch estimate at batch ``B/W``,
    covariances of B/W rows). With ``TrainConfig.gather_features`` the features of
    all processes are gathered (``torch.distributed.nn.functional.all_gather``,
    gradients flowing back to each shard) and the loss is that of the global batch,
    with the one-process value and gradient.

    References
    ----------
    Sun, B. & Saenko, K. (2016). Deep CORAL: Correlation alignment for deep
    domain adaptation. ECCV Workshops.

    Examples
    --------
    >>> loss = CORALLoss()
    >>> x = torch.randn(10, 3)
    >>> float(loss(x, x))
    0.0
    """

    def forward(self, fs: torch.Tensor, ft: torch.Tensor, *, logits_s=None, logits_t=None, ys=None,
                p: float | None = None) -> torch.Tensor:
        fs, ft = _check_features(fs, ft, min_samples=2)
        d = fs.shape[1]
        diff = _cov(fs) - _cov(ft)
        value = (diff * diff).sum() / (4.0 * d * d)
        self.last_stats_ = {"coral": float(value.detach())}
        return value
