"""Pretraining on the labelled source, written to a checkpoint.

Pretraining is the training loop of :mod:`da.transfer.trainer` with no target
data and no alignment term; its checkpoint (state dict, resolved config,
metrics) is written atomically and loads with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from da.data.pair import Part, Split
from da.transfer.checkpoint import save_checkpoint
from da.transfer.trainer import FitResult, TrainConfig, Trainer, make_split

__all__ = ["pretrain"]


def _source_only(source, config: TrainConfig) -> Split:
    if isinstance(source, Split):
        empty = Part(source.target_train.X[:0])
        return replace(source, target_train=empty, target_val=empty, target_test=empty,
                       target_labeled=Part(source.target_train.X[:0], np.empty(0, np.int64)),
                       target_labeled_idx=np.empty(0, np.int64),
                       eval_labels=type(source.eval_labels)(None, None, None))
    if isinstance(source, (tuple, list)) and len(source) == 2:
        return make_split(source[0], source[1], None, val_fraction=config.val_fraction, seed=config.seed)
    raise ValueError(f"source must be a da.data.Split or an (X, y) pair, got {type(source).__name__}")


def pretrain(model, source, *, config=None, checkpoint=None, hooks=(), run_dir=None, verbose=False,
             resume_dir=None, **overrides) -> FitResult:
    """Train ``model`` on the labelled source only; optionally write a checkpoint.

    Parameters
    ----------
    model : FeaturizerHead or (featurizer, head)
        Trained in place.
    source : Split or (X, y)
        A :class:`~da.data.Split` (its source parts are used, target parts are
        dropped) or labelled source arrays (a validation part is held out).
    config : TrainConfig or dict, optional
        ``selection`` must be ``"source_val"`` or ``"last"`` (no target here).
    checkpoint : path, optional
        Where to write ``{"state_dict", "config", "metrics"}`` atomically.
    resume_dir : path, optional
        Where the state of every finished epoch is kept (``resume.pt``; default ``run_dir``); a
        killed pretraining of the same configuration continues after its last saved epoch
        (with ``resume=True``, the default).
    **overrides
        TrainConfig fields.

    Returns
    -------
    FitResult

    Examples
    --------
    >>> from da.transfer import mlp, pretrain
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)).astype("float32"), rng.integers(0, 2, 40)
    >>> res = pretrain(mlp(3, (8,), 2), (X, y), epochs=2, batch_size=8, device="cpu")
    >>> sorted(res.metrics)
    ['source_val']
    """
    cfg = TrainConfig.from_kwargs(config, **overrides)
    if cfg.selection not in ("source_val", "last"):
        raise ValueError(f"pretraining sees no target data: selection must be 'source_val' or 'last', "
                         f"got {cfg.selection!r}")
    result = Trainer(cfg, None, None, hooks, run_dir, verbose, tags={"stage": "pretrain"},
                     resume_dir=resume_dir).fit(
        model, _source_only(source, cfg))
    if checkpoint is not None:
        save_checkpoint(checkpoint, result.model, result.config, result.metrics)
    return result
