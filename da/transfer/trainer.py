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

:meth:`Trainer.fit` reads as its steps: :meth:`~Trainer._setup` (model, losses,
streams, optimizer), then per epoch :meth:`~Trainer._epoch` (which calls
:meth:`~Trainer._step` on each batch: forward, losses, divergence guard, backward,
optimizer step), :meth:`~Trainer._evaluate` every ``eval_every`` epochs (the
**named** selection criterion of :mod:`da.transfer.selection`; the best-scoring
weights are kept) and :meth:`~Trainer._end_epoch` (records, checkpoint), then
:meth:`~Trainer._finish` (restore the selected weights, final metrics, records).
Target accuracy is logged for evaluation only: no non-oracle criterion reads
target labels. With an initialised process group the same loop runs on every
process, each on its share of the global batches (:mod:`da.transfer.distributed`).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from da import _runs as R
from da._validation import check_positive_int
from da.transfer import distributed as D
from da.transfer._rng import seeded, torch_seed
from da.transfer.backbones import BottleneckFeaturizer, param_groups
from da.transfer.evaluate import final_metrics, part_outputs, target_accuracy
from da.transfer.fit_result import FitResult, TrainingDivergedError
from da.transfer.inputs import as_split, check_split, example_rows, make_split, make_streams, subsample_part
from da.transfer.losses import LossTerm, as_terms, describe_terms
from da.transfer.models import as_model, check_model_dims
from da.transfer.optim import Precision, accelerate, lr_factor, make_optimizer
from da.transfer.run_records import RunRecords
from da.transfer.selection import get_criterion
from da.transfer.strategies import get_strategy
from da.transfer.train_config import (MEMORISED_SOURCE_CE, TrainConfig, adversarial_under_adam,
                                      memorised_source_message)

__all__ = ["TrainConfig", "FitResult", "TrainingDivergedError", "Trainer", "make_split", "lr_factor", "training_device",
           "MEMORISED_SOURCE_CE"]

log = logging.getLogger("da.transfer")


@dataclass
class _Run:
    """The state of one fit, shared by its steps."""

    model: object
    split: object
    device: torch.device
    terms: list
    streams: dict
    steps_per_epoch: int
    horizon: int
    optimizer: object
    base_lrs: list
    params: list
    precision: Precision
    reg: object
    frozen: list
    criterion: object
    crit_name: str
    oracle: bool
    recorded: dict
    eval_split: object
    needs: set
    records: RunRecords
    dist: D.DistContext
    forward: object  # x -> (features, logits): the model's own, or its DDP wrapper
    term_fns: list  # how each loss term is called (itself, DDP-wrapped, or on gathered features)
    yt_eval: object = None
    cache: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    step_log: list = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = -1
    best_state: dict | None = None
    last_good: dict | None = None
    bad_evals: int = 0
    step: int = 0
    warned_memorised: bool = False
    stopped_early: bool = False
    t0: float = 0.0


def _snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _restore(model, state) -> None:
    if state is not None:
        model.load_state_dict(state)


def training_device(config) -> torch.device:
    """The device a :class:`Trainer` with ``config`` trains on: ``config.device``, else
    :func:`da.transfer.distributed.default_device` (CUDA when there is one)."""
    if config.device is not None:
        return torch.device(config.device)
    return D.default_device(D.context())


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
        Write the run's records and checkpoints there (atomically): see
        :class:`da.transfer.run_records.RunRecords`.
    verbose : bool
        Log one line per epoch (``logging`` at INFO).
    oracle : bool
        Mark the run as an oracle even if its criterion is not (the data
        themselves carry target labels, as in the target-only baseline).
    tags : dict, optional
        Extra entries recorded in the resolved config (e.g. ``{"baseline": "scratch"}``).
    """

    def __init__(self, config=None, losses=None, strategy=None, hooks: Sequence = (), run_dir=None,
                 verbose: bool = False, oracle: bool = False, tags: dict | None = None, resume_dir=None):
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
        self.resume_dir = resume_dir  # where resume.pt lives (default run_dir): RunRecords
        self.verbose = verbose

    # -- the loop --------------------------------------------------------
    def fit(self, model, data) -> FitResult:
        """Train ``model`` (a :class:`FeaturizerHead` or ``(featurizer, head)``) on ``data``."""
        c = self.config
        model = as_model(model)
        split = as_split(data, c.val_fraction, c.seed)
        check_split(split)
        device = self._device()
        with seeded(c.seed, device):
            run = self._setup(model, split, device)
            status = "failed"
            try:
                for epoch in range(run.records.resume(run) if c.resume else 0, c.epochs):
                    rec = self._epoch(run, epoch)
                    if (epoch + 1) % c.eval_every == 0 or epoch == c.epochs - 1:
                        self._evaluate(run, epoch, rec)
                    self._end_epoch(run, rec)
                    if c.patience is not None and run.bad_evals >= c.patience:
                        run.stopped_early = True
                        break
                result = self._finish(run)
                status = "completed"
                return result
            finally:
                run.records.close(status)

    def _epoch(self, run: _Run, epoch: int) -> dict:
        """One pass of ``steps_per_epoch`` steps; returns the epoch record (means over steps)."""
        run.model.train()
        for m in run.frozen:
            m.eval()
        for t in run.terms:
            t.loss.train()
        batches = {k: s.epoch(run.steps_per_epoch) for k, s in run.streams.items()}
        sums: dict = {}
        correct = seen = 0
        for _ in range(run.steps_per_epoch):
            out = self._step(run, {k: next(it) for k, it in batches.items()}, epoch)
            for k, v in out["sums"].items():
                sums[k] = sums.get(k, 0.0) + v
            correct, seen = correct + out["correct"], seen + out["seen"]
        rec = {"epoch": epoch, "step": run.step, "p": min(run.step / run.horizon, 1.0),
               "lr": run.optimizer.param_groups[0]["lr"], "selection": run.crit_name, "oracle": run.oracle}
        for k, v in sums.items():
            rec[k if "/" in k else R.loss_key(k)] = v / run.steps_per_epoch
        if seen:
            rec["source_train_acc"] = correct / seen
        run.last_good = _snapshot(run.model)
        return rec

    def _step(self, run: _Run, batch: dict, epoch: int) -> dict:
        """One optimisation step on one batch per stream: forward, losses, guard, backward, step."""
        c, p = self.config, min(run.step / run.horizon, 1.0)
        fac = lr_factor(c.lr_schedule, p)
        for g, b in zip(run.optimizer.param_groups, run.base_lrs):
            g["lr"] = b * fac
        parts = [batch[k][0] for k in ("s", "l", "t") if k in batch]
        x = torch.cat(parts) if len(parts) > 1 else parts[0]
        vals, lams = {}, {}
        with run.precision.autocast():
            f, logits = run.forward(x)
            fs = ls = ysb = None
            o = 0
            if "s" in batch:
                xs, ysb = batch["s"]
                fs, ls, o = f[:len(xs)], logits[:len(xs)], len(xs)
                if c.source_weight > 0:
                    vals["ce_source"] = (F.cross_entropy(ls.float(), ysb), c.source_weight)
            if "l" in batch:
                xl, ylb = batch["l"]
                vals["ce_target"] = (F.cross_entropy(logits[o:o + len(xl)].float(), ylb), c.target_weight)
                o += len(xl)
            if "t" in batch:
                ft, lt = f[o:], logits[o:]
                for t, fn in zip(run.terms, run.term_fns):
                    lams[t.name] = float(t.schedule(p))
                    vals[t.name] = (fn(fs, ft, logits_s=ls, logits_t=lt, ys=ysb, p=p).float(), lams[t.name])
            if run.reg is not None:
                vals["l2sp"] = (run.reg(), 1.0)
            total = sum(w * v for v, w in vals.values())
        floats = {**{k: float(v.detach()) for k, (v, _) in vals.items()}, "total": float(total.detach())}
        stats = {f"{t.name}/{k}": float(v) for t in run.terms
                 for k, v in (getattr(t.loss, "last_stats_", None) or {}).items()}
        log_now = bool(c.log_every) and run.step % c.log_every == 0
        counts = {"correct": int((ls.detach().argmax(1) == ysb).sum()), "seen": len(ysb)} if ysb is not None else {}
        if log_now and "t" in batch and batch["t"][1] is not None:  # evaluation-only labels, never a loss
            counts.update(t_correct=int((lt.detach().argmax(1) == batch["t"][1]).sum()), t_seen=len(lt))
        means, counts = D.reduce_step(run.dist, {**floats, **stats}, counts)  # means over ranks
        floats, stats = {k: means[k] for k in floats}, {k: means[k] for k in stats}
        tot = floats.pop("total")
        if not math.isfinite(tot):
            self._diverged(run, floats, tot)
        run.optimizer.zero_grad(set_to_none=True)
        run.precision.backward_step(total, run.optimizer, run.params, c.grad_clip)
        floats["total"] = tot
        sums = {**floats, **stats, **{R.weight_key(k): v for k, v in lams.items()}}
        if log_now:
            rec = {"step": run.step, "epoch": epoch, "p": p, "lr": run.optimizer.param_groups[0]["lr"]}
            rec.update({R.loss_key(k): v for k, v in floats.items()})
            rec.update({R.weight_key(k): v for k, v in lams.items()})
            rec.update(stats)
            if counts.get("seen"):
                rec["source_batch_acc"] = counts["correct"] / counts["seen"]
            if counts.get("t_seen"):
                rec["target_batch_acc"] = counts["t_correct"] / counts["t_seen"]
            run.step_log.append(rec)
        run.step += 1
        return {"sums": sums, "correct": counts.get("correct", 0), "seen": counts.get("seen", 0)}

    def _evaluate(self, run: _Run, epoch: int, rec: dict) -> None:
        """Score the selection criterion (and the recorded ones); keep the best weights."""
        run.cache["step"] = run.step
        outputs = part_outputs(run.model, run.eval_split, run.needs | {"source_val"}, run.device)
        score = float(run.criterion(outputs, run.eval_split, cache=run.cache))
        rec[R.selection_key(run.crit_name)] = score
        for name, fn in run.recorded.items():
            rec[R.selection_key(name)] = float(fn(outputs, run.eval_split, cache=run.cache))
        rec["source_val_acc"] = float((outputs["source_val"]["logits"].argmax(1)
                                       == run.eval_split.source_val.y).mean())
        rec.update(target_accuracy(run.model, run.split, run.device))
        if "target_val_acc" in rec:
            rec["gap_val_acc"] = rec["source_val_acc"] - rec["target_val_acc"]
        for k, fn in self.hooks:
            if (epoch + 1) % k == 0:
                rec.update(fn(run.model, epoch) or {})
                run.model.train()
                for m in run.frozen:
                    m.eval()
        if score > run.best_score:
            run.best_score, run.best_epoch, run.best_state, run.bad_evals = score, epoch, run.last_good, 0
        else:
            run.bad_evals += 1
        rec["best_epoch"] = run.best_epoch

    def _end_epoch(self, run: _Run, rec: dict) -> None:
        """Append the epoch record, warn on a memorised source under Adam, write records."""
        run.history.append(rec)
        if not run.warned_memorised and adversarial_under_adam(self.config, run.terms) \
                and rec.get(R.loss_key("ce_source"), math.inf) < MEMORISED_SOURCE_CE:
            run.warned_memorised = True
            msg = memorised_source_message(rec["epoch"], rec[R.loss_key("ce_source")], self.config.optimizer)
            warnings.warn(msg, stacklevel=5)
            log.warning(msg)
        if self.verbose:
            log.info(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
        run.records.epoch(run, rec)

    def _finish(self, run: _Run) -> FitResult:
        """Restore the selected weights, compute the final metrics, write the result last."""
        _restore(run.model, run.best_state)
        run.model.eval()
        metrics = final_metrics(run.model, run.split, run.device)
        run.dist.barrier()  # every rank got here: no result.json from a job one of whose ranks failed
        result = FitResult(model=run.model, history=run.history, steps=run.step_log,
                           config=run.records.config, selection=run.crit_name, oracle=run.oracle,
                           best_epoch=run.best_epoch, best_score=run.best_score, metrics=metrics,
                           run_id=run.records.run_id, n_steps=run.step, stopped_early=run.stopped_early,
                           seconds=time.perf_counter() - run.t0, run_dir=run.records.path,
                           resumed_after_epoch=run.records.resumed_after_epoch)
        run.records.finish(run.model, result.to_dict(), run.step_log, write_checkpoint=self.config.checkpoint)
        return result

    def _diverged(self, run: _Run, floats: dict, total: float):
        bad = next((k for k, v in floats.items() if not math.isfinite(v)), "total")
        value = floats.get(bad, total)
        _restore(run.model, run.last_good)
        exc = TrainingDivergedError(run.step, bad, value, run.records.last_good)
        run.records.diverged(exc, run.history, run.crit_name, run.oracle)
        raise exc

    # -- setup -----------------------------------------------------------
    def _setup(self, model, split, device) -> _Run:
        """Model and losses on the device, the streams, the optimizer and the run's records."""
        c = self.config
        t0 = time.perf_counter()
        criterion = get_criterion(c.selection)
        crit_name = c.selection if isinstance(c.selection, str) else getattr(c.selection, "__name__", "custom")
        is_oracle = bool(getattr(criterion, "oracle", False)) or self.oracle
        ctx = D.context()
        D.check_batches(asdict(c), ctx.world_size, section="")
        D.sync_batchnorm(model, device, ctx, c.sync_bn).to(device)
        example = example_rows(split.source_train.X, device)
        with torch.no_grad():
            d = check_model_dims(model, example, split.n_classes)
        terms: list[LossTerm] = as_terms(self.losses, in_features=d, n_classes=split.n_classes, seed=c.seed)
        for t in terms:
            t.loss.to(device)
        check_model_dims(model, example, split.n_classes, [t.loss for t in terms])
        needs, recorded = self._criteria_needs(criterion, crit_name, split)
        streams = make_streams(split, c, bool(terms), device, ctx.rank, ctx.world_size)
        if is_oracle:
            why = ("selection='oracle' reads labelled target validation data" if getattr(criterion, "oracle", False)
                   else "this run trains on target labels")
            msg = f"{why}; the run is marked oracle=True and is an upper bound, not an unsupervised result"
            warnings.warn(msg, stacklevel=4)
            log.warning(msg)
        steps_per_epoch = c.steps_per_epoch or max(math.ceil(s.n / s.batch_size) for s in streams.values())
        horizon = c.horizon if c.horizon is not None else c.epochs * steps_per_epoch
        groups, reg, frozen = self.strategy.prepare(model, c.lr, seed=c.seed)
        if self.strategy.backbone_lr_factor == 1.0 and (
                c.backbone_lr_factor is not None or isinstance(model.featurizer, BottleneckFeaturizer)):
            groups = param_groups(model, c.lr, c.backbone_lr_factor)  # backbone x factor, new layers x 1
        for t in terms:
            params = [p for p in t.loss.parameters() if p.requires_grad]
            if params:
                groups.append({"params": params, "lr": c.lr * c.discriminator_lr_factor,
                               "name": f"discriminator/{t.name}"})
        opt = make_optimizer(c, groups)
        resolved = self._resolved_config(split, terms, horizon, steps_per_epoch, crit_name, is_oracle, d, device)
        if ctx.enabled:
            resolved["distributed"] = ctx.describe()
        records = RunRecords(self.run_dir, resolved, c.loggers, writer=ctx.is_writer, resume_dir=self.resume_dir)
        eval_rng = np.random.default_rng(torch_seed(c.seed) % (2**32))
        eval_split = replace(split, source_train=subsample_part(split.source_train, c.max_eval_samples, eval_rng),
                             target_train=subsample_part(split.target_train, c.max_eval_samples, eval_rng))
        return _Run(model=model, split=split, device=device, terms=terms, streams=streams,
                    steps_per_epoch=steps_per_epoch, horizon=horizon, optimizer=opt,
                    base_lrs=[g["lr"] for g in opt.param_groups],
                    params=[p for g in opt.param_groups for p in g["params"]],
                    precision=Precision(c.precision, device, c.amp), reg=reg, frozen=frozen,
                    criterion=criterion, crit_name=crit_name, oracle=is_oracle, recorded=recorded,
                    eval_split=eval_split, needs=needs, records=records, last_good=_snapshot(model), t0=t0,
                    dist=ctx, forward=accelerate(D.wrap_model(model, device, ctx), model, c, device),
                    term_fns=[D.term_forward(t.loss, device, ctx, c.gather_features) for t in terms])

    def _criteria_needs(self, criterion, crit_name, split):
        needs = set(criterion.needs)
        recorded = {n: get_criterion(n) for n in self.config.record_criteria if n != crit_name}
        for fn in recorded.values():
            needs |= set(fn.needs)
        for part in needs & {"target_train", "target_val"}:
            if len(getattr(split, part)) < 1:
                raise ValueError(f"selection={crit_name!r} needs {part} samples, but it is empty")
        return needs, recorded

    def _device(self):
        return training_device(self.config)

    def _resolved_config(self, split, terms, horizon, steps_per_epoch, crit_name, is_oracle, d, device) -> dict:
        cfg = asdict(self.config)
        cfg.update(horizon=int(horizon), steps_per_epoch=int(steps_per_epoch), selection=crit_name,
                   device=str(device))
        return {"train": cfg, "strategy": self.strategy.to_dict(), "losses": describe_terms(terms),
                "selection": crit_name, "oracle": is_oracle, "feature_dim": d,
                "n_classes": int(split.n_classes), "sizes": split.sizes(), **self.tags}
