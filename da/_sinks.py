"""Logging sinks beside the JSONL records: TensorBoard and MLflow, chosen by name.

The records (``metrics.jsonl``, ``steps.jsonl``, :mod:`da._runs`) are what
``da collect`` and ``da plot`` read; TensorBoard and MLflow are views of the
same numbers for the tools people already use. The trainer calls::

    sinks = make_sinks(config.loggers, run_dir, run_name, resolved_config)
    sinks.log_step(step_record, step)     # every log_every steps
    sinks.log_epoch(epoch_record, step)   # once per epoch, step = global step at its end
    sinks.close("completed")              # or "failed"; also on an exception

Names (:data:`LOGGERS`):

``jsonl``
    The records themselves: ``metrics.jsonl`` (one line per epoch) and
    ``steps.jsonl`` (one per logged step), each rewritten atomically after
    every epoch, so a killed run leaves whole files.
``tensorboard``
    :class:`torch.utils.tensorboard.SummaryWriter` into ``<run_dir>/tensorboard``:
    each numeric key of an epoch record is a scalar tag (``loss/total``,
    ``lambda/dann``, ``target_val_acc``), each of a step record the same tag
    under ``step/``; the x-axis is the global step. Extra ``tensorboard``.
``mlflow``
    One MLflow run (named ``run_name``, in the experiment ``"da"``) whose
    params are the flattened resolved config and whose metrics are the same
    tags as TensorBoard's, at the global step. The store defaults to a local
    ``file:`` store at ``<run_dir>/mlruns`` (MLflow >= 3.7 keeps that backend
    in maintenance and needs ``MLFLOW_ALLOW_FILE_STORE=true``, which is set
    for that store only when unset); pass ``tracking_uri`` for another one
    (``sqlite:///mlflow.db``, a server). Extra ``mlflow``.

Bools and strings in a record are not metrics (``oracle``, ``selection``) and
are skipped by the two views; so are ``step`` and ``epoch`` (the axes).
"""

from __future__ import annotations

import math
import numbers
import os
import time
from pathlib import Path

from da import _runs as R

__all__ = ["LOGGERS", "Sinks", "make_sinks"]

#: The sink names, as in ``train.loggers``.
LOGGERS = ("jsonl", "tensorboard", "mlflow")
STEP_TAG = "step/"  # the tag prefix of per-step scalars (per-epoch ones have none)
_AXES = (R.STEP, R.EPOCH)
_EXPERIMENT = "da"
_STATUS = {R.COMPLETED: "FINISHED", R.FAILED_STATUS: "FAILED"}


def _scalars(record: dict, prefix: str = "") -> dict:
    """The numeric, non-bool entries of a record, as ``{tag: float}``."""
    return {prefix + k: float(v) for k, v in record.items()
            if k not in _AXES and isinstance(v, numbers.Real) and not isinstance(v, bool)}


def _missing(package: str, extra: str):
    return ImportError(f"loggers={[extra]!r} needs the {package} package: pip install {package} "
                       f"(or pip install 'da[{extra}]')")


class _JSONL:
    """``metrics.jsonl`` and ``steps.jsonl``, rewritten atomically after each epoch."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.epochs, self.steps = run_dir, [], []

    def log_epoch(self, record, step):
        self.epochs.append(dict(record))
        self._flush()

    def log_step(self, record, step):
        self.steps.append(dict(record))

    def _flush(self):
        R.write_jsonl(self.run_dir / R.METRICS, self.epochs)
        R.write_jsonl(self.run_dir / R.STEPS, self.steps)

    def close(self, status):
        self._flush()


class _TensorBoard:
    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise _missing("tensorboard", "tensorboard") from None
        self.writer = SummaryWriter(log_dir=str(run_dir / R.TENSORBOARD_DIR))

    def _write(self, scalars: dict, step: int):
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, global_step=int(step))

    def log_epoch(self, record, step):
        self._write(_scalars(record), step)
        self.writer.flush()

    def log_step(self, record, step):
        self._write(_scalars(record, STEP_TAG), step)

    def close(self, status):
        self.writer.flush()
        self.writer.close()


def _params(config: dict, prefix: str = "") -> dict:
    """A nested config as flat ``{dotted.key: str}`` MLflow params (values cut at 6000 chars)."""
    out = {}
    for k, v in (config or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_params(v, key + "."))
        else:
            out[key] = str(v)[:6000]
    return out


class _MLflow:
    def __init__(self, run_dir: Path, run_name: str, config: dict, tracking_uri: str | None):
        try:
            from mlflow.entities import Param
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise _missing("mlflow", "mlflow") from None
        if tracking_uri is None:
            tracking_uri = (run_dir / R.MLFLOW_DIR).resolve().as_uri()
        if tracking_uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=tracking_uri)
        exp = self.client.get_experiment_by_name(_EXPERIMENT)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(_EXPERIMENT)
        self.run_id = self.client.create_run(exp_id, run_name=run_name).info.run_id
        params = [Param(k, v) for k, v in _params(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i:i + 100])

    def _write(self, scalars: dict, step: int):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v if math.isfinite(v) else float("nan"), now, int(step)) for k, v in scalars.items()]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[i:i + 1000])

    def log_epoch(self, record, step):
        self._write(_scalars(record), step)

    def log_step(self, record, step):
        self._write(_scalars(record, STEP_TAG), step)

    def close(self, status):
        self.client.set_terminated(self.run_id, status=_STATUS.get(status, "KILLED"))


class Sinks:
    """The chosen sinks, called together; closing twice is harmless."""

    def __init__(self, sinks: list):
        self.sinks, self.closed = list(sinks), False

    def log_epoch(self, record: dict, step: int) -> None:
        for s in self.sinks:
            s.log_epoch(record, step)

    def log_step(self, record: dict, step: int) -> None:
        for s in self.sinks:
            s.log_step(record, step)

    def close(self, status: str = R.COMPLETED) -> None:
        if self.closed:
            return
        self.closed = True
        for s in self.sinks:
            s.close(status)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(R.COMPLETED if exc_type is None else R.FAILED_STATUS)


def make_sinks(names, run_dir, run_name: str | None = None, config: dict | None = None, *,
               tracking_uri: str | None = None) -> Sinks:
    """The sinks named in ``names`` (a subset of :data:`LOGGERS`), writing under ``run_dir``.

    Parameters
    ----------
    names : sequence of str
        ``train.loggers``: ``"jsonl"``, ``"tensorboard"``, ``"mlflow"``.
    run_dir : path or None
        The run directory. None is allowed only for no sinks at all.
    run_name : str, optional
        The MLflow run name (default: the directory's name).
    config : dict, optional
        The resolved config, logged as MLflow params.
    tracking_uri : str, optional
        MLflow store (default: the ``file:`` store ``<run_dir>/mlruns``).

    Raises
    ------
    ValueError
        On an unknown or repeated name, or sinks without a ``run_dir``.
    ImportError
        When ``tensorboard`` or ``mlflow`` is asked for and not installed
        (the message says which ``pip install`` to run).
    """
    if isinstance(names, str):
        names = [names]
    names = list(names or ())
    unknown = [n for n in names if n not in LOGGERS]
    if unknown:
        raise ValueError(f"unknown logger(s) {unknown} in loggers; valid: {', '.join(LOGGERS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"loggers lists a sink twice: {names}")
    if names and run_dir is None:
        raise ValueError(f"loggers={names} need a run_dir to write into")
    if not names:
        return Sinks([])
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    made = []
    try:
        for name in names:
            if name == "jsonl":
                made.append(_JSONL(run_dir))
            elif name == "tensorboard":
                made.append(_TensorBoard(run_dir))
            else:
                made.append(_MLflow(run_dir, run_name or run_dir.name, config or {}, tracking_uri))
    except BaseException:
        Sinks(made).close(R.FAILED_STATUS)
        raise
    return Sinks(made)
