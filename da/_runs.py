"""The run-directory format: file names, statuses, record keys, the run id, readers and writers.

Whatever writes a run (:func:`da.transfer.finetune` with ``run_dir=``, the
:mod:`da.experiments` pipeline) and whatever reads one (``da collect``,
:mod:`da.plot`, the sweep's resume logic) uses the names declared here; no
reader guesses among alternative spellings. Stdlib only at import time.

Layout of a run directory::

    <run_dir>/
      config.yaml | config.json   the resolved config (written first; YAML by the pipeline)
      run.log                     the run's log
      metrics.jsonl               one JSON record per line (per epoch; staged in a pipeline run)
      steps.jsonl                 per-step records (trainer runs)
      report_before.json          diagnostics before transfer
      report_after.json           diagnostics after fine-tuning
      model.pt | best.pt          fine-tuned weights; last_good.pt: the last finite state
      figures/                    plots, drawn from the records by the CLI
      resume/resume.pt            a pipeline run's fine-tuning state while it is unfinished
                                  (train.resume): kept when a killed attempt is rerun,
                                  removed just before result.json
      tensorboard/, mlruns/       optional logging sinks (da._sinks)
      result.json                 written LAST, atomically: the run is complete iff it parses
      failed.json                 instead of result.json when the run raised

and under an output root of many runs: ``<run_id>/`` per run, ``_cache/``
(pretrained models), ``_locks/`` (one ``flock`` per run id), ``_sweeps/``
(one manifest per sweep).

A ``result.json`` counts only when it is complete (``status == "completed"``,
``run_id``, ``config`` and flat ``metrics``) and names the directory it lies
in: the directory's name is its ``run_id`` (an output root) or the base name
of its recorded ``run_dir`` (a directory chosen by the user). A copied or
renamed directory therefore reads as *partial*, and a sweep re-runs it. A
directory without a valid ``result.json`` or ``failed.json`` is partial: what
is in it came from a killed run, and the next attempt wipes it, all but its
``resume/`` (:data:`RESUME_DIR`) when the run resumes.

Old records read back: status ``"ok"`` (trainer runs before the format was
shared) is read as ``"completed"``, with its per-split metrics flattened;
status ``"diverged"`` in ``result.json`` is read as a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path

from da._io import atomic_write_json, atomic_write_text, file_lock
from da._json import dumps_line, json_default, to_jsonable

__all__ = [
    # file names
    "RESULT", "FAILED", "CONFIG", "CONFIG_JSON", "METRICS", "STEPS", "LOG", "CHECKPOINT",
    "BEST_CHECKPOINT", "LAST_GOOD_CHECKPOINT", "REPORT_BEFORE", "REPORT_AFTER", "FIGURES_DIR",
    "TENSORBOARD_DIR", "MLFLOW_DIR", "RESUME_DIR", "CACHE_DIR", "LOCK_DIR", "SWEEP_DIR",
    # statuses and stages
    "COMPLETED", "FAILED_STATUS", "STATES", "STAGES",
    # record keys
    "LOSS_PREFIX", "WEIGHT_PREFIX", "SELECTION_PREFIX", "DIAG_PREFIX", "loss_key", "weight_key",
    "EPOCH_ACCURACIES", "TARGET_EVAL_ACCURACIES", "STEP", "EPOCH", "BOUND_SUFFIXES",
    "selection_key", "FIT_METRICS", "flat_fit_metrics", "TARGET_ACC", "METHOD", "SEVERITY",
    "N_TARGET_LABELED", "STRATEGY", "GAP_AFTER", "TRUE_GAP",
    # ids, readers, writers
    "digest", "run_id", "read_json", "read_result", "read_failure", "run_state", "read_jsonl",
    "find_run_dirs", "write_config", "write_result", "write_failure", "append_jsonl", "write_jsonl",
    "reset_run_dir", "file_lock", "run_lock",
]

# --- file names --------------------------------------------------------------------------
RESULT = "result.json"
FAILED = "failed.json"
CONFIG = "config.yaml"
CONFIG_JSON = "config.json"
METRICS = "metrics.jsonl"
STEPS = "steps.jsonl"
LOG = "run.log"
CHECKPOINT = "model.pt"
BEST_CHECKPOINT = "best.pt"
LAST_GOOD_CHECKPOINT = "last_good.pt"
REPORT_BEFORE = "report_before.json"
REPORT_AFTER = "report_after.json"
FIGURES_DIR = "figures"
TENSORBOARD_DIR = "tensorboard"
MLFLOW_DIR = "mlruns"
#: a pipeline run's resume state (``resume.pt`` of :mod:`da.transfer.run_records`), inside its run
#: directory so that it goes wherever the run goes; not a run's records (no config, no result)
RESUME_DIR = "resume"
CACHE_DIR = "_cache"
LOCK_DIR = "_locks"
SWEEP_DIR = "_sweeps"
_RESERVED = (CACHE_DIR, LOCK_DIR, SWEEP_DIR, FIGURES_DIR, TENSORBOARD_DIR, MLFLOW_DIR)

# --- statuses ----------------------------------------------------------------------------
COMPLETED = "completed"
FAILED_STATUS = "failed"
#: What :func:`run_state` answers.
STATES = (COMPLETED, FAILED_STATUS, "partial", "absent")
_DEPRECATED_COMPLETED = "ok"      # FitResult records before the shared format
_DEPRECATED_DIVERGED = "diverged"  # a trainer divergence written to result.json
#: The ``stage`` of each record in a pipeline run's ``metrics.jsonl``, in the order written.
STAGES = ("data", "pretrain", "before", "finetune", "finetune_step", "eval")

# --- record keys -------------------------------------------------------------------------
#: Per-epoch and per-step trainer records: ``loss/<term>`` (``ce_source``, ``ce_target``,
#: each alignment term, ``l2sp``, ``total``), ``lambda/<term>`` (its weight at that step),
#: ``selection/<criterion>`` (the criterion's score), ``<term>/<stat>`` (a loss's
#: ``last_stats_``, e.g. ``dann/disc_acc``), ``diag/features_<metric>`` (the pipeline's
#: feature-gap hook, with ``_lo``/``_hi`` bounds), and the accuracies named in
#: :data:`EPOCH_ACCURACIES`.
LOSS_PREFIX = "loss/"
WEIGHT_PREFIX = "lambda/"
SELECTION_PREFIX = "selection/"
DIAG_PREFIX = "diag/"
EPOCH_ACCURACIES = ("source_train_acc", "source_val_acc", "target_val_acc", "target_test_acc",
                    "gap_val_acc", "source_batch_acc", "target_batch_acc")
#: The target accuracies of an epoch record: evaluation only (oracle information, never selection).
TARGET_EVAL_ACCURACIES = ("target_val_acc", "target_test_acc")
#: The axes of every trainer record: the global optimisation step and the epoch.
STEP, EPOCH = "step", "epoch"
#: Bounds of a logged estimate ``<key>``: ``<key>_lo`` and ``<key>_hi``.
BOUND_SUFFIXES = ("_lo", "_hi")


def loss_key(term: str) -> str:
    return f"{LOSS_PREFIX}{term}"


def weight_key(term: str) -> str:
    return f"{WEIGHT_PREFIX}{term}"


def selection_key(criterion: str) -> str:
    return f"{SELECTION_PREFIX}{criterion}"


#: ``result.json`` metrics of a fitted model on one split: ``{split}_{suffix}`` from the
#: ``classification_metrics`` entry (``target_test_acc`` is the evaluation-only, oracle accuracy).
FIT_METRICS = {"accuracy": "acc", "macro_f1": "f1", "ece": "ece"}

#: Columns of a :func:`da.experiments.collect_runs` table that figures read by default.
TARGET_ACC = "target_test_acc"
METHOD = "method"
STRATEGY = "transfer.strategy"
SEVERITY = "data.generator.severity"
N_TARGET_LABELED = "data.n_target_labeled"
GAP_AFTER = "after_features_mmd2"
TRUE_GAP = "true_mmd2"


def flat_fit_metrics(metrics: dict) -> dict:
    """``{split: {"accuracy": a, "macro_f1": f, "ece": e, ...}}`` -> ``{split_acc: a, split_f1: f, ...}``.

    The flat names every ``result.json`` carries (per-class lists stay out).
    """
    out = {}
    for part, m in (metrics or {}).items():
        for name, suffix in FIT_METRICS.items():
            if isinstance(m, dict) and name in m:
                out[f"{part}_{suffix}"] = float(m[name])
    return out


# --- run ids -----------------------------------------------------------------------------

def _hash_default(obj):
    try:
        return json_default(obj)
    except TypeError:
        return str(obj)


def digest(obj, n: int = 12) -> str:
    """SHA-256 (first ``n`` hex digits) of the canonical JSON of ``obj``.

    Canonical: sorted keys, no spaces, ASCII; numpy/torch values as their
    plain JSON values, any other object as its ``str``.
    """
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_hash_default)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()[:n]


def run_id(resolved_config: dict) -> str:
    """The run id of a resolved config: :func:`digest` of it, 12 hex digits.

    The same function names a pipeline run's directory (on its config less the
    keys that only label it, see :func:`da.experiments.config_hash`) and a
    :func:`da.transfer.finetune` run, so the id is stable however runs are ordered.
    """
    if not isinstance(resolved_config, dict):
        raise ValueError(f"resolved_config must be a dict, got {type(resolved_config).__name__}")
    return digest(resolved_config, 12)


# --- readers -----------------------------------------------------------------------------

def read_json(path):
    """The parsed JSON file at ``path``, or None when it is missing, torn or not JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _names_this_dir(rec: dict, run_dir: Path) -> bool:
    rid = rec.get("run_id")
    recorded = rec.get("run_dir")
    return isinstance(rid, str) and (rid == run_dir.name or (
        isinstance(recorded, str) and Path(recorded).name == run_dir.name))


def _upgrade_ok(rec: dict) -> dict:
    """A trainer record of status "ok" (nested per-split metrics) in the shared format."""
    warnings.warn(f"result.json of {rec.get('run_dir')!r} has the deprecated status 'ok' "
                  f"(read as {COMPLETED!r}); rerun to write the current format",
                  DeprecationWarning, stacklevel=3)
    rec = dict(rec, status=COMPLETED)
    nested = rec.get("metrics") if isinstance(rec.get("metrics"), dict) else {}
    if any(isinstance(v, dict) for v in nested.values()):
        rec["split_metrics"] = nested
        rec["metrics"] = {**flat_fit_metrics(nested),
                          **{k: rec[k] for k in ("best_epoch", "best_score", "n_steps", "seconds")
                             if isinstance(rec.get(k), (int, float)) and not isinstance(rec.get(k), bool)}}
    return rec


def read_result(run_dir) -> dict | None:
    """The run's ``result.json`` if it is a complete, valid record of this directory's run; else None.

    A truncated file, a record of another directory (see the module docstring)
    or one without ``config``/``metrics`` mappings does not count: the run is then partial.
    """
    run_dir = Path(run_dir)
    rec = read_json(run_dir / RESULT)
    if not isinstance(rec, dict) or not _names_this_dir(rec, run_dir):
        return None
    if rec.get("status") == _DEPRECATED_COMPLETED:
        rec = _upgrade_ok(rec)
    if rec.get("status") != COMPLETED or not isinstance(rec.get("metrics"), dict) \
            or not isinstance(rec.get("config"), dict):
        return None
    return rec


def read_failure(run_dir) -> dict | None:
    """The run's ``failed.json`` (or an old trainer's ``"diverged"`` result.json) if valid; else None."""
    run_dir = Path(run_dir)
    rec = read_json(run_dir / FAILED)
    if isinstance(rec, dict) and rec.get("status") == FAILED_STATUS and _names_this_dir(rec, run_dir):
        return rec
    old = read_json(run_dir / RESULT)
    if isinstance(old, dict) and old.get("status") == _DEPRECATED_DIVERGED and _names_this_dir(old, run_dir):
        return {**old, "status": FAILED_STATUS, "error_type": "TrainingDivergedError",
                "error": f"step {old.get('step')}: loss term {old.get('term')!r} is {old.get('value')}"}
    return None


def run_state(run_dir) -> str:
    """``"completed"``, ``"failed"``, ``"partial"`` (killed mid-way, or corrupt) or ``"absent"``."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return "absent"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a state query is not a read of the record
        if read_result(run_dir) is not None:
            return COMPLETED
    if read_failure(run_dir) is not None:
        return FAILED_STATUS
    return "partial"


def read_jsonl(path) -> list[dict]:
    """Every complete record of a JSON-lines file; torn or invalid lines are skipped, a missing file is []."""
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
    except FileNotFoundError:
        pass
    return out


def find_run_dirs(root) -> list[Path]:
    """Run directories under ``root`` (``root`` itself if it is one), sorted.

    A run directory holds a config, ``result.json`` or ``failed.json``; the
    cache, lock, sweep, figure and sink folders and hidden ones are skipped.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"no such directory: {root}")
    marks = (RESULT, FAILED, CONFIG, CONFIG_JSON)
    if any((root / m).exists() for m in marks) and root.name not in _RESERVED:
        return [root]
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _RESERVED and not d.startswith("."))
        if any(m in filenames for m in marks):
            found.add(Path(dirpath))
            dirnames[:] = []  # a run directory holds no runs
    return sorted(found)


# --- writers -----------------------------------------------------------------------------

def write_config(run_dir, config: dict, *, text: str | None = None) -> Path:
    """The resolved config, first thing in a run directory: ``config.yaml`` when ``text``
    (the pipeline's YAML) is given, else ``config.json``. Atomic."""
    run_dir = Path(run_dir)
    if text is not None:
        return atomic_write_text(run_dir / CONFIG, text)
    return atomic_write_json(run_dir / CONFIG_JSON, to_jsonable(config))


def write_result(run_dir, payload: dict) -> dict:
    """Write ``result.json`` (atomically, last thing in a run) and return the record.

    Parameters
    ----------
    run_dir : path
    payload : dict
        At least ``run_id`` (str), ``config`` (dict, the resolved config) and
        ``metrics`` (dict of flat scalars: ``target_test_acc``, ``best_epoch``,
        ...; use :func:`flat_fit_metrics` for per-split metrics). Any other
        key is kept. ``status`` is set to ``"completed"``, ``run_dir`` to the
        absolute path and ``finished_at`` to now (unless given).

    Raises
    ------
    ValueError
        On a missing ``run_id``/``config``/``metrics`` or a non-scalar metric.
    """
    run_dir = Path(run_dir).resolve()
    if not isinstance(payload, dict) or not isinstance(payload.get("run_id"), str) or not payload["run_id"]:
        raise ValueError("payload must be a dict with a non-empty str 'run_id'")
    for key in ("config", "metrics"):
        if not isinstance(payload.get(key), dict):
            raise ValueError(f"payload[{key!r}] must be a dict, got {type(payload.get(key)).__name__}")
    bad = [k for k, v in payload["metrics"].items()
           if not (v is None or isinstance(v, (bool, int, float, str)) or hasattr(v, "item"))]
    if bad:
        raise ValueError(f"payload['metrics'] must hold flat scalars; {bad} are not "
                         "(see da._runs.flat_fit_metrics)")
    rec = to_jsonable({**payload, "status": COMPLETED, "run_dir": str(run_dir),
                       "finished_at": payload.get("finished_at", time.time())})
    atomic_write_json(run_dir / RESULT, rec)
    return rec


def write_failure(run_dir, run_id: str, exc: BaseException, tb: str = "", **extra) -> dict:
    """Record a failed attempt in ``failed.json`` (atomically), counting attempts.

    ``extra`` is kept in the record (``config``, ``seconds``, a divergence's
    ``step``/``term``/``value``/``last_good_checkpoint``); ``attempts`` defaults
    to one more than the previous failure's.
    """
    run_dir = Path(run_dir)
    prev = read_failure(run_dir) if (run_dir / FAILED).exists() else None
    rec = {"run_id": run_id, "status": FAILED_STATUS, "error_type": type(exc).__name__,
           "error": str(exc), "traceback": tb, "run_dir": str(run_dir.resolve()), **extra}
    rec["attempts"] = int(extra.get("attempts", (prev or {}).get("attempts", 0) + 1))
    atomic_write_json(run_dir / FAILED, to_jsonable(rec))
    return rec


def append_jsonl(path, record: dict) -> None:
    """Append one record as a JSON line (a reader skips a torn last line of a killed run)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(dumps_line(record))
        fh.flush()


def write_jsonl(path, records) -> Path:
    """Write every record as JSON lines, replacing the file atomically."""
    return atomic_write_text(path, "".join(dumps_line(r) for r in records))


# --- run directories under an output root ------------------------------------------------

def reset_run_dir(run_dir, keep=()) -> Path:
    """Empty ``run_dir`` (what a killed or failed attempt left) and recreate it.

    Parameters
    ----------
    run_dir : path
    keep : sequence of str
        Entries of the old directory moved, whole, into the new one (the
        :data:`RESUME_DIR` of a run that resumes). An attempt killed while
        resetting leaves them in the renamed-away directory; the next reset
        takes them back from there.
    """
    run_dir = Path(run_dir)
    keep = tuple(keep)
    stale = sorted(run_dir.parent.glob(f".{run_dir.name}.trash.*"))  # left by an attempt killed while deleting
    if run_dir.exists():
        # rename first, so a reader never sees a half-deleted directory under the run id
        trash = run_dir.with_name(f".{run_dir.name}.trash.{os.getpid()}")
        if trash.exists():  # this pid's own leftover: it holds nothing newer than run_dir
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(run_dir, trash)
        stale = [trash] + [s for s in stale if s != trash]
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in stale:  # the current directory first, then the leftovers of killed resets
        for name in keep:
            if (old / name).exists() and not (run_dir / name).exists():
                os.replace(old / name, run_dir / name)
        shutil.rmtree(old, ignore_errors=True)
    return run_dir


def run_lock(root, run_id: str, blocking: bool = True):
    """:func:`file_lock` on ``ROOT/_locks/<run_id>.lock``: one attempt at a run at a time."""
    return file_lock(Path(root) / LOCK_DIR / f"{run_id}.lock", blocking)
