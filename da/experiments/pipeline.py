r"""One run of an experiment: pretrain (cached), diagnose, fine-tune, diagnose, evaluate.

:func:`run_experiment` is the whole pipeline behind ``da run``; every sweep
backend calls it once per resolved config. It writes the run directory
described in :mod:`da._runs`, ``result.json`` last.

The stages call the public functions of the modules to their left:
:mod:`da.data` / :mod:`da.datasets` build the pair, :mod:`da.transfer`
pretrains and fine-tunes (:func:`~da.transfer.pretrain`,
:func:`~da.transfer.finetune`), :mod:`da.diagnostics` compares source and target
(two-sample tests, gap metrics, label-shift estimates). Figures are not drawn
here: ``da run`` draws them from the records afterwards (:mod:`da.plot` sits
to the right of :mod:`da.experiments`).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import platform
import shutil
import threading
import time
import traceback
from pathlib import Path

import da
from da._io import atomic_write_json, atomic_write_text
from da.experiments import records as R
from da.experiments.build import build_losses, build_model, build_pair, train_config, weight_schedule
from da.experiments.config import (ConfigError, auto_candidates, config_hash, dump_config, pretrain_key,
                                  resolve_config)
from da.experiments.diagnose import diagnose, flat_metrics, gap_tracker

__all__ = ["run_experiment", "build_pair", "build_model", "build_losses", "weight_schedule",
           "diagnose", "flat_metrics"]

log = logging.getLogger("da.experiments")


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------

class _Bar:
    """An epoch progress bar (tqdm) for one stage, or nothing."""

    def __init__(self, enabled: bool, total: int, desc: str):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=False)

    def hook(self, model, epoch):
        if self.bar is not None:
            self.bar.n = epoch + 1
            self.bar.refresh()
        return {}

    def close(self):
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def _run_logging(path: Path):
    """Send the ``da`` loggers (this run's and da.transfer's) to ``run.log`` while the run lasts."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # a dask worker with several threads runs several runs in one process: each log keeps its own
    thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == thread)
    logger = logging.getLogger("da")
    old = logger.level
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
        handler.close()


def _pretrained(model, split, cfg: dict, cache_dir: Path, metrics_path: Path, bars: bool, resume: bool) -> dict:
    """Pretrain on the source, or load the cached result of the same pretraining config.

    With ``resume`` and ``pretrain.resume``, the state of every finished pretraining epoch is kept
    next to the cache entry (``<key>.resume/``, under the entry's lock) until the entry is written,
    so that a pretraining killed mid-way continues after its last saved epoch.
    """
    from da.transfer import load_checkpoint, pretrain, save_checkpoint
    from da.transfer.distributed import broadcast_object, context as dist_context

    key = pretrain_key(cfg)
    info = {"pretrain_key": key, "pretrain_cached": False, "pretrain_seconds": 0.0,
            "pretrain_resumed_after_epoch": None}
    if cfg["pretrain"]["epochs"] == 0:
        append = {"stage": "pretrain", "skipped": True}
        R.append_jsonl(metrics_path, append)
        return info
    path = cache_dir / "pretrain" / f"{key}.pt"
    ctx = dist_context()  # distributed: rank 0 holds the lock and decides; all ranks pretrain or load
    with R.file_lock(cache_dir / "pretrain" / f"{key}.lock") if ctx.is_writer else contextlib.nullcontext():
        ckpt = None
        if path.exists() and ctx.is_writer:
            try:
                ckpt = load_checkpoint(path, model)
            except Exception as exc:  # a cache entry we cannot read is recomputed, never trusted
                log.warning("pretrain cache %s unreadable (%s); pretraining again", path, exc)
                ckpt = None
        if broadcast_object(ctx, ckpt is not None) and ckpt is None:
            ckpt = load_checkpoint(path, model)
        if ckpt is not None:
            info["pretrain_cached"] = True
            history = ckpt["metrics"].get("history", [])
            info["pretrain_seconds"] = float(ckpt["metrics"].get("seconds", 0.0))
            log.info("pretrained model loaded from the cache (%s)", path)
        else:
            state = cache_dir / "pretrain" / f"{key}.resume"
            keep = bool(resume and cfg["pretrain"]["resume"])
            if not keep and ctx.is_writer:  # --force or resume: false: a stale state is never read
                shutil.rmtree(state, ignore_errors=True)
            bar = _Bar(bars, cfg["pretrain"]["epochs"], "pretrain")
            t0 = time.perf_counter()
            try:
                res = pretrain(model, split, config=train_config(cfg["pretrain"], cfg["seed"],
                                                                  stage="pretrain"),
                               hooks=[(1, bar.hook)], verbose=True, resume_dir=state if keep else None)
            finally:
                bar.close()
            history = res.history
            info["pretrain_seconds"] = time.perf_counter() - t0  # of this attempt
            info["pretrain_resumed_after_epoch"] = res.resumed_after_epoch
            if ctx.is_writer:
                save_checkpoint(path, model, {"pretrain_key": key, "data": cfg["data"], "model": cfg["model"],
                                              "pretrain": cfg["pretrain"], "seed": cfg["seed"]},
                                {"history": history, "metrics": res.metrics, "seconds": info["pretrain_seconds"]})
                shutil.rmtree(state, ignore_errors=True)  # the entry is written: nothing left to resume
    for rec in history:
        R.append_jsonl(metrics_path, {"stage": "pretrain", "cached": info["pretrain_cached"], **rec})
    return info


def run_experiment(config: dict, out_dir=None, *, progress: bool = False, cache_dir=None, resume: bool = True,
                   resume_dir=None) -> dict:
    """Run one resolved (or raw, sweep-free) config; returns the ``result.json`` record.

    Parameters
    ----------
    config : dict
        A config without ``grid``/``zip`` blocks; it is resolved here.
    out_dir : path, optional
        Output root (default ``config["output"]``). The run directory is
        ``out_dir/<run_id>``; it is emptied first, so this always runs (the
        sweep machinery decides what to skip).
    progress : bool
        Show tqdm bars over the epochs.
    cache_dir : path, optional
        Pretraining cache (default ``out_dir/_cache``).
    resume : bool
        With ``train.resume``, keep the fine-tuning state that a killed attempt
        left in the run directory's ``resume/`` and continue after its last
        epoch (the result is the uninterrupted run's, bit for bit on the same
        device and thread count). False (``--force``), or a run that had
        completed, fine-tunes from the first epoch. The state is rewritten
        atomically after every epoch and removed just before ``result.json``.
        ``target_only`` resumes the same way; ``method: auto`` (several candidate
        fits) starts again. With ``pretrain.resume``, a killed pretraining
        continues too, from the state kept next to its cache entry
        (``<cache_dir>/pretrain/<key>.resume/``, removed once the entry is written).
    resume_dir : path, optional
        Where that state lives (default ``<run_dir>/resume``); the ranks > 0 of
        a distributed job, which write a scratch run directory, read rank 0's.

    Returns
    -------
    dict
        ``run_id``, ``status="completed"``, ``config``, ``metrics`` (flat
        scalars, see :func:`flat_metrics`), ``run_dir`` and timing.

    Raises
    ------
    Exception
        Whatever stopped the run, after recording it in ``failed.json``.
    """
    cfg = resolve_config(config)
    rid = config_hash(cfg)
    root = Path(out_dir if out_dir is not None else cfg["output"])
    cache = Path(cache_dir) if cache_dir is not None else root / R.CACHE_DIR
    run_dir = root / rid
    prev = R.read_failure(run_dir)
    attempts = (prev or {}).get("attempts", 0) + 1
    resume_pretraining = bool(resume)  # with pretrain.resume; a killed pretraining is no run state
    resume = bool(resume and cfg["train"]["resume"] and R.run_state(run_dir) != R.COMPLETED)
    R.reset_run_dir(run_dir, keep=(R.RESUME_DIR,) if resume and resume_dir is None else ())
    resume_dir = (Path(resume_dir) if resume_dir is not None else run_dir / R.RESUME_DIR) if resume else None
    atomic_write_text(run_dir / R.CONFIG, dump_config(cfg))
    t_start = time.time()
    with _run_logging(run_dir / R.LOG):
        log.info("run %s (%s, method=%s) in %s", rid, cfg["name"], cfg["method"], run_dir)
        try:
            result = _run(cfg, rid, run_dir, cache, progress, t_start, attempts, resume_dir, resume_pretraining)
        except Exception as exc:
            log.error("run %s failed: %s: %s", rid, type(exc).__name__, exc)
            R.write_failure(run_dir, rid, exc, traceback.format_exc(), attempts=attempts,
                            config=cfg, seconds=time.time() - t_start)
            raise
    return result


def _run(cfg, rid, run_dir, cache, progress, t_start, attempts, resume_dir, resume_pretraining) -> dict:
    import torch

    from da.transfer import save_checkpoint
    from da.transfer.distributed import context as dist_context

    metrics_path = run_dir / R.METRICS
    timing: dict = {}
    t = time.perf_counter()
    pair = build_pair(cfg["data"])
    d = cfg["data"]
    split = pair.sample(d["n_source"], d["n_target"], seed=cfg["seed"],
                        n_target_labeled=d["n_target_labeled"],
                        **({"val_frac": d["val_frac"], "test_frac": d["test_frac"]}
                           if d["generator"] is not None else {}))
    timing["data_seconds"] = time.perf_counter() - t
    R.append_jsonl(metrics_path, {"stage": "data", "pair": pair.name, "sizes": split.sizes(),
                                  "n_classes": int(split.n_classes)})

    # (1) pretrain, cached by the hash of the pretraining part of the config
    model = build_model(cfg["model"], pair, cfg["seed"])
    pre = _pretrained(model, split, cfg, cache, metrics_path, progress, resume_pretraining)
    timing["pretrain_seconds"] = pre["pretrain_seconds"]

    # (2) diagnostics before transfer
    diag = cfg["diagnostics"]
    t = time.perf_counter()
    before = diagnose(model, split, pair, cfg, stage="before") if diag["before"] else None
    if before is not None:
        atomic_write_json(run_dir / R.REPORT_BEFORE, before)
        R.append_jsonl(metrics_path, {"stage": "before", **flat_metrics({}, before, None, {})})
    timing["diagnostics_before_seconds"] = time.perf_counter() - t

    # (3) fine-tune, diagnosing the features every k epochs
    t = time.perf_counter()
    fit = _finetune(model, split, cfg, progress, resume_dir)
    if cfg["method"] == "auto":
        model = fit.model  # the chosen candidate, or an ensemble of several
    timing["finetune_seconds"] = time.perf_counter() - t  # of this attempt: after `resumed_after_epoch`
    for rec in fit.history:
        R.append_jsonl(metrics_path, {"stage": "finetune", **rec})
    if cfg["train"]["log_every"]:
        for rec in fit.steps:
            R.append_jsonl(metrics_path, {"stage": "finetune_step", **rec})
    _replay_to_sinks(fit, cfg, run_dir, rid)
    if cfg["train"]["checkpoint"]:
        save_checkpoint(run_dir / R.CHECKPOINT, model, cfg, fit.metrics)

    # (4) diagnostics after
    t = time.perf_counter()
    after = None
    if diag["after"]:
        after = diagnose(model, split, pair, cfg, stage="after")
        atomic_write_json(run_dir / R.REPORT_AFTER, after)
    timing["diagnostics_after_seconds"] = time.perf_counter() - t

    # (5) evaluate, and result.json last (figures are drawn from the records by the CLI)
    extra = {"best_epoch": fit.best_epoch, "n_steps": fit.n_steps,
             "seconds": time.time() - t_start, "pretrain_cached": pre["pretrain_cached"]}
    metrics = flat_metrics(fit.metrics, before, after, extra)
    R.append_jsonl(metrics_path, {"stage": "eval", **metrics})
    result = {
        "run_id": rid, "status": "completed", "name": cfg["name"], "method": cfg["method"],
        "config": cfg, "metrics": metrics, "run_dir": str(run_dir),
        "pair": pair.name, "selection": fit.selection, "oracle": bool(fit.oracle),
        "pretrain_key": pre["pretrain_key"], "timing": timing, "attempts": attempts,
        "resumed_after_epoch": fit.resumed_after_epoch,
        "pretrain_resumed_after_epoch": pre["pretrain_resumed_after_epoch"],
        # every loss's constructor arguments, including those make_alignment sized to the features
        "losses": fit.config["losses"],
        **({"auto": fit.config["auto"]} if "auto" in fit.config else {}),
        "seconds": metrics["seconds"],
        "started_at": t_start, "finished_at": time.time(),
        "versions": {"da": da.__version__, "torch": torch.__version__, "python": platform.python_version()},
        # float reductions depend on the thread count: identical configs give identical numbers
        # only at the same torch_threads (sweeps default to CPUs / jobs per worker)
        "runtime": {"torch_threads": torch.get_num_threads(), "device": fit.config["train"]["device"],
                    "distributed": fit.config.get("distributed"),  # backend and world size, or None
                    "host": platform.node(), "pid": os.getpid()},
    }
    log.info("run %s completed in %.1fs; writing result.json", rid, metrics["seconds"])
    for h in logging.getLogger("da").handlers:  # nothing may land in the run directory after result.json
        h.flush()
    dist_context().barrier()  # distributed: no result.json unless every rank got here
    if resume_dir is not None and dist_context().is_writer:  # done: nothing to resume; rank 0's to remove
        shutil.rmtree(resume_dir, ignore_errors=True)
    return R.write_result(run_dir, result)


def _finetune(model, split, cfg: dict, progress: bool, resume_dir):
    """The fine-tuning stage's :class:`~da.transfer.FitResult`; it continues after the last epoch of
    a killed attempt whose state is in ``resume_dir`` (``fit.resumed_after_epoch``)."""
    from da.transfer import finetune
    from da.transfer.inputs import example_rows
    from da.transfer.models import feature_dim

    in_features = feature_dim(model.featurizer, example_rows(split.source_train.X, "cpu"))
    terms = build_losses(cfg["align"], cfg["lambda"], in_features, split.n_classes, cfg["seed"])
    bar = _Bar(progress, cfg["train"]["epochs"], f"{cfg['method']}")
    hooks = [(1, bar.hook)]
    if cfg["diagnostics"]["every"] and cfg["diagnostics"]["gaps"]:
        hooks.append((1, gap_tracker((split, cfg))))
    try:
        # the run directory's records are the pipeline's own (below); other sinks replay them
        train = dict(train_config(cfg["train"], cfg["seed"], stage="train"), loggers=["jsonl"])
        if cfg["method"] == "auto":  # several candidate fits: a killed auto run starts again
            fit = _auto(model, split, train, _strategy(cfg["transfer"]), cfg["auto"],
                        pretrained=cfg["pretrain"]["epochs"] > 0)
        elif cfg["method"] == "target_only":  # ORACLE: trains on target labels; the result says oracle
            from da.transfer import target_only

            fit = target_only(model, split, config=train, hooks=hooks, resume_dir=resume_dir)
        else:
            fit = finetune(model, split, terms, strategy=_strategy(cfg["transfer"]), config=train, hooks=hooks,
                           verbose=True, resume_dir=resume_dir)
    finally:
        bar.close()
    return fit


def _replay_to_sinks(fit, cfg: dict, run_dir: Path, rid: str) -> None:
    """The fine-tuning records, replayed into the sinks of ``train.loggers`` other than jsonl."""
    names = [n for n in cfg["train"]["loggers"] if n != "jsonl"]
    if not names:
        return
    from da._sinks import make_sinks

    with make_sinks(names, run_dir, rid, cfg) as sinks:
        for rec in fit.steps:
            sinks.log_step(rec, int(rec["step"]))
        for rec in fit.history:
            sinks.log_epoch(rec, int(rec["step"]))


def _auto(model, split, train: dict, strategy, options: dict, pretrained: bool):
    """``method: auto``: train the candidates of ``options`` (the config's ``auto:`` section; by default
    :data:`da.transfer.auto.AUTO_CANDIDATES`) from the pretrained model (the start of every method here,
    and the ``source_only`` candidate; without pretraining, ``source_only`` is trained here for the
    ``train`` epochs, as ``method: source_only`` is), and keep the one chosen without target labels
    (:func:`da.transfer.auto.auto_select`). ``model`` is loaded with the chosen candidate's weights; an
    ensemble rule's result is a new :func:`~da.transfer.softmax_ensemble` model instead. The record of every
    candidate's scores, the strategy, the choice and why are ``result.json``'s ``auto``."""
    import math

    from da.transfer.auto import auto_select
    from da.transfer.evaluate import final_metrics
    from da.transfer.fit_result import FitResult
    from da.transfer.trainer import TrainConfig, training_device

    # where the candidates train: a pretraining read from the cache is on the CPU, and the source_only candidate
    # (this model) must sit with the others, in an ensemble above all
    model.to(training_device(TrainConfig.from_kwargs(train)))
    chosen, models, record = auto_select(
        model, split, config=train, strategy=strategy, source_model=model if pretrained else None,
        candidates=auto_candidates(options),
        candidate_training=options["candidate_training"], rule=options["rule"], tolerance=options["tolerance"],
        finetune_epochs=options["finetune_epochs"])
    if chosen == "ensemble":  # the members share no weights with `model`: the ensemble is the run's model
        model = models["ensemble"]
    else:
        model.load_state_dict(models[chosen].state_dict())
    model.eval()
    device = next(model.parameters()).device
    return FitResult(model=model, history=[], steps=[], selection=record["rule"], oracle=False, best_epoch=-1,
                     best_score=math.nan, metrics=final_metrics(model, split, device), n_steps=0,
                     config={"losses": [], "auto": record, "train": {**train, "device": str(device)}})


def _strategy(transfer: dict):
    from da.transfer import STRATEGIES

    make = STRATEGIES[transfer["strategy"]]
    try:
        return make(**transfer["params"])
    except TypeError as exc:
        valid = [p for p in inspect.signature(make).parameters]
        raise ConfigError("transfer.params", f"{exc}; valid for {transfer['strategy']!r}: "
                                             f"{', '.join(valid) or '(none)'}") from None
