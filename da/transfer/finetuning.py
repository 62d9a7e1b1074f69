"""``finetune``: the functional entry point to :class:`da.transfer.trainer.Trainer` (one call, one fit)."""

from __future__ import annotations

from typing import Sequence

from da.transfer.fit_result import FitResult
from da.transfer.train_config import TrainConfig
from da.transfer.trainer import Trainer

__all__ = ["finetune"]


def finetune(model, data, losses=None, *, strategy=None, config=None, hooks: Sequence = (), run_dir=None,
             verbose: bool = False, resume_dir=None, **overrides) -> FitResult:
    """Fine-tune ``model`` on ``data`` with CE + Σ λ_i(p) L_i: the one training loop.

    Parameters
    ----------
    model : FeaturizerHead or (featurizer, head)
        Trained in place; the selected weights are loaded at the end.
    data : Split, dict or tuple
        A :class:`~da.data.Split` (target labels in ``eval_labels`` are used for
        evaluation only), or arrays ``(Xs, ys, Xt)`` / ``dict(Xs=, ys=, Xt=,
        yt_labeled=, labeled_idx=)`` (:func:`make_split`).
    losses : optional
        Alignment terms: ``[(loss, weight_or_schedule), ...]``, a loss module,
        a name (``"dann"``...), see :func:`da.transfer.losses.as_terms`.
    strategy : Strategy or str, optional
        Transfer strategy; default full fine-tuning.
    config : TrainConfig or dict, optional
    hooks : sequence of (k, fn)
        ``fn(model, epoch) -> dict`` merged into the epoch record every ``k`` epochs.
    run_dir : path, optional
        Where to write records and checkpoints (a run directory that ``da collect`` reads).
    resume_dir : path, optional
        Where ``resume.pt`` lives (default ``run_dir``); alone, nothing else is written.
    **overrides
        TrainConfig fields, e.g. ``epochs=10, selection="dev"``.

    Returns
    -------
    FitResult

    Raises
    ------
    TrainingDivergedError
        When a loss term becomes NaN/inf (the model keeps its last good weights).

    Examples
    --------
    >>> import numpy as np
    >>> from da.transfer import mlp, finetune
    >>> rng = np.random.default_rng(0)
    >>> Xs, ys = rng.normal(size=(60, 2)).astype("float32"), rng.integers(0, 2, 60)
    >>> Xt = rng.normal(size=(50, 2)).astype("float32") + 0.5
    >>> res = finetune(mlp(2, (8,), 2), (Xs, ys, Xt), losses=[("coral", 1.0)], epochs=2, batch_size=16,
    ...                device="cpu")
    >>> res.selection, len(res.history)
    ('source_val', 2)
    """
    cfg = TrainConfig.from_kwargs(config, **overrides)
    return Trainer(cfg, losses, strategy, hooks, run_dir, verbose, resume_dir=resume_dir).fit(model, data)
