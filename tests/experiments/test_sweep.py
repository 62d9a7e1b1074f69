"""Sweeps: dask and local backends agree, SIGKILL + rerun, failures recorded and retried."""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from da.experiments import records as R
from da.experiments.collect import collect_runs
from da.experiments.config import config_hash, expand_sweep
from da.experiments.sweep import run_sweep

TIMING = ("seconds", "pretrain_cached")  # wall-clock and cache bookkeeping differ between backends


def _metrics(root):
    df = collect_runs(root).set_index("run_id")
    return {rid: {k: v for k, v in row.items() if k in df.attrs["metric_columns"] and k not in TIMING}
            for rid, row in df.iterrows()}


def test_dask_local_cluster_matches_the_local_backend(tmp_path, tiny):
    distributed = pytest.importorskip("distributed")
    configs = expand_sweep(dict(tiny, grid={"method": ["mmd", "coral"], "seed": [0, 1]}))
    assert len(configs) == 4
    local = run_sweep(configs, tmp_path / "local", jobs=1, quiet=True, threads_per_run=1)
    assert [s["status"] for s in local] == ["completed"] * 4
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        remote = run_sweep(configs, tmp_path / "dask", backend="dask", scheduler=cluster.scheduler_address,
                           quiet=True, threads_per_run=1)
        assert [s["status"] for s in remote] == ["completed"] * 4
        workers = list(cluster.scheduler_info["workers"])
        assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
        again = run_sweep(configs, tmp_path / "dask", backend="dask", scheduler=cluster.scheduler_address,
                          quiet=True, threads_per_run=1)
        assert [s["status"] for s in again] == ["skipped"] * 4
    a, b = _metrics(tmp_path / "local"), _metrics(tmp_path / "dask")
    assert set(a) == set(b) == {config_hash(c) for c in configs}
    assert a == b
    assert a[config_hash(configs[0])]["target_test_acc"] > 0


def _runs_dir_state(root):
    states = {}
    for d in Path(root).iterdir():
        if d.is_dir() and d.name not in (R.CACHE_DIR, R.LOCK_DIR, R.SWEEP_DIR):
            states[d.name] = R.run_state(d)
    return states


def test_a_sweep_killed_with_sigkill_resumes_without_loss_or_duplicates(tmp_path, tiny):
    cfg = copy.deepcopy(tiny)
    cfg["data"].update(n_source=600, n_target=600)
    cfg["train"].update(epochs=12)
    cfg["grid"] = {"seed": [0, 1, 2, 3, 4, 5]}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    root = tmp_path / "runs"
    configs = expand_sweep(cfg)
    ids = {config_hash(c) for c in configs}

    proc = subprocess.Popen([sys.executable, "-m", "da.cli.sweep", str(path), "-o", str(root), "--jobs", "2",
                             "--threads-per-run", "1", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            st = _runs_dir_state(root) if root.exists() else {}
            done = sum(s == "completed" for s in st.values())
            if done >= 1 and "partial" in st.values():
                break
            assert proc.poll() is None, "the sweep finished before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("no completed + partial state within the deadline")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    st = _runs_dir_state(root)
    assert 1 <= sum(s == "completed" for s in st.values()) < 6 and "partial" in st.values()
    # a torn result.json (as a non-atomic writer would leave) must not count as done
    absent = sorted(ids - set(st))
    torn = absent[0] if absent else next(r for r, s in st.items() if s == "partial")
    (root / torn).mkdir(exist_ok=True)
    (root / torn / "result.json").write_text(json.dumps({"run_id": torn, "status": "completed"})[:25])
    (root / torn / ".result.json.x1.tmp").write_text("{")

    statuses = run_sweep(configs, root, jobs=1, quiet=True, threads_per_run=1)
    assert {s["status"] for s in statuses} <= {"completed", "skipped"}
    assert sum(s["status"] == "completed" for s in statuses) == 6 - sum(s == "completed" for s in st.values())
    assert _runs_dir_state(root) == {rid: "completed" for rid in ids}
    for rid in ids:
        d = root / rid
        assert not list(d.glob(".*tmp")) and not list(root.glob(f".{rid}.trash*"))
        recs = R.read_jsonl(d / R.METRICS)
        assert [r["epoch"] for r in recs if r.get("stage") == "finetune"] == list(range(12))
        assert sum(r.get("stage") == "eval" for r in recs) == 1
    df = collect_runs(root)
    assert len(df) == 6 and set(df["run_id"]) == ids


def test_a_failing_run_is_recorded_and_does_not_stop_the_sweep(tmp_path, tiny, monkeypatch):
    diverging = dict(tiny, seed=9, train={"lr": 1e8, "optimizer": "sgd", "epochs": 2, "batch_size": 64})
    configs = expand_sweep(dict(tiny, grid={"seed": [0, 1]})) + expand_sweep(diverging)
    bad = config_hash(configs[2])
    st = run_sweep(configs, tmp_path, jobs=1, quiet=True)
    assert [s["status"] for s in st] == ["completed", "completed", "failed"]
    assert "TrainingDivergedError" in st[2]["error"]
    fail = R.read_failure(tmp_path / bad)
    assert fail["error_type"] == "TrainingDivergedError" and fail["attempts"] == 1 and fail["traceback"]
    assert R.run_state(tmp_path / bad) == "failed" and not (tmp_path / bad / "result.json").exists()
    # rerun: failed runs are skipped unless asked
    st = run_sweep(configs, tmp_path, jobs=1, quiet=True)
    assert [s["status"] for s in st] == ["skipped", "skipped", "skipped_failed"]
    assert R.read_failure(tmp_path / bad)["attempts"] == 1
    st = run_sweep(configs, tmp_path, jobs=1, quiet=True, retry_failed=True)
    assert [s["status"] for s in st] == ["skipped", "skipped", "failed"]
    assert R.read_failure(tmp_path / bad)["attempts"] == 2
    assert len(collect_runs(tmp_path)) == 2
    assert len(collect_runs(tmp_path, include_failed=True)) == 3

    # a transient failure: retried after the cause is gone, the run completes
    import da.experiments.pipeline as P

    real = P.build_pair
    flaky = expand_sweep(dict(tiny, seed=5))[0]

    def broken(data):
        raise OSError("scratch disk full")

    monkeypatch.setattr(P, "build_pair", broken)
    assert run_sweep([flaky], tmp_path, quiet=True)[0]["status"] == "failed"
    monkeypatch.setattr(P, "build_pair", real)
    assert run_sweep([flaky], tmp_path, quiet=True)[0]["status"] == "skipped_failed"
    st = run_sweep([flaky], tmp_path, quiet=True, retry_failed=True)[0]
    assert st["status"] == "completed" and st["result"]["attempts"] == 2
    d = tmp_path / config_hash(flaky)
    assert R.run_state(d) == "completed" and not (d / "failed.json").exists()
