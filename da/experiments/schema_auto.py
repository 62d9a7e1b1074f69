"""The ``auto:`` section of an experiment config (``method: auto``): its candidates, candidate training, rule
and source guard, checked as :func:`da.transfer.auto.check_rule` would check them before anything trains.
:mod:`da.experiments.schema` holds it under ``SCHEMA["auto"]``."""

from __future__ import annotations

from da._names import (AUTO_POOL_SCORES, AUTO_RULES, AUTO_TOP_ENSEMBLE, AUTO_TRAININGS, COMBINED_METHODS, CRITERIA,
                      LOSS_CLASSES, canonical)
from da._schema import ConfigError, Custom, ListOf, Num, Str
from da._schema import check_section as _check_section
from da._schema import describe as _describe

__all__ = ["AUTO_SECTION"]

# what an ``auto.rule`` may name: a label-free criterion, a pool score, or a rank-sum / ensemble rule
_AUTO_CRITERIA = tuple(c for c in CRITERIA if c not in ("oracle", "last")) + AUTO_POOL_SCORES


def _check_auto_rule(value, path):
    """A criterion, a list of criteria (a candidate must beat source_only on each; the first picks among
    those), or a rule of :data:`AUTO_RULES`."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError(path, "expected a criterion or a non-empty list of criteria, got []")
        return [Str(None, choices=_AUTO_CRITERIA).check(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(AUTO_TOP_ENSEMBLE):  # ensemble_top{k}:{criterion}
        from da.transfer.ensemble import parse_top_rule

        try:
            _, crit = parse_top_rule(value)
        except ValueError as exc:
            raise ConfigError(path, str(exc)) from None
        Str(None, choices=_AUTO_CRITERIA).check(crit, f"{path} (its criterion)")
        return value
    return Str(None, choices=_AUTO_CRITERIA + AUTO_RULES).check(value, path)


_AUTO_CANDIDATE = {
    "name": Str(None, "the candidate's name in the records"),
    "method": Str(None, "an alignment loss or a sum of losses (null: source only, the reference)",
                  choices=tuple(LOSS_CLASSES) + COMBINED_METHODS, optional=True),
    "weight": Num(None, "its alignment weight (null: the method's recipe weight)", lo=0.0, optional=True),
}


def _check_auto_candidate(value, path):
    if not isinstance(value, dict) or "name" not in value:
        raise ConfigError(path, f"expected a mapping {{name, method, weight}}, got {_describe(value)}")
    if isinstance(value.get("method"), str):
        value = {**value, "method": canonical("loss", value["method"])}
    out = _check_section(value, _AUTO_CANDIDATE, path)
    if out["method"] is None and out["weight"] is not None:
        raise ConfigError(f"{path}.weight", "a source-only candidate (method: null) has no weight")
    return out


_AUTO = {
    "candidate_training": Str("finetune", "method: auto: how the aligned candidates train, each under its "
                                          "method's recipe: finetune (from the source_only model for "
                                          "auto.finetune_epochs, last epoch), scratch (from the pretrained model, "
                                          "or the initial network with pretrain.epochs 0, for train.epochs, the "
                                          "recipe's epoch selection) or warmup (a shared source-only warm-up of "
                                          "max(1, train.epochs // 5) epochs, then each for the rest; needs "
                                          "train.epochs >= 2)", choices=AUTO_TRAININGS),
    "rule": Custom("source_val", _check_auto_rule, "method: auto: the label-free choice (da.transfer.auto.choose): "
                                                   "a criterion, a list of them, borda, mixval, ensemble / "
                                                   "ensemble_aligned (the mean softmax of the guarded candidates), "
                                                   "or ensemble_topK:CRITERION (of the K guarded candidates with "
                                                   "the highest CRITERION)"),
    "tolerance": Num(0.02, "method: auto: source guard: candidates more than this below source-only's held-out "
                           "source accuracy are not chosen (null: no guard)", lo=0.0, optional=True),
    "finetune_epochs": Num(None, "method: auto, finetune only: each candidate's epochs (null: max(1, "
                                 "train.epochs // 2))", lo=1, integer=True, optional=True),
    "candidates": ListOf(Custom(None, _check_auto_candidate), None,
                         "method: auto: [{name, method, weight}], one of them {name: source_only, method: null} "
                         "(null: da.transfer.auto.AUTO_CANDIDATES)", optional=True),
}

#: the ``auto:`` section's keys
AUTO_SECTION = _AUTO
