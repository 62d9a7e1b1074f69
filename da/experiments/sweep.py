"""Sweeps: many resolved configs, run where they have not run yet, on a process pool or a dask cluster.

Every backend calls :func:`execute_run` once per config. It takes the run's
lock (``flock``; the kernel drops it when its holder dies), looks at the run
directory and

* skips a *completed* run (its ``result.json`` parses and names the run);
* skips a *failed* run (``failed.json``) unless ``retry_failed``;
* otherwise wipes whatever a killed attempt left and runs
  :func:`~da.experiments.pipeline.run_experiment`, which writes ``result.json``
  last, atomically (temporary file + rename).

So a sweep killed at any point (SIGKILL included) and started again ends with
every run present exactly once, and a half-written file never counts as done.
A run that raises is recorded in ``failed.json`` with its error and the sweep
goes on.

Backends: ``"local"`` (``jobs=1``: in this process, with epoch progress bars;
``jobs>1``: a pool of ``spawn``-ed worker processes) and ``"dask"``
(:mod:`distributed`: an existing scheduler at ``scheduler``, or a
``LocalCluster`` of ``jobs`` single-threaded worker processes on 127.0.0.1).
With a remote cluster the output root must be on a filesystem the workers share.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from pathlib import Path

from da._io import atomic_write_json
from da import _runs as R
from da.experiments.config import config_hash

__all__ = ["run_sweep", "execute_run", "plan_sweep", "BACKENDS"]

BACKENDS = ("local", "dask")
log = logging.getLogger("da.experiments")


def _root_of(cfg: dict, out_dir) -> Path:
    return Path(out_dir) if out_dir is not None else Path(cfg["output"])


def plan_sweep(configs, out_dir=None) -> list[dict]:
    """What a sweep would do: one ``{run_id, run_dir, state}`` per config, without running anything."""
    out = []
    for cfg in configs:
        rid = config_hash(cfg)
        rd = _root_of(cfg, out_dir) / rid
        out.append({"run_id": rid, "run_dir": str(rd), "state": R.run_state(rd)})
    return out


def execute_run(cfg: dict, out_dir=None, *, retry_failed: bool = False, force: bool = False,
                progress: bool = False, threads: int | None = None) -> dict:
    """Run one resolved config unless it already completed; never raises for a failing run.

    Returns
    -------
    dict
        ``run_id``, ``run_dir``, ``status`` (``"completed"``: ran now;
        ``"skipped"``: completed before; ``"failed"``: raised now;
        ``"skipped_failed"``: failed before and not retried), ``result`` (the
        ``result.json`` record, when there is one) and ``error``.
    """
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    root = _root_of(cfg, out_dir)
    rid = config_hash(cfg)
    rd = root / rid
    base = {"run_id": rid, "run_dir": str(rd), "result": None, "error": None}
    with R.run_lock(root, rid, blocking=False) as free:
        if not free:
            log.info("run %s is held by another process; waiting for it", rid)
    with R.run_lock(root, rid):
        state = R.run_state(rd)
        if state == "completed" and not force:
            return {**base, "status": "skipped", "result": R.read_result(rd)}
        if state == "failed" and not (retry_failed or force):
            fail = R.read_failure(rd) or {}
            return {**base, "status": "skipped_failed",
                    "error": f"{fail.get('error_type', 'Error')}: {fail.get('error', '')}"}
        from da.experiments.pipeline import run_experiment

        try:
            result = run_experiment(cfg, root, progress=progress)
        except Exception as exc:  # recorded in failed.json by run_experiment; the sweep goes on
            return {**base, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        return {**base, "status": "completed", "result": result}


def _record_crash(cfg: dict, out_dir, exc: BaseException) -> dict:
    """A run whose worker died (no exception inside the run to catch): record it as failed."""
    rid = config_hash(cfg)
    rd = _root_of(cfg, out_dir) / rid
    err = f"{type(exc).__name__}: {exc}"
    try:
        if R.run_state(rd) != "completed":
            rd.mkdir(parents=True, exist_ok=True)
            R.write_failure(rd, rid, exc, "".join(traceback.format_exception(exc)), worker_crash=True)
    except OSError:  # the run directory lives on a filesystem we cannot see (remote workers)
        pass
    return {"run_id": rid, "run_dir": str(rd), "status": "failed", "result": None, "error": err}


def _init_worker(threads):
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    logging.getLogger("distributed").setLevel(logging.WARNING)


def _bar(total: int, quiet: bool, desc: str = "runs"):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="run", disable=quiet)


def _local(configs, out_dir, jobs, opts, quiet, bar):
    statuses: list = [None] * len(configs)
    if jobs <= 1:
        for i, cfg in enumerate(configs):
            statuses[i] = execute_run(cfg, out_dir, progress=not quiet, **opts)
            _tick(bar, statuses[i])
        return statuses
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(opts.get("threads"),)) as pool:
        futs = {pool.submit(execute_run, cfg, out_dir, **opts): i for i, cfg in enumerate(configs)}
        for fut in as_completed(futs):
            i = futs[fut]
            try:
                statuses[i] = fut.result()
            except BrokenProcessPool as exc:
                # a worker died (OOM, segfault): its run and the queued ones did not finish; they
                # stay partial/absent, so rerunning the sweep resumes them
                rid = config_hash(configs[i])
                statuses[i] = {"run_id": rid, "run_dir": str(_root_of(configs[i], out_dir) / rid),
                               "status": "crashed", "result": None,
                               "error": f"{type(exc).__name__}: {exc}"}
            except Exception as exc:
                statuses[i] = _record_crash(configs[i], out_dir, exc)
            _tick(bar, statuses[i])
    return statuses


def _dask(configs, out_dir, jobs, scheduler, opts, bar):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("--backend dask needs dask.distributed: pip install 'dask[distributed]' "
                          "(or pip install da[dask])") from None
    cluster = None
    if scheduler and Path(scheduler).is_file():  # a scheduler file (dask scheduler --scheduler-file)
        client = Client(scheduler_file=str(scheduler))
    elif scheduler:
        client = Client(scheduler)
    else:
        # everything on loopback: scheduler, workers and the dashboard (a free port, so two
        # sweeps on one machine do not fight over 8787)
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.WARNING)
        client = Client(cluster)
    statuses: list = [None] * len(configs)
    try:
        futs = {}
        for i, cfg in enumerate(configs):
            fut = client.submit(execute_run, cfg, None if out_dir is None else str(out_dir), **opts,
                                key=f"da-run-{config_hash(cfg)}-{os.getpid()}-{time.time_ns()}",
                                pure=False)
            futs[fut] = i
        for fut in as_completed(list(futs)):
            i = futs[fut]
            try:
                statuses[i] = fut.result()
            except Exception as exc:  # KilledWorker and friends: the run never reported back
                statuses[i] = _record_crash(configs[i], out_dir, exc)
            _tick(bar, statuses[i])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return statuses


def _tick(bar, status):
    bar.update(1)
    if status["status"] in ("failed", "crashed"):
        bar.da_failed = getattr(bar, "da_failed", 0) + 1
        bar.set_postfix(failed=bar.da_failed)


def run_sweep(configs, out_dir=None, *, backend: str = "local", jobs: int = 1, scheduler: str | None = None,
              retry_failed: bool = False, force: bool = False, quiet: bool = False,
              threads_per_run: int | None = None) -> list[dict]:
    """Run every resolved config that has not completed yet.

    Parameters
    ----------
    configs : list of dict
        Resolved configs (:func:`~da.experiments.config.expand_sweep`).
    out_dir : path, optional
        Output root for all runs (default: each config's ``output``).
    backend : {"local", "dask"}
    jobs : int
        Worker processes (local pool or LocalCluster workers); 1 runs in this process.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``) or the path of its
        scheduler file (``dask scheduler --scheduler-file``); implies ``backend="dask"``.
    retry_failed : bool
        Run again the runs that failed before (default: skip them).
    force : bool
        Run everything again, completed runs included.
    quiet : bool
        No progress bars.
    threads_per_run : int, optional
        ``torch.set_num_threads`` in each worker (default: CPUs / jobs for
        worker pools; untouched in this process).

    Returns
    -------
    list of dict
        One status per config, in order (see :func:`execute_run`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if scheduler and backend != "dask":
        backend = "dask"
    jobs = int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    configs = list(configs)
    ids = [config_hash(c) for c in configs]
    if len(set(ids)) != len(ids):  # expand_sweep dedupes; a hand-made list may not
        seen, uniq = set(), []
        for c, i in zip(configs, ids):
            if i not in seen:
                seen.add(i)
                uniq.append(c)
        configs = uniq
    threads = threads_per_run
    if threads is None and (jobs > 1 or backend == "dask"):
        threads = max(1, (os.cpu_count() or 1) // jobs)
    opts = {"retry_failed": retry_failed, "force": force, "threads": threads}
    _write_manifest(configs, out_dir)
    bar = _bar(len(configs), quiet)
    try:
        if backend == "local":
            statuses = _local(configs, out_dir, jobs, opts, quiet, bar)
        else:
            statuses = _dask(configs, out_dir, jobs, scheduler, opts, bar)
    finally:
        bar.close()
    return statuses


def _write_manifest(configs, out_dir) -> None:
    """``ROOT/_sweeps/<hash>.json``: the run ids of this sweep (collect can read just these)."""
    by_root: dict = {}
    for cfg in configs:
        by_root.setdefault(_root_of(cfg, out_dir), []).append(config_hash(cfg))
    for root, ids in by_root.items():
        atomic_write_json(root / R.SWEEP_DIR / f"{R.digest(sorted(ids))}.json",
                          {"run_ids": ids, "n_runs": len(ids), "written_at": time.time()})
