"""Every name a user can write, declared once: losses, methods, optimizers, schedules,
criteria and strategies (the record keys they produce, ``loss/<name>`` and the rest, are
declared with the run-directory format in :mod:`da._runs`).

This module imports nothing. Each registry of implementations (``da.align.LOSSES``,
:data:`da.transfer.selection.CRITERIA`, :data:`da.transfer.strategies.STRATEGIES`,
the trainer's optimizers and learning-rate schedules, the config schema) is keyed by
these names, and ``tests/test_names.py`` checks every one of them against this module.

Old spellings are accepted for one release as deprecated aliases
(:func:`canonical` warns and returns the new name).
"""

from __future__ import annotations

import warnings

__all__ = ["LOSSES", "LOSS_CLASSES", "COMBINED_METHODS", "METHODS", "OPTIMIZERS", "LR_SCHEDULES", "WEIGHT_SCHEDULES",
           "SAMPLINGS", "CRITERIA", "AUTO_TRAININGS", "AUTO_RULES", "AUTO_TOP_ENSEMBLE",
           "AUTO_POOL_SCORES", "STRATEGIES", "ARCHS",
           "ALIASES", "canonical"]

#: alignment losses (``align: [{loss: NAME}]``, ``align="NAME"``, ``loss/NAME`` records).
LOSSES = ("mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd", "infomax")
#: the :mod:`da.align` class behind each loss name.
LOSS_CLASSES = {"mmd": "MMDLoss", "dann": "DANNLoss", "cdan": "CDANLoss", "jdot": "JDOTLoss",
                "coral": "CORALLoss", "sinkhorn": "SinkhornLoss", "swd": "SlicedWassersteinLoss",
                "infomax": "InformationMaximizationLoss"}
#: methods that are a sum of losses (``align="NAME"``, ``method: NAME``, an ``auto`` candidate's method); their
#: terms and weights: :data:`da.transfer.recipes.COMBINATIONS`.
COMBINED_METHODS = ("infomax_coral",)
#: method presets of a config (``method: NAME``): no alignment, one loss each, JAN, a sum of losses
#: (``infomax_coral``, :data:`da.transfer.recipes.COMBINATIONS`), ``auto``
#: (a label-free choice among candidates, :mod:`da.transfer.auto`), or ``target_only``, the
#: ORACLE upper bound trained on the target's labels (its runs are marked ``oracle: true``).
METHODS = ("source_only", "mmd", "jan", "coral", "dann", "cdan", "jdot", "sinkhorn", "swd", "infomax",
           "infomax_coral", "auto", "target_only")
OPTIMIZERS = ("sgd", "adam", "adamw")
#: learning-rate multipliers of the progress p (:data:`da.align.schedules.LR_SCHEDULES`).
LR_SCHEDULES = ("constant", "ganin", "cosine")
#: loss-weight schedules and their parameters (:func:`da.align.make_schedule`).
WEIGHT_SCHEDULES = {"constant": ("value",), "ganin": ("max", "gamma"), "linear": ("start", "end")}
#: row orders of a minibatch stream within an epoch (:data:`da.data.loader.SAMPLINGS`):
#: fresh permutations, the stored order (cycled), or uniform draws with replacement.
SAMPLINGS = ("shuffle", "stored", "replacement")
#: model-selection criteria (:data:`da.transfer.selection.CRITERIA`); ``oracle`` reads target labels.
CRITERIA = ("source_val", "source_val_loss", "source_val_drift", "iwcv", "dev", "entropy", "snd", "im", "bnm",
            "class_ami", "oracle", "last")
#: ``align="auto"``'s candidate trainings (:data:`da.transfer.auto.CANDIDATE_TRAININGS`).
AUTO_TRAININGS = ("finetune", "scratch", "warmup")
#: ``align="auto"``'s rules besides a criterion or a tuple of them: the rank sums
#: (:data:`da.transfer.auto.RANK_RULES`) and the softmax ensembles (:data:`da.transfer.ensemble.ENSEMBLE_RULES`).
AUTO_RULES = ("borda", "mixval", "ensemble", "ensemble_aligned")
#: the prefix of ``align="auto"``'s top-k ensembles, ``"ensemble_top{k}:{criterion}"``: the mean softmax of the k
#: guarded candidates with the highest label-free criterion (:func:`da.transfer.ensemble.parse_top_rule`).
AUTO_TOP_ENSEMBLE = "ensemble_top"
#: scores of an ``auto`` candidate measured against the whole pool (:mod:`da.transfer.probes`); a rule may name them.
AUTO_POOL_SCORES = ("ensv", "ice_intra", "ice_inter")
#: transfer strategies (:data:`da.transfer.strategies.STRATEGIES`).
STRATEGIES = ("full", "partial", "linear_probe", "head_reinit", "discriminative_lr", "l2sp")
#: built-in model architectures of a config.
ARCHS = ("mlp", "lenet")

#: deprecated spelling -> name, per kind. Kept for one release.
ALIASES = {
    "loss": {"slicedwasserstein": "swd", "sliced_wasserstein": "swd", "deepjdot": "jdot",
             "mmdloss": "mmd", "dannloss": "dann", "cdanloss": "cdan", "jdotloss": "jdot",
             "coralloss": "coral", "sinkhornloss": "sinkhorn"},
    "method": {"deepjdot": "jdot"},
}
_KNOWN = {"loss": LOSSES, "method": METHODS, "optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES,
          "criterion": CRITERIA, "strategy": STRATEGIES}


def canonical(kind: str, name: str) -> str:
    """The one name of ``name`` among the ``kind`` names; a deprecated alias warns.

    Unknown names are returned unchanged: the registry that looks them up raises
    the error that lists the valid ones.
    """
    if not isinstance(name, str) or name in _KNOWN.get(kind, ()):
        return name
    new = ALIASES.get(kind, {}).get(name)
    if new is None:
        return name
    warnings.warn(f"{kind} name {name!r} is deprecated; use {new!r} (the alias goes in the next release)",
                  DeprecationWarning, stacklevel=3)
    return new
