r"""The one training loop behind every method: pretraining, fine-tuning, baselines, the estimator.

.. math::

    \min_{\theta}\; w_S\,\mathrm{CE}(h(g(x_s)), y_s) + w_T\,\mathrm{CE}(h(g(x_l)), y_l)
        + \sum_i \lambda_i(p)\, L_i\big(g(x_s), g(x_t)\big) \;[+\; \Omega_{\mathrm{L2\text{-}SP}}]

over minibatches of labelled source :math:`x_s`, labelled target :math:`x_l`
(few-shot, when the split has some) and unlabelled target :math:`x_t`, with
featurizer :math:`g`, head :math:`h` and progress
:math:`p = \mathrm{step}/\mathrm{horizon}`. The horizon (total steps) is part
of the configuration. Discriminators of adversarial losses are trained by the
same optimizer in their own parameter group.

Every ``eval_every`` epochs the model is scored by a **named** selection
criterion (:mod:`da.transfer.selection`); the best-scoring weights are kept and
restored at the end. Every loss term, each λ, the learning rate and the
losses' own statistics (e.g. discriminator accuracy) are logged per step
(every ``log_every`` steps) and per epoch. Target accuracy is logged for
evaluation only: no non-oracle criterion reads target labels.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from da._io import atomic_write_json, atomic_write_text
from da._validation import check_array, check_labels, check_positive_int, check_random_state
from da.data.pair import Part, Split, TargetLabels
from da.transfer._rng import seeded, torch_seed
from da.transfer.checkpoint import save_checkpoint
from da.transfer.evaluate import classification_metrics, predict_outputs
from da.transfer.losses import LossTerm, _loss_params, as_terms
from da.transfer.models import FeaturizerHead, as_model, check_model_dims
from da.transfer.selection import get_criterion
from da.transfer.strategies import get_strategy

__all__ = ["TrainConfig", "FitResult", "TrainingDivergedError", "Trainer", "finetune", "make_split",
           "lr_factor", "LR_SCHEDULES", "OPTIMIZERS"]

log = logging.getLogger("da.transfer")

LR_SCHEDULES = ("constant", "ganin", "cosine")
#: Epoch-mean source cross-entropy below which an adversarial loss under Adam gets a
#: warning: the source is memorised (digits->MNIST under Adam: 0.01-0.03, where DANN did
#: not align; MNIST->digits: 0.12-0.15, where it did; docs/reproductions.md, section 2).
MEMORISED_SOURCE_CE = 0.05
OPTIMIZERS = ("sgd", "adam", "adamw")


class TrainingDivergedError(RuntimeError):
    """A loss term became NaN or infinite.

    Attributes
    ----------
    step : int
        The optimisation step (0-based) at which it happened.
    term : str
        The first non-finite term (``"ce_source"``, ``"dann"``, ...).
    value : float
    checkpoint : Path or None
        The last good checkpoint (end of the last completed epoch), if the run
        writes to a directory. The model is also restored to those weights.
    """

    def __init__(self, step: int, term: str, value: float, checkpoint=None):
        self.step, self.term, self.value, self.checkpoint = step, term, value, checkpoint
        where = f"; last good checkpoint: {checkpoint}" if checkpoint else ""
        super().__init__(f"training diverged at step {step}: loss term {term!r} is {value}{where}")


def lr_factor(schedule: str, p: float) -> float:
    r"""Learning-rate multiplier at progress ``p``.

    ``"constant"``: 1. ``"ganin"``: :math:`1/(1+10p)^{0.75}` (Ganin & Lempitsky
    2015). ``"cosine"``: :math:`\tfrac12(1+\cos\pi p)`.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "ganin":
        return 1.0 / (1.0 + 10.0 * p) ** 0.75
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")


@dataclass
class TrainConfig:
    """Everything the training loop needs; recorded, resolved, with each run.

    Parameters
    ----------
    epochs : int
        Passes over the larger active stream (source, unlabelled target or
        labelled target); the smaller ones are cycled.
    batch_size : int
        Source minibatch size.
    batch_size_target : int, optional
        Unlabelled-target minibatch size (default ``batch_size``).
    batch_size_labeled : int, optional
        Labelled-target minibatch size (default ``batch_size``); capped at the
        number of labelled target samples.
    lr : float
    optimizer : {"sgd", "adam", "adamw"}
        One optimizer for every group. For adversarial losses (DANN, CDAN) on
        a source small enough to be memorised, prefer ``"sgd"``: see the
        optimizer note of :class:`da.align.DANNLoss`. The loop warns (once)
        when an adversarial loss runs under Adam/AdamW and the epoch-mean
        source cross-entropy falls below :data:`MEMORISED_SOURCE_CE`.
    momentum, nesterov : SGD options.
    weight_decay : float
    lr_schedule : {"constant", "ganin", "cosine"}
    steps_per_epoch : int, optional
        Override the epoch length (e.g. to give every method the same number of
        steps whichever streams it uses).
    horizon : int, optional
        Total steps over which ``p`` goes from 0 to 1 (the schedules' horizon);
        default ``epochs * steps_per_epoch``. 0 is an error.
    discriminator_lr_factor : float
        Discriminators' learning rate = ``lr * discriminator_lr_factor``.
    source_weight, target_weight : float
        Weights of the labelled source and labelled target cross-entropies.
    grad_clip : float, optional
        Clip the global gradient norm.
    amp : bool
        Mixed precision (``torch.autocast``); used only on CUDA devices.
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    seed : int
        Seeds minibatch order, dropout and head re-initialisation.
    selection : str
        Model-selection criterion (:data:`da.transfer.selection.CRITERIA`).
    patience : int, optional
        Stop after this many evaluations without improvement.
    eval_every : int
        Evaluate (criterion, accuracies, hooks) every this many epochs.
    log_every : int
        Keep a step record every this many steps.
    max_eval_samples : int
        Cap on the training parts scored for selection (DEV's domain classifier).
    record_criteria : tuple of str
        Further criteria scored and recorded (``selection/<name>``) at every
        evaluation without driving the selection, so that selection can be
        redone afterwards from the records alone
        (:func:`da.transfer.selection.select_from_history`).
    val_fraction : float
        Source validation fraction when data are given as arrays.
    """

    epochs: int = 30
    batch_size: int = 128
    batch_size_target: int | None = None
    batch_size_labeled: int | None = None
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    steps_per_epoch: int | None = None
    horizon: int | None = None
    discriminator_lr_factor: float = 1.0
    source_weight: float = 1.0
    target_weight: float = 1.0
    grad_clip: float | None = None
    amp: bool = True
    device: str | None = None
    seed: int = 0
    selection: str = "source_val"
    patience: int | None = None
    eval_every: int = 1
    log_every: int = 10
    max_eval_samples: int = 2000
    record_criteria: tuple = ()
    val_fraction: float = 0.1

    def validate(self) -> "TrainConfig":
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        for nm in ("batch_size_target", "batch_size_labeled", "patience", "steps_per_epoch"):
            if getattr(self, nm) is not None:
                check_positive_int(getattr(self, nm), nm)
        if self.horizon is not None:
            if isinstance(self.horizon, bool) or not isinstance(self.horizon, (int, np.integer)) \
                    or self.horizon < 1:
                raise ValueError(f"horizon (total steps of the schedules) must be a positive int, "
                                 f"got {self.horizon!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        for nm in ("source_weight", "target_weight", "weight_decay", "discriminator_lr_factor"):
            v = getattr(self, nm)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{nm} must be a number >= 0, got {v!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip!r}")
        check_positive_int(self.eval_every, "eval_every")
        check_positive_int(self.log_every, "log_every")
        check_positive_int(self.max_eval_samples, "max_eval_samples")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        get_criterion(self.selection)
        if isinstance(self.record_criteria, str):
            self.record_criteria = (self.record_criteria,)
        self.record_criteria = tuple(self.record_criteria)
        for name in self.record_criteria:
            if not isinstance(name, str):
                raise ValueError(f"record_criteria holds criterion names, got {name!r}")
            get_criterion(name)
        return self

    @classmethod
    def from_kwargs(cls, config=None, **overrides) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; valid: {sorted(names)}")
        if config is None:
            base = cls()
        elif isinstance(config, cls):
            base = copy.copy(config)
        elif isinstance(config, dict):
            bad = set(config) - names
            if bad:
                raise ValueError(f"unknown config keys {sorted(bad)}; valid: {sorted(names)}")
            base = cls(**config)
        else:
            raise ValueError(f"config must be a TrainConfig, a dict or None, got {type(config).__name__}")
        for k, v in overrides.items():
            setattr(base, k, v)
        return base.validate()


@dataclass
class FitResult:
    """What a run returns (and, with ``run_dir``, writes to ``result.json``).

    Attributes
    ----------
    model : FeaturizerHead
        With the selected (best-scoring) weights loaded.
    history : list of dict
        One record per epoch.
    steps : list of dict
        One record every ``log_every`` steps.
    config : dict
        The resolved configuration, strategy and loss terms.
    selection : str
    oracle : bool
        True when the criterion read target labels.
    best_epoch : int
    best_score : float
    metrics : dict
        Final metrics of the selected model: ``source_val`` accuracy and, when
        target labels exist (evaluation only), ``target_test`` and ``target_val``
        (accuracy, macro-F1, per-class accuracy, ECE).
    run_id : str
        Hash of the resolved configuration.
    """

    model: FeaturizerHead
    history: list
    steps: list
    config: dict
    selection: str
    oracle: bool
    best_epoch: int
    best_score: float
    metrics: dict = field(default_factory=dict)
    run_id: str = ""
    n_steps: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    run_dir: str | None = None

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("model", "history", "steps")}
        return d


# ---------------------------------------------------------------------------
# data


def make_split(Xs, ys, Xt=None, *, yt_labeled=None, labeled_idx=None, Xt_val=None,
               val_fraction: float = 0.1, seed=0, n_classes: int | None = None) -> Split:
    """Arrays -> :class:`~da.data.Split` (transductive target).

    The source is split into train/validation (``val_fraction``); the target
    train and validation parts are both ``Xt`` (unless ``Xt_val`` is given),
    as in transductive adaptation. ``labeled_idx`` rows of ``Xt`` are the
    labelled target examples, with labels ``yt_labeled``.
    """
    Xs = check_array(Xs, "Xs", ndim=None, min_samples=2)
    ys = check_labels(ys, "ys", n_samples=Xs.shape[0])
    if Xt is None:
        Xt = Xs[:0]
    Xt = check_array(Xt, "Xt", ndim=None, min_samples=0)
    if Xt.shape[1:] != Xs.shape[1:]:
        raise ValueError(f"Xs and Xt have different feature dimensions: {Xs.shape} vs {Xt.shape}")
    if (yt_labeled is None) != (labeled_idx is None):
        if yt_labeled is not None and len(yt_labeled) == len(Xt):
            labeled_idx = np.arange(len(Xt))
        else:
            raise ValueError("yt_labeled and labeled_idx go together: labeled_idx are the rows of Xt "
                             "whose labels are yt_labeled")
    if labeled_idx is not None:
        labeled_idx = np.asarray(labeled_idx)
        if labeled_idx.ndim != 1 or (labeled_idx.size and not np.issubdtype(labeled_idx.dtype, np.integer)):
            raise ValueError(f"labeled_idx must be a 1-D integer array, got shape {labeled_idx.shape}")
        if labeled_idx.size > len(Xt):
            raise ValueError(f"n_target_labeled={labeled_idx.size} exceeds the {len(Xt)} target samples")
        if labeled_idx.size and (labeled_idx.min() < 0 or labeled_idx.max() >= len(Xt)):
            raise ValueError(f"labeled_idx has rows out of range [0, {len(Xt)})")
        if np.unique(labeled_idx).size != labeled_idx.size:
            raise ValueError("labeled_idx has repeated rows")
        yt_labeled = check_labels(yt_labeled, "yt_labeled", n_samples=labeled_idx.size)
    else:
        labeled_idx = np.empty(0, np.int64)
        yt_labeled = np.empty(0, np.int64)
    k = int(n_classes) if n_classes is not None else int(max(ys.max(), yt_labeled.max(initial=-1))) + 1
    rng = check_random_state(seed)
    perm = rng.permutation(len(Xs))
    n_val = max(1, int(round(val_fraction * len(Xs))))
    tr, va = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    Xv = Xt if Xt_val is None else check_array(Xt_val, "Xt_val", ndim=None)
    return Split(source_train=Part(Xs[tr], ys[tr]), source_val=Part(Xs[va], ys[va]),
                 source_test=Part(Xs[:0], ys[:0]), target_train=Part(Xt), target_val=Part(Xv),
                 target_test=Part(Xt[:0]), target_labeled=Part(Xt[labeled_idx], yt_labeled),
                 target_labeled_idx=labeled_idx.astype(np.int64),
                 eval_labels=TargetLabels(None, None, None), n_classes=k, seed=None)


def _as_split(data, config: TrainConfig) -> Split:
    if isinstance(data, Split):
        return data
    if isinstance(data, dict):
        return make_split(**data, val_fraction=config.val_fraction, seed=config.seed)
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return make_split(*data, val_fraction=config.val_fraction, seed=config.seed)
    raise ValueError("data must be a da.data.Split, a dict of arrays (Xs, ys, Xt, ...) or a tuple "
                     f"(Xs, ys[, Xt]); got {type(data).__name__}")


class _Stream:
    """Seeded minibatch indices over ``n`` rows; cycles with a fresh permutation when exhausted."""

    def __init__(self, n: int, batch_size: int, gen: torch.Generator):
        self.n, self.bs, self.gen = n, min(batch_size, n), gen

    def epoch(self, n_steps: int) -> torch.Tensor:
        need = n_steps * self.bs
        perms = [torch.randperm(self.n, generator=self.gen) for _ in range(math.ceil(need / self.n))]
        return torch.cat(perms)[:need].view(n_steps, self.bs)


def _subsample(part: Part, n_max: int, rng: np.random.Generator) -> Part:
    if len(part) <= n_max:
        return part
    idx = np.sort(rng.choice(len(part), n_max, replace=False))
    return Part(part.X[idx], None if part.y is None else part.y[idx])


def _config_hash(cfg: dict) -> str:
    return hashlib.sha1(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _finite(x: float) -> bool:
    return math.isfinite(x)


# ---------------------------------------------------------------------------
# the loop


class Trainer:
    """The training loop (see the module docstring); :func:`finetune` is its one-call form.

    Parameters
    ----------
    config : TrainConfig, dict or None
    losses : see :func:`da.transfer.losses.as_terms`
        Alignment terms ``[(loss, weight_or_schedule), ...]``.
    strategy : Strategy, str or None
        Transfer strategy (:mod:`da.transfer.strategies`); default full fine-tuning.
    hooks : sequence of (k, fn)
        ``fn(model, epoch) -> dict`` is called every ``k`` epochs (at evaluation
        epochs) and its dict is merged into the epoch record.
    run_dir : str or Path, optional
        Write ``metrics.jsonl``, ``steps.jsonl``, ``result.json``, ``best.pt``
        and ``last_good.pt`` there (atomically).
    verbose : bool
        Log one line per epoch (``logging`` at INFO).
    oracle : bool
        Mark the run as an oracle even if its criterion is not (the data
        themselves carry target labels, as in the target-only baseline).
    tags : dict, optional
        Extra entries recorded in the resolved config (e.g. ``{"baseline": "scratch"}``).
    """

    def __init__(self, config=None, losses=None, strategy=None, hooks: Sequence = (), run_dir=None,
                 verbose: bool = False, oracle: bool = False, tags: dict | None = None):
        self.oracle = bool(oracle)
        self.tags = dict(tags or {})
        self.config = TrainConfig.from_kwargs(config)
        self.losses = losses
        self.strategy = get_strategy(strategy)
        self.hooks = list(hooks)
        for h in self.hooks:
            if not (isinstance(h, (tuple, list)) and len(h) == 2 and callable(h[1])):
                raise ValueError("hooks must be (k, fn) pairs with fn(model, epoch) -> dict")
            check_positive_int(h[0], "hook period k")
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.verbose = verbose

    # -- setup -----------------------------------------------------------
    def _adversarial_under_adam(self, terms) -> bool:
        """An adversarial loss (one with a discriminator) trained by Adam or AdamW."""
        c = self.config
        return c.optimizer in ("adam", "adamw") and c.source_weight > 0 and any(
            hasattr(t.loss, "discriminator") for t in terms)

    def _device(self):
        if self.config.device is not None:
            return torch.device(self.config.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _optimizer(self, groups):
        c = self.config
        if c.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov,
                                   weight_decay=c.weight_decay)
        if c.optimizer == "adam":
            return torch.optim.Adam(groups, lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.AdamW(groups, lr=c.lr, weight_decay=c.weight_decay)

    def fit(self, model, data) -> FitResult:
        """Train ``model`` (a :class:`FeaturizerHead` or ``(featurizer, head)``) on ``data``."""
        c = self.config
        model = as_model(model)
        split = _as_split(data, c)
        if len(split.source_train) < 1:
            raise ValueError("the source training part is empty")
        n_lab = len(split.target_labeled)
        if n_lab > len(split.target_train):
            raise ValueError(f"n_target_labeled={n_lab} exceeds the {len(split.target_train)} target "
                             "training samples")
        device = self._device()
        criterion = get_criterion(c.selection)
        crit_name = c.selection if isinstance(c.selection, str) else getattr(c.selection, "__name__", "custom")
        is_oracle = bool(getattr(criterion, "oracle", False)) or self.oracle
        with seeded(c.seed, device):
            return self._fit(model, split, device, criterion, crit_name, is_oracle)

    def _fit(self, model, split, device, criterion, crit_name, is_oracle):
        c = self.config
        t0 = time.perf_counter()
        model.to(device)
        Xs = torch.as_tensor(split.source_train.X, dtype=torch.float32, device=device)
        ys = torch.as_tensor(split.source_train.y, dtype=torch.long, device=device)
        with torch.no_grad():
            d = check_model_dims(model, Xs[:2], split.n_classes)
        terms: list[LossTerm] = as_terms(self.losses, in_features=d, n_classes=split.n_classes, seed=c.seed)
        for t in terms:
            t.loss.to(device)
        check_model_dims(model, Xs[:2], split.n_classes, [t.loss for t in terms])
        use_target = bool(terms)
        if use_target and len(split.target_train) < 1:
            raise ValueError("the target training part has no samples; alignment needs unlabelled target data")
        needs = set(criterion.needs)
        recorded = {n: get_criterion(n) for n in c.record_criteria if n != crit_name}
        for fn in recorded.values():
            needs |= set(fn.needs)
        if needs & {"target_train", "target_val"}:
            for part in needs & {"target_train", "target_val"}:
                if len(getattr(split, part)) < 1:
                    raise ValueError(f"selection={crit_name!r} needs {part} samples, but it is empty")
        n_lab = len(split.target_labeled)
        use_labeled = n_lab > 0 and c.target_weight > 0
        use_source = c.source_weight > 0 or use_target
        if not (use_source or use_labeled):
            raise ValueError("nothing to train on: source_weight=0, no labelled target and no alignment")
        if is_oracle:
            why = ("selection='oracle' reads labelled target validation data" if getattr(criterion, "oracle", False)
                   else "this run trains on target labels")
            msg = f"{why}; the run is marked oracle=True and is an upper bound, not an unsupervised result"
            warnings.warn(msg, stacklevel=4)
            log.warning(msg)

        Xt = torch.as_tensor(split.target_train.X, dtype=torch.float32, device=device) if use_target else None
        # target labels for logging only: never enter the objective or a non-oracle criterion
        yt_eval = (torch.as_tensor(split.eval_labels.train, dtype=torch.long, device=device)
                   if use_target and split.eval_labels.train is not None else None)
        if use_labeled:
            Xl = torch.as_tensor(split.target_labeled.X, dtype=torch.float32, device=device)
            yl = torch.as_tensor(split.target_labeled.y, dtype=torch.long, device=device)

        gen = torch.Generator().manual_seed(torch_seed(c.seed))
        streams = {}
        if use_source:
            streams["s"] = _Stream(len(Xs), c.batch_size, gen)
        if use_target:
            streams["t"] = _Stream(len(Xt), c.batch_size_target or c.batch_size, gen)
        if use_labeled:
            streams["l"] = _Stream(n_lab, c.batch_size_labeled or c.batch_size, gen)
        steps_per_epoch = c.steps_per_epoch or max(math.ceil(s.n / s.bs) for s in streams.values())
        horizon = c.horizon if c.horizon is not None else c.epochs * steps_per_epoch

        groups, reg, frozen = self.strategy.prepare(model, c.lr, seed=c.seed)
        for t in terms:
            params = [p for p in t.loss.parameters() if p.requires_grad]
            if params:
                groups.append({"params": params, "lr": c.lr * c.discriminator_lr_factor,
                               "name": f"discriminator/{t.name}"})
        opt = self._optimizer(groups)
        base_lrs = [g["lr"] for g in opt.param_groups]
        amp = bool(c.amp) and device.type == "cuda"
        amp_dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype == torch.float16 else None
        trainable = [p for g in opt.param_groups for p in g["params"]]

        resolved = self._resolved_config(split, terms, horizon, steps_per_epoch, crit_name, is_oracle, d)
        run_id = _config_hash(resolved)
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.run_dir / "config.json", resolved)

        eval_rng = np.random.default_rng(torch_seed(c.seed) % (2**32))
        eval_split = self._eval_split(split, needs, eval_rng)
        cache: dict = {}
        history, step_log = [], []
        best_score, best_epoch, best_state = -math.inf, -1, None
        last_good = self._snapshot(model)
        last_good_ckpt = None
        bad_evals, stopped_early, step = 0, False, 0
        warned_memorised = False

        for epoch in range(c.epochs):
            model.train()
            for m in frozen:
                m.eval()
            for t in terms:
                t.loss.train()
            idx = {k: s.epoch(steps_per_epoch) for k, s in streams.items()}
            sums: dict = {}
            correct_s = seen_s = 0
            for i in range(steps_per_epoch):
                p = min(step / horizon, 1.0)
                fac = lr_factor(c.lr_schedule, p)
                for g, b in zip(opt.param_groups, base_lrs):
                    g["lr"] = b * fac
                parts = []
                if use_source:
                    bi = idx["s"][i].to(device)
                    xs, ysb = Xs[bi], ys[bi]
                    parts.append(xs)
                if use_labeled:
                    li = idx["l"][i].to(device)
                    xl, ylb = Xl[li], yl[li]
                    parts.append(xl)
                if use_target:
                    ti = idx["t"][i].to(device)
                    xt = Xt[ti]
                    parts.append(xt)
                x = torch.cat(parts) if len(parts) > 1 else parts[0]
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                    f = model.featurizer(x)
                    logits = model.head(f)
                    vals: dict = {}
                    lams: dict = {}
                    o = 0
                    if use_source:
                        ns = xs.shape[0]
                        fs, ls = f[:ns], logits[:ns]
                        o = ns
                        if c.source_weight > 0:
                            vals["ce_source"] = (F.cross_entropy(ls.float(), ysb), c.source_weight)
                    if use_labeled:
                        nl = xl.shape[0]
                        vals["ce_target"] = (F.cross_entropy(logits[o:o + nl].float(), ylb), c.target_weight)
                        o += nl
                    if use_target:
                        ft, lt = f[o:], logits[o:]
                        for t in terms:
                            lam = float(t.schedule(p))
                            lams[t.name] = lam
                            v = t.loss(fs, ft, logits_s=ls, logits_t=lt, ys=ysb, p=p)
                            vals[t.name] = (v.float(), lam)
                    if reg is not None:
                        vals["l2sp"] = (reg(), 1.0)
                    total = sum(w * v for v, w in vals.values())
                floats = {k: float(v.detach()) for k, (v, _) in vals.items()}
                tot = float(total.detach())
                if not _finite(tot):
                    bad = next((k for k, v in floats.items() if not _finite(v)), "total")
                    self._restore(model, last_good)
                    self._write_failure(step, bad, floats.get(bad, tot), history, resolved, run_id, crit_name,
                                        is_oracle, last_good_ckpt)
                    raise TrainingDivergedError(step, bad, floats.get(bad, tot), last_good_ckpt)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(total).backward()
                    if c.grad_clip is not None:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(trainable, c.grad_clip)
                    scaler.step(opt)
                    scaler.update()
                else:
                    total.backward()
                    if c.grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(trainable, c.grad_clip)
                    opt.step()
                floats["total"] = tot
                for k, v in floats.items():
                    sums[k] = sums.get(k, 0.0) + v
                stats = {}
                for t in terms:
                    for k, v in (getattr(t.loss, "last_stats_", None) or {}).items():
                        stats[f"{t.name}/{k}"] = v
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                for k, v in lams.items():
                    sums[f"lambda/{k}"] = sums.get(f"lambda/{k}", 0.0) + v
                if use_source:
                    correct_s += int((ls.detach().argmax(1) == ysb).sum())
                    seen_s += ysb.shape[0]
                if step % c.log_every == 0:
                    rec = {"step": step, "epoch": epoch, "p": p, "lr": opt.param_groups[0]["lr"]}
                    rec.update({f"loss/{k}": v for k, v in floats.items()})
                    rec.update({f"lambda/{k}": v for k, v in lams.items()})
                    rec.update(stats)
                    if use_source:
                        rec["source_batch_acc"] = float((ls.detach().argmax(1) == ysb).float().mean())
                    if yt_eval is not None:
                        rec["target_batch_acc"] = float((lt.detach().argmax(1) == yt_eval[ti]).float().mean())
                    step_log.append(rec)
                step += 1

            rec = {"epoch": epoch, "step": step, "p": min(step / horizon, 1.0),
                   "lr": opt.param_groups[0]["lr"], "selection": crit_name, "oracle": is_oracle}
            for k, v in sums.items():
                key = k if k.startswith("lambda/") or "/" in k else f"loss/{k}"
                rec[key] = v / steps_per_epoch
            if seen_s:
                rec["source_train_acc"] = correct_s / seen_s
            last_good = self._snapshot(model)
            evaluate_now = (epoch + 1) % c.eval_every == 0 or epoch == c.epochs - 1
            if evaluate_now:
                cache["step"] = step
                outputs = self._outputs(model, eval_split, needs | {"source_val"}, device)
                score = float(criterion(outputs, eval_split, cache=cache))
                rec[f"selection/{crit_name}"] = score
                for name, fn in recorded.items():
                    rec[f"selection/{name}"] = float(fn(outputs, eval_split, cache=cache))
                rec["source_val_acc"] = float((outputs["source_val"]["logits"].argmax(1)
                                               == eval_split.source_val.y).mean())
                rec.update(self._target_eval(model, split, device))
                if "target_val_acc" in rec:
                    rec["gap_val_acc"] = rec["source_val_acc"] - rec["target_val_acc"]
                for k, fn in self.hooks:
                    if (epoch + 1) % k == 0:
                        extra = fn(model, epoch)
                        if extra:
                            rec.update(extra)
                        model.train()
                        for m in frozen:
                            m.eval()
                if score > best_score:
                    best_score, best_epoch, best_state, bad_evals = score, epoch, last_good, 0
                else:
                    bad_evals += 1
                rec["best_epoch"] = best_epoch
            history.append(rec)
            if not warned_memorised and self._adversarial_under_adam(terms) \
                    and rec.get("loss/ce_source", math.inf) < MEMORISED_SOURCE_CE:
                warned_memorised = True
                msg = (f"epoch {epoch}: the source cross-entropy is {rec['loss/ce_source']:.3g} "
                       f"(< {MEMORISED_SOURCE_CE}) with an adversarial loss under optimizer="
                       f"{c.optimizer!r}: the source is memorised, the features get almost only the "
                       "reversed discriminator gradient, which Adam rescales to full-size steps; on "
                       "digits->MNIST this stopped DANN and CDAN from aligning, and optimizer='sgd' "
                       "fixed it (see da.align.DANNLoss, Notes)")
                warnings.warn(msg, stacklevel=4)
                log.warning(msg)
            if self.verbose:
                log.info(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in rec.items()))
            if self.run_dir is not None:
                last_good_ckpt = save_checkpoint(self.run_dir / "last_good.pt", model, resolved,
                                                 {"epoch": epoch, "step": step})
                atomic_write_text(self.run_dir / "metrics.jsonl",
                                  "".join(json.dumps(r, sort_keys=True) + "\n" for r in history))
            if c.patience is not None and bad_evals >= c.patience:
                stopped_early = True
                break

        self._restore(model, best_state)
        model.eval()
        metrics = self._final_metrics(model, split, device)
        result = FitResult(model=model, history=history, steps=step_log, config=resolved, selection=crit_name,
                           oracle=is_oracle, best_epoch=best_epoch, best_score=best_score, metrics=metrics,
                           run_id=run_id, n_steps=step, stopped_early=stopped_early,
                           seconds=time.perf_counter() - t0,
                           run_dir=str(self.run_dir) if self.run_dir is not None else None)
        if self.run_dir is not None:
            save_checkpoint(self.run_dir / "best.pt", model, resolved, metrics)
            atomic_write_text(self.run_dir / "steps.jsonl",
                              "".join(json.dumps(r, sort_keys=True) + "\n" for r in step_log))
            atomic_write_json(self.run_dir / "result.json", {"status": "ok", **result.to_dict()})
        return result

    # -- helpers ---------------------------------------------------------
    def _resolved_config(self, split, terms, horizon, steps_per_epoch, crit_name, is_oracle, d) -> dict:
        cfg = asdict(self.config)
        cfg.update(horizon=int(horizon), steps_per_epoch=int(steps_per_epoch), selection=crit_name,
                   device=str(self._device()))
        return {"train": cfg, "strategy": self.strategy.to_dict(),
                "losses": [{"name": t.name, "class": type(t.loss).__name__, "weight": t.describe(),
                            "params": _loss_params(t.loss), "repr": repr(t.loss)} for t in terms],
                "selection": crit_name, "oracle": is_oracle, "feature_dim": d,
                "n_classes": int(split.n_classes), "sizes": split.sizes(), **self.tags}

    @staticmethod
    def _snapshot(model) -> dict:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    @staticmethod
    def _restore(model, state):
        if state is not None:
            model.load_state_dict(state)

    def _eval_split(self, split: Split, needs: set, rng) -> Split:
        """Cap the training parts scored for selection at ``max_eval_samples`` rows."""
        from dataclasses import replace

        n = self.config.max_eval_samples
        return replace(split, source_train=_subsample(split.source_train, n, rng),
                       target_train=_subsample(split.target_train, n, rng))

    @staticmethod
    def _outputs(model, split: Split, parts: set, device) -> dict:
        return {p: predict_outputs(model, getattr(split, p).X, device=device) for p in sorted(parts)
                if len(getattr(split, p))}

    @staticmethod
    def _target_eval(model, split: Split, device) -> dict:
        """Target accuracy for **evaluation only** (never read by a non-oracle criterion)."""
        out = {}
        for part, y in (("target_val", split.eval_labels.val), ("target_test", split.eval_labels.test)):
            if y is not None and len(getattr(split, part)):
                lg = predict_outputs(model, getattr(split, part).X, device=device, features=False)["logits"]
                out[f"{part}_acc"] = float((lg.argmax(1) == y).mean())
        return out

    def _final_metrics(self, model, split: Split, device) -> dict:
        from scipy.special import softmax

        out = {}
        parts = [("source_val", split.source_val.y), ("source_test", split.source_test.y),
                 ("target_val", split.eval_labels.val), ("target_test", split.eval_labels.test)]
        for part, y in parts:
            X = getattr(split, part).X
            if y is not None and len(y) and len(X):
                lg = predict_outputs(model, X, device=device, features=False)["logits"]
                out[part] = classification_metrics(softmax(lg.astype(np.float64), axis=1), y, split.n_classes)
        return out

    def _write_failure(self, step, term, value, history, resolved, run_id, crit_name, is_oracle, ckpt):
        if self.run_dir is None:
            return
        atomic_write_text(self.run_dir / "metrics.jsonl",
                          "".join(json.dumps(r, sort_keys=True) + "\n" for r in history))
        atomic_write_json(self.run_dir / "result.json", {
            "status": "diverged", "step": step, "term": term, "value": str(value), "config": resolved,
            "run_id": run_id, "selection": crit_name, "oracle": is_oracle,
            "last_good_checkpoint": str(ckpt) if ckpt else None})


def finetune(model, data, losses=None, *, strategy=None, config=None, hooks: Sequence = (), run_dir=None,
             verbose: bool = False, **overrides) -> FitResult:
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
        Where to write records and checkpoints.
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
    return Trainer(cfg, losses, strategy, hooks, run_dir, verbose).fit(model, data)
