"""Baselines on the same footing as the adaptation methods: the same loop, data and records.

========================  ===================================================  =========
baseline                  trains on                                             oracle
========================  ===================================================  =========
:func:`source_only`       labelled source                                       no
:func:`finetune_no_align` labelled source + labelled target (no alignment)     no
:func:`scratch`           labelled target examples only, fresh model           no
:func:`target_only`       *all* target training labels (upper bound)            **yes**
========================  ===================================================  =========

Each returns a :class:`~da.transfer.FitResult` whose ``config["baseline"]``
names it; :func:`target_only` sets ``oracle=True``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace

import numpy as np

from da.data.pair import Part, Split
from da.transfer.inputs import as_split
from da.transfer.trainer import FitResult, TrainConfig, Trainer

__all__ = ["source_only", "finetune_no_align", "scratch", "target_only", "BASELINES"]

log = logging.getLogger("da.transfer")


def _run(name, model, split, config, overrides, strategy=None, hooks=(), run_dir=None,
         oracle=False, resume_dir=None) -> FitResult:
    cfg = TrainConfig.from_kwargs(config, **overrides)
    return Trainer(cfg, None, strategy, hooks, run_dir, oracle=oracle,
                   tags={"baseline": name}, resume_dir=resume_dir).fit(model, split)


def source_only(model, data, *, config=None, hooks=(), run_dir=None, **overrides) -> FitResult:
    """Cross-entropy on the labelled source only (labelled target ignored)."""
    overrides.setdefault("target_weight", 0.0)
    return _run("source_only", model, data, config, overrides, hooks=hooks, run_dir=run_dir)


def finetune_no_align(model, data, *, strategy=None, config=None, hooks=(), run_dir=None,
                      **overrides) -> FitResult:
    """Fine-tune (a pretrained) ``model`` on labelled source and labelled target, without alignment.

    Set ``source_weight=0`` to fine-tune on the labelled target examples only.
    """
    return _run("finetune_no_align", model, data, config, overrides, strategy, hooks, run_dir)


def scratch(model, data, *, config=None, hooks=(), run_dir=None, **overrides) -> FitResult:
    """Train a freshly initialised ``model`` on the labelled target examples only.

    There is no labelled validation data, so ``selection`` defaults to ``"last"``.
    """
    cfg = TrainConfig.from_kwargs(config, **overrides)
    split = as_split(data, cfg.val_fraction, cfg.seed)
    if len(split.target_labeled) == 0:
        raise ValueError("scratch() trains on labelled target examples, but the split has none "
                         "(sample with n_target_labeled > 0)")
    overrides = dict(overrides, source_weight=0.0)
    overrides.setdefault("selection", "last")
    return _run("scratch", model, split, config, overrides, hooks=hooks, run_dir=run_dir)


def target_only(model, data: Split, *, config=None, hooks=(), run_dir=None, resume_dir=None,
                **overrides) -> FitResult:
    """ORACLE upper bound: train on all target training labels (``split.eval_labels.train``).

    Selection uses the labelled target validation part (``"oracle"`` unless
    ``selection="last"``); the result is marked ``oracle=True``. ``resume_dir``: as
    :func:`~da.transfer.finetune`'s.
    """
    if not isinstance(data, Split):
        raise ValueError("target_only needs a da.data.Split with target labels in eval_labels")
    el = data.eval_labels
    if el.train is None or el.val is None:
        raise ValueError("target_only needs target train and validation labels (split.eval_labels)")
    msg = "target_only reads target training labels: it is an ORACLE upper bound, marked oracle=True"
    warnings.warn(msg, stacklevel=2)
    log.warning(msg)
    as_source = replace(
        data, source_train=Part(data.target_train.X, el.train), source_val=Part(data.target_val.X, el.val),
        source_test=Part(data.target_test.X, el.test),
        target_labeled=Part(data.target_train.X[:0], np.empty(0, np.int64)),
        target_labeled_idx=np.empty(0, np.int64))
    overrides.setdefault("selection", "source_val")  # = target val accuracy here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _run("target_only", model, as_source, config, overrides, hooks=hooks, run_dir=run_dir,
                    oracle=True, resume_dir=resume_dir)


BASELINES = {"source_only": source_only, "finetune_no_align": finetune_no_align, "scratch": scratch,
             "target_only": target_only}
