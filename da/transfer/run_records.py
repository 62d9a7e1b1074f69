"""What a training run writes, and where: the run directory of :func:`da.transfer.finetune`,
in the one format of :mod:`da._runs` (so ``da collect`` and ``da plot`` read it).

With ``run_dir``, a run writes (each file atomically): ``config.json`` (the resolved
configuration) at the start; per epoch ``metrics.jsonl`` (all epoch records so far),
``steps.jsonl``, ``last_good.pt`` and ``resume.pt``; at the end ``best.pt`` (the
selected weights) and ``result.json`` **last** (status ``completed``, the run id
:func:`da._runs.run_id` of the resolved config, flat metrics). A run that diverges
writes ``failed.json`` naming the step and the loss term, and keeps ``last_good.pt``.
Without ``run_dir`` nothing is written. The sinks of ``TrainConfig.loggers``
(TensorBoard, MLflow: :mod:`da._sinks`) receive the same records; ``jsonl`` are the
run directory's own records. In a distributed run only rank 0
writes (``writer=True``); every rank reads ``resume.pt``.

``resume_dir`` puts ``resume.pt`` elsewhere; with ``resume_dir`` and no ``run_dir``
only ``resume.pt`` is written (the :mod:`da.experiments` pipeline keeps it in its
run directory's :data:`da._runs.RESUME_DIR` and writes the other records itself).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from da import _runs as R
from da._io import atomic_torch_save, torch_load
from da.transfer.checkpoint import save_checkpoint

__all__ = ["RunRecords", "trainer_run_id", "resume_point", "RESUME"]

log = logging.getLogger("da.transfer")
#: the resume state of a run directory, rewritten at the end of every epoch.
RESUME = "resume.pt"


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _resume_state(run, run_id: str, epoch: int) -> dict:
    """Everything the loop needs to continue after ``epoch`` as if it had not stopped."""
    gen = next(iter(run.streams.values())).generator
    cuda = run.device.type == "cuda"
    return {"run_id": run_id, "epoch": int(epoch), "step": run.step,
            "model": _cpu(run.model.state_dict()), "losses": [_cpu(t.loss.state_dict()) for t in run.terms],
            "optimizer": run.optimizer.state_dict(), "precision": run.precision.state_dict(),
            "stream_generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(run.device) if cuda else None,
            "history": run.history, "steps": run.step_log, "best_score": run.best_score,
            "best_epoch": run.best_epoch, "best_state": run.best_state and _cpu(run.best_state),
            "bad_evals": run.bad_evals, "warned_memorised": run.warned_memorised}


def _load_resume_state(run, state: dict) -> None:
    run.model.load_state_dict(state["model"])
    for t, sd in zip(run.terms, state["losses"]):
        t.loss.load_state_dict(sd)
    run.optimizer.load_state_dict(state["optimizer"])
    run.precision.load_state_dict(state["precision"])
    next(iter(run.streams.values())).generator.set_state(state["stream_generator"].cpu())
    torch.set_rng_state(state["torch_rng"].cpu())
    if state.get("cuda_rng") is not None and run.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), run.device)
    run.history, run.step_log, run.step = list(state["history"]), list(state["steps"]), int(state["step"])
    run.best_score, run.best_epoch = float(state["best_score"]), int(state["best_epoch"])
    run.best_state = state["best_state"]
    run.bad_evals, run.warned_memorised = int(state["bad_evals"]), bool(state["warned_memorised"])
    run.last_good = {k: v.detach().clone() for k, v in run.model.state_dict().items()}


def resume_point(resume_dir) -> dict | None:
    """``{"run_id", "epoch", "step"}`` of the resume state in ``resume_dir``, or None when there is
    none or it cannot be read (the loop then trains from the first epoch). Tensors are memory-mapped,
    not read."""
    path = Path(resume_dir) / RESUME
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return {"run_id": state["run_id"], "epoch": int(state["epoch"]), "step": int(state["step"])}
    except Exception:  # torn or foreign: what RunRecords.resume would not trust either
        return None


def trainer_run_id(resolved: dict) -> str:
    """The run id of a trainer's resolved configuration (:func:`da._runs.run_id`)."""
    return R.run_id(resolved)


class RunRecords:
    """The records of one run: the run directory (optional) and the logging sinks."""

    def __init__(self, run_dir, config: dict, loggers=("jsonl",), *, writer: bool = True, resume_dir=None):
        self.dir = Path(run_dir) if run_dir is not None else None
        self.resume_dir = Path(resume_dir) if resume_dir is not None else self.dir
        self.resumed_after_epoch = None  # set by resume(): the saved epoch this run continues after
        self.config = config
        self.run_id = trainer_run_id(config)
        self.last_good = None
        self._n_steps_logged = 0
        self.writer = bool(writer)  # False on the ranks > 0 of a distributed run: they only read
        if self.dir is not None and self.writer:
            self.dir.mkdir(parents=True, exist_ok=True)
            R.write_config(self.dir, config)
        from da._sinks import make_sinks

        others = [n for n in loggers if n != "jsonl"]  # jsonl: the run directory's own records
        self.sinks = make_sinks(others if self.writer else [], self.dir, self.run_id, config)

    @property
    def path(self) -> str | None:
        return str(self.dir) if self.dir is not None else None

    def epoch(self, run, record: dict) -> None:
        """The records of a finished epoch: sinks, ``last_good.pt``, ``metrics.jsonl``, ``resume.pt``."""
        for rec in run.step_log[self._n_steps_logged:]:
            self.sinks.log_step(rec, int(rec["step"]))
        self._n_steps_logged = len(run.step_log)
        self.sinks.log_epoch(record, int(record["step"]))
        if not self.writer:
            return
        if self.dir is not None:
            self.last_good = save_checkpoint(self.dir / R.LAST_GOOD_CHECKPOINT, run.model, self.config,
                                             {"epoch": record["epoch"], "step": record["step"]})
            R.write_jsonl(self.dir / R.METRICS, run.history)
            R.write_jsonl(self.dir / R.STEPS, run.step_log)
        if self.resume_dir is not None:  # last: a resume point never runs ahead of the records
            self.resume_dir.mkdir(parents=True, exist_ok=True)
            atomic_torch_save(_resume_state(run, self.run_id, record["epoch"]), self.resume_dir / RESUME)

    def resume(self, run) -> int:
        """Load ``resume.pt`` of the same run into ``run``; returns the first epoch still to train (0 if none;
        ``epochs`` when the run had stopped early)."""
        path = None if self.resume_dir is None else self.resume_dir / RESUME
        if path is None or not path.exists():
            return 0
        try:
            state = torch_load(path, map_location=run.device)
        except Exception as exc:  # a torn or foreign file is never trusted: train from the start
            log.warning("cannot read %s (%s); training from the first epoch", path, exc)
            return 0
        if not isinstance(state, dict) or state.get("run_id") != self.run_id:
            log.warning("%s belongs to another configuration; training from the first epoch", path)
            return 0
        _load_resume_state(run, state)
        self.resumed_after_epoch = int(state["epoch"])
        good = None if self.dir is None else self.dir / R.LAST_GOOD_CHECKPOINT
        self.last_good = good if good is not None and good.exists() else None
        self._n_steps_logged = len(run.step_log)
        log.info("resuming run %s after epoch %d (step %d)", self.run_id, state["epoch"], run.step)
        train = self.config.get("train", {})
        if train.get("patience") is not None and run.bad_evals >= train["patience"]:
            run.stopped_early = True  # killed after its early stop: nothing is left to train
            return int(train["epochs"])
        return int(state["epoch"]) + 1

    def finish(self, model, result: dict, steps: list, *, write_checkpoint: bool = True) -> None:
        """The selected weights (``best.pt``), the step records and ``result.json``, last."""
        for rec in steps[self._n_steps_logged:]:
            self.sinks.log_step(rec, int(rec["step"]))
        self._n_steps_logged = len(steps)
        if self.dir is None or not self.writer:
            return
        if write_checkpoint:
            save_checkpoint(self.dir / R.BEST_CHECKPOINT, model, self.config, result.get("metrics", {}))
        R.write_jsonl(self.dir / R.STEPS, steps)
        flat = {**R.flat_fit_metrics(result["metrics"]), "best_epoch": result["best_epoch"],
                "best_score": result["best_score"], "n_steps": result["n_steps"], "seconds": result["seconds"]}
        R.write_result(self.dir, {**result, "fit_metrics": result["metrics"], "metrics": flat})

    def diverged(self, exc, history: list, selection: str, oracle: bool):
        """Write the records of a diverged run (``failed.json``); returns the last good checkpoint."""
        if self.dir is not None and self.writer:
            R.write_jsonl(self.dir / R.METRICS, history)
            R.write_failure(self.dir, self.run_id, exc, step=exc.step, term=exc.term, value=str(exc.value),
                            config=self.config, selection=selection, oracle=oracle,
                            last_good_checkpoint=str(self.last_good) if self.last_good else None)
        return self.last_good

    def close(self, status: str = R.COMPLETED) -> None:
        self.sinks.close(status)
