"""What a training run writes, and where: the run directory of :func:`da.transfer.finetune`.

With ``run_dir``, a run writes (each file atomically): ``config.json`` (the resolved
configuration) at the start; per epoch ``metrics.jsonl`` (all epoch records so far) and
``last_good.pt``; at the end ``best.pt`` (the selected weights), ``steps.jsonl`` and
``result.json`` **last**. A run that diverges writes its records and a ``result.json``
with ``status: "diverged"`` naming the step and the loss term. Without ``run_dir``
nothing is written. Further sinks (TensorBoard, MLflow) receive the same epoch
records when ``TrainConfig.loggers`` names them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from da._io import atomic_write_json, atomic_write_text
from da.transfer.checkpoint import save_checkpoint

__all__ = ["RunRecords", "trainer_run_id"]


def trainer_run_id(resolved: dict) -> str:
    """Hash of a trainer's resolved configuration."""
    return hashlib.sha1(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _jsonl(records) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)


class RunRecords:
    """The records of one run: the run directory (optional) and the logging sinks."""

    def __init__(self, run_dir, config: dict, loggers=("jsonl",)):
        self.dir = Path(run_dir) if run_dir is not None else None
        self.config = config
        self.run_id = trainer_run_id(config)
        self.last_good = None
        self.sinks = []
        others = [n for n in loggers if n != "jsonl"]
        if others:
            from da.transfer.sinks import make_sinks

            self.sinks = make_sinks(others, self.dir, self.run_id, config)
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.dir / "config.json", config)

    @property
    def path(self) -> str | None:
        return str(self.dir) if self.dir is not None else None

    def epoch(self, model, record: dict, history: list) -> None:
        for s in self.sinks:
            s.log_epoch(record, int(record["step"]))
        if self.dir is None:
            return
        self.last_good = save_checkpoint(self.dir / "last_good.pt", model, self.config,
                                         {"epoch": record["epoch"], "step": record["step"]})
        atomic_write_text(self.dir / "metrics.jsonl", _jsonl(history))

    def finish(self, model, result: dict, steps: list, *, write_checkpoint: bool = True) -> None:
        for s in self.sinks:
            for rec in steps:
                s.log_step(rec, int(rec["step"]))
        if self.dir is None:
            return
        if write_checkpoint:
            save_checkpoint(self.dir / "best.pt", model, self.config, result.get("metrics", {}))
        atomic_write_text(self.dir / "steps.jsonl", _jsonl(steps))
        atomic_write_json(self.dir / "result.json", {"status": "ok", **result})

    def diverged(self, step: int, term: str, value: float, history: list, selection: str, oracle: bool):
        """Write the records of a diverged run; returns the last good checkpoint (or None)."""
        if self.dir is not None:
            atomic_write_text(self.dir / "metrics.jsonl", _jsonl(history))
            atomic_write_json(self.dir / "result.json", {
                "status": "diverged", "step": step, "term": term, "value": str(value), "config": self.config,
                "run_id": self.run_id, "selection": selection, "oracle": oracle,
                "last_good_checkpoint": str(self.last_good) if self.last_good else None})
        return self.last_good

    def close(self, status: str = "closed") -> None:
        for s in self.sinks:
            s.close(status)
        self.sinks = []
