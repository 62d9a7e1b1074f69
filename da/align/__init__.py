r"""Alignment losses: one ``torch.nn.Module`` per method, one shared call.

Every loss is called the same way::

    loss(fs, ft, *, logits_s=None, logits_t=None, ys=None, p=None) -> scalar tensor

with source features ``fs`` (N, d) and target features ``ft`` (M, d) (batch
sizes may differ), optional logits, source labels and the training progress
``p`` in [0, 1] (used only by the adversarial losses' schedules). After each
call ``loss.last_stats_`` holds what the loss measured, as python floats.

- :class:`MMDLoss`: multi-kernel MMD² (DAN), or JMMD (JAN) with ``joint=True`` (needs logits);
- :class:`CORALLoss`: gap between the feature covariances (Deep CORAL);
- :class:`SinkhornLoss`: entropic OT cost or Sinkhorn divergence (its ``method="symmetric"`` solver
  is :func:`sinkhorn_divergence` / :func:`symmetric_sinkhorn`);
- :class:`SlicedWassersteinLoss`: sliced Wasserstein distance;
- :class:`JDOTLoss`: joint feature/label OT cost (DeepJDOT; needs ``ys`` and ``logits_t``);
- :class:`DANNLoss`: domain discriminator behind gradient reversal (``p`` for ``"ganin"``);
- :class:`CDANLoss`: discriminator on features ⊗ predictions (needs logits, ``p``);
- :class:`InformationMaximizationLoss`: confident, diverse target predictions (SHOT's IM; needs ``logits_t``).

Schedules of the progress ``p`` (:mod:`da.align.schedules`) and the gradient
reversal layer (:mod:`da.align.grl`) are public too.
"""

from da.align.cdan import CDANLoss
from da.align.coral import CORALLoss
from da.align.dann import DANNLoss
from da.align.grl import GradientReversal, grad_reverse
from da.align.infomax import InformationMaximizationLoss
from da.align.jdot import JDOTLoss
from da.align.mmd import MMDLoss
from da.align.ot_losses import SinkhornLoss, SlicedWassersteinLoss
from da.align.schedules import (LR_SCHEDULES, ganin_lambda, ganin_lr_factor, linear_schedule, make_schedule,
                                progress, schedule_from_spec)
from da.align.sinkhorn import sinkhorn_divergence, symmetric_sinkhorn

__all__ = [
    "MMDLoss", "CORALLoss", "SinkhornLoss", "SlicedWassersteinLoss", "JDOTLoss",
    "DANNLoss", "CDANLoss", "InformationMaximizationLoss",
    "sinkhorn_divergence", "symmetric_sinkhorn",
    "GradientReversal", "grad_reverse",
    "ganin_lambda", "ganin_lr_factor", "make_schedule", "progress", "linear_schedule", "schedule_from_spec",
    "LR_SCHEDULES",
]
