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

Distributed runs (:mod:`da.transfer.distributed`): with ``nproc_per_node > 1``,
:func:`execute_run` runs the run as its own ``torchrun --standalone`` job (each
rank runs :func:`_distributed_main`) while it holds the run's lock. Inside an
initialised process group (a user's own ``torchrun -m da.cli.main run``), rank 0 takes the lock and decides, every rank trains, only rank 0 writes
the run directory (the others write a scratch one, share the pretraining cache
and skip figures and reports), and an error on any rank ends the job instead
of being recorded as a failed run: the run stays partial and a rerun does it again.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import subprocess
import sys
import tempfile
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
                progress: bool = False, threads: int | None = None, nproc_per_node: int | None = None) -> dict:
    """Run one resolved config unless it already completed; never raises for a failing run.

    Returns
    -------
    dict
        ``run_id``, ``run_dir``, ``status`` (``"completed"``: ran now;
        ``"skipped"``: completed before; ``"failed"``: raised now;
        ``"skipped_failed"``: failed before and not retried; ``"crashed"``: a
        process of its torchrun job died, the run stays partial), ``result`` (the
        ``result.json`` record, when there is one) and ``error``.
    """
    from da.transfer.distributed import broadcast_object, context

    ctx = context()
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    root = _root_of(cfg, out_dir)
    rid = config_hash(cfg)
    rd = root / rid
    base = {"run_id": rid, "run_dir": str(rd), "result": None, "error": None}
    with R.run_lock(root, rid, blocking=False) if ctx.is_writer else contextlib.nullcontext(True) as free:
        if not free:
            log.info("run %s is held by another process; waiting for it", rid)
    with R.run_lock(root, rid) if ctx.is_writer else contextlib.nullcontext():
        state = broadcast_object(ctx, R.run_state(rd))  # rank 0 decides for the job
        if state == "completed" and not force:
            return {**base, "status": "skipped", "result": R.read_result(rd)}
        if state == "failed" and not (retry_failed or force):
            fail = R.read_failure(rd) or {}
            return {**base, "status": "skipped_failed",
                    "error": f"{fail.get('error_type', 'Error')}: {fail.get('error', '')}"}
        if nproc_per_node and nproc_per_node > 1 and not ctx.enabled:
            return {**base, **_torchrun(cfg, root, rd, int(nproc_per_node), threads, resume=not force)}
        try:
            result = _run_on_this_rank(cfg, root, progress, ctx, resume=not force)
        except Exception as exc:  # recorded in failed.json by run_experiment; the sweep goes on
            if ctx.enabled:  # ...but not a distributed job: the other ranks would wait forever
                raise
            return {**base, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        return {**base, "status": "completed", "result": result}


def _run_on_this_rank(cfg: dict, root: Path, progress: bool, ctx, resume: bool = True) -> dict:
    """:func:`run_experiment` here; on a rank > 0 into a scratch directory, sharing the cache and
    reading rank 0's resume state."""
    from da.experiments.pipeline import run_experiment

    rid = config_hash(cfg)
    if ctx.is_writer:
        try:
            return run_experiment(cfg, root, progress=progress, resume=resume)
        except Exception as exc:
            if ctx.enabled and _peer_failed(exc):  # not this run's error: another rank died; stays partial
                (root / rid / R.FAILED).unlink(missing_ok=True)
            raise
    cfg = copy.deepcopy(cfg)
    cfg["figures"] = False
    for stage in ("before", "after"):  # reports are rank 0's; training does not read them
        cfg.get("diagnostics", {})[stage] = False
    with tempfile.TemporaryDirectory(prefix=f"da-rank{ctx.rank}-") as scratch:
        return run_experiment(cfg, scratch, progress=False, cache_dir=root / R.CACHE_DIR, resume=resume,
                              resume_dir=root / rid / R.RESUME_DIR)


def _peer_failed(exc: BaseException) -> bool:
    """A collective that failed because another rank went away (gloo: a closed connection)."""
    import torch.distributed as dist

    return isinstance(exc, dist.DistError) or (isinstance(exc, RuntimeError) and (
        "gloo" in str(exc).lower() or "nccl" in str(exc).lower()))


def _torchrun(cfg: dict, root: Path, rd: Path, nproc: int, threads, resume: bool = True) -> dict:
    """Run one config as a ``torchrun --standalone`` job of ``nproc`` processes; the outcome."""
    from collections import deque

    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=root, delete=False) as fh:
        json.dump(cfg, fh)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "--no-python", sys.executable, "-c", _RANK_MAIN, fh.name, str(root), "resume" if resume else "fresh"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads or os.environ.get("OMP_NUM_THREADS", 1))}
    tail: deque = deque(maxlen=30)
    try:
        with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env) as proc:
            for line in proc.stderr:  # the ranks' logs and torchrun's failure summary, passed on
                sys.stderr.write(line)
                tail.append(line)
    finally:
        os.unlink(fh.name)
    if proc.returncode == 0 and R.read_result(rd) is not None:
        return {"status": "completed", "result": R.read_result(rd)}
    if R.run_state(rd) == "failed":  # rank 0 raised and recorded it
        fail = R.read_failure(rd) or {}
        return {"status": "failed", "error": f"{fail.get('error_type', 'Error')}: {fail.get('error', '')}"}
    return {"status": "crashed", "error": f"torchrun exited {proc.returncode}: " + "".join(tail)[-2000:]}


#: what each rank of a :func:`_torchrun` job runs (``python -c _RANK_MAIN CONFIG.json ROOT resume|fresh``)
_RANK_MAIN = ("import sys; from da.experiments.sweep import _distributed_main; "
              "sys.exit(_distributed_main(sys.argv[1:]))")


def _distributed_main(argv) -> int:
    """One rank of a :func:`_torchrun` job: run ``CONFIG.json`` into the output root ``ROOT``, continuing a
    killed attempt's fine-tuning (``resume``) or not (``fresh``: ``--force``)."""
    import torch.distributed as dist

    from da.transfer.distributed import init_from_env

    ctx = init_from_env()
    with open(argv[0]) as fh:
        cfg = json.load(fh)
    _run_on_this_rank(cfg, Path(argv[1]), False, ctx, resume=argv[2:3] != ["fresh"])
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


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
              threads_per_run: int | None = None, nproc_per_node: int | None = None) -> list[dict]:
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
    nproc_per_node : int, optional
        Run each run as a ``torchrun`` job of this many processes (one per GPU).

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
    opts = {"retry_failed": retry_failed, "force": force, "threads": threads, "nproc_per_node": nproc_per_node}
    from da.transfer.distributed import context

    if context().enabled:  # inside a torchrun job: the runs one after the other, all ranks in step
        backend, jobs = "local", 1
    if context().is_writer:
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
