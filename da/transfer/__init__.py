"""Transfer: pretrain on the source, transfer the model, fine-tune with ERM + alignment, select, evaluate.

The pipeline is

1. :func:`pretrain` a :class:`FeaturizerHead` (an :func:`mlp`, a :func:`lenet`,
   a :func:`resnet` or any ``(featurizer, head)`` pair) on the labelled source;
2. choose what to transfer (:mod:`~da.transfer.strategies`: full, partial,
   linear probe, head re-initialisation, discriminative learning rates, L2-SP);
3. :func:`finetune` with cross-entropy plus Σ λ_i(p) L_i of :mod:`da.align`
   losses, in the one training loop (:class:`Trainer`), selecting the model
   with a named criterion (:mod:`~da.transfer.selection`);
4. :func:`evaluate` on the held-out target test split against the
   :mod:`~da.transfer.baselines`.

:class:`DomainAdaptationClassifier` is the scikit-learn form of steps 3-4.
"""

from da.transfer.baselines import BASELINES, finetune_no_align, scratch, source_only, target_only
from da.transfer.checkpoint import load_checkpoint, save_checkpoint
from da.transfer.ensemble import softmax_ensemble
from da.transfer.evaluate import classification_metrics, evaluate, expected_calibration_error
from da.transfer.losses import ALIGN_METHODS, LossTerm, alignment_defaults, make_alignment
from da.transfer.models import FeaturizerHead, lenet, mlp, resnet
from da.transfer.pretrain import pretrain
from da.transfer.selection import CRITERIA, get_criterion, select_from_history
from da.transfer.strategies import (STRATEGIES, L2SPRegularizer, Strategy, discriminative_lr,
                                    full_finetune, head_reinit, l2sp, linear_probe, partial)
from da.transfer.finetuning import finetune
from da.transfer.trainer import FitResult, TrainConfig, Trainer, TrainingDivergedError, make_split

__all__ = [
    "FeaturizerHead", "mlp", "lenet", "resnet", "softmax_ensemble",
    "pretrain", "finetune", "Trainer", "TrainConfig", "FitResult", "TrainingDivergedError", "make_split",
    "Strategy", "L2SPRegularizer", "full_finetune", "partial", "linear_probe", "head_reinit",
    "discriminative_lr", "l2sp", "STRATEGIES",
    "CRITERIA", "get_criterion", "select_from_history",
    "source_only", "finetune_no_align", "scratch", "target_only", "BASELINES",
    "evaluate", "classification_metrics", "expected_calibration_error",
    "save_checkpoint", "load_checkpoint",
    "LossTerm", "make_alignment", "alignment_defaults", "ALIGN_METHODS",
    "DomainAdaptationClassifier",
]


def __getattr__(name):  # PEP 562: the estimator imports scikit-learn (a second or more) on first use
    if name == "DomainAdaptationClassifier":
        from da.transfer.estimator import DomainAdaptationClassifier
        return DomainAdaptationClassifier
    raise AttributeError(f"module 'da.transfer' has no attribute {name!r}")
