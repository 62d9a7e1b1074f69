"""Distributed training (gloo, 2 CPU processes): against the same fit on one process.

Reference: the one-process run of the same config. A 2-process run with global
batch B sees the same batches (each rank its half), and DDP's gradient average of
per-rank means is the global-batch mean, so source-only training (no BatchNorm, no
dropout) matches to float rounding; so does MMD on gathered features. Per-rank
alignment losses (DANN, MMD, JDOT) are other minibatch estimators: their target
accuracy is compared with the spread over seeds of the one-process run.
"""

import json
import os
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from da.data import DomainPair, GaussianDomain
from da.transfer import finetune, mlp

WORLD = 2
BASE = dict(epochs=3, batch_size=16, optimizer="sgd", lr=0.05, device="cpu", seed=0, log_every=5)


def _split():
    means = np.array([[0, 0, 0, 0], [3, 0, 0, 0], [0, 3, 0, 0]], dtype=float)
    covs = np.stack([np.eye(4) * 0.5] * 3)
    pair = DomainPair(GaussianDomain(means, covs, name="s"), GaussianDomain(means + 1.0, covs, name="t"))
    return pair.sample(200, 160, seed=0)


CASES = {  # name -> (losses, extra config)
    "source": (None, {}),
    "mmd_gathered": ([("mmd", 1.0)], {"gather_features": True}),
    "dann": ("dann", {}),
    "mmd": ([("mmd", 1.0)], {}),
    "jdot": ([("jdot", 0.1)], {}),
    "infomax_gathered": ([("infomax", 1.0)], {"gather_features": True}),
}


def _fit(name, split, seed=0, run_dir=None, hooks=()):
    losses, extra = CASES[name]
    return finetune(mlp(4, (16,), 3, seed=seed), split, losses, run_dir=run_dir, hooks=hooks,
                    **{**BASE, "seed": seed, **extra})


def _summary(res) -> dict:
    return {"state": {k: v.clone() for k, v in res.model.state_dict().items()},
            "history": res.history, "steps": res.steps, "acc": res.metrics["target_test"]["accuracy"],
            "config": res.config}


def _init(rank, store):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)


def _fits_worker(rank, store, out):
    _init(rank, store)
    split = _split()
    results = {name: _summary(_fit(name, split)) for name in CASES}
    try:
        finetune(mlp(4, (16,), 3), split, None, **{**BASE, "batch_size": 3})
    except ValueError as exc:
        results["error"] = str(exc)
    if rank == 0:
        torch.save(results, out)
    dist.destroy_process_group()


def _spawn(fn, tmp_path, *args):
    # fork, not spawn: a spawned child re-imports torch and da (half a minute on a loaded 2-core box)
    store = tmp_path / f"store-{os.getpid()}-{len(list(tmp_path.iterdir()))}"
    mp.start_processes(fn, args=(str(store), *args), nprocs=WORLD, start_method="fork")


@pytest.fixture(scope="module")
def two_process(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    out = tmp / "results.pt"
    _spawn(_fits_worker, tmp, str(out))
    return torch.load(out, weights_only=True)


def test_source_only_two_processes_match_one_process(two_process):
    one = _summary(_fit("source", _split()))
    two = two_process["source"]
    for k, v in one["state"].items():
        torch.testing.assert_close(two["state"][k], v, atol=1e-5, rtol=0)
    for a, b in zip(one["history"], two["history"], strict=True):
        assert abs(a["loss/ce_source"] - b["loss/ce_source"]) < 1e-5
        assert a["source_train_acc"] == b["source_train_acc"]
    for a, b in zip(one["steps"], two["steps"], strict=True):
        assert abs(a["loss/ce_source"] - b["loss/ce_source"]) < 1e-5
    assert two["config"]["distributed"] == {"backend": "gloo", "world_size": 2}
    assert "distributed" not in one["config"]


@pytest.mark.parametrize("name, key", [("mmd_gathered", "loss/mmd"), ("infomax_gathered", "loss/infomax")])
def test_gathered_losses_match_one_process(two_process, name, key):
    """On the gathered features (infomax: logits, whose diversity term is a function of the whole batch's mean
    prediction) the loss is the global batch's, and so is the fit."""
    one = _summary(_fit(name, _split()))
    two = two_process[name]
    for k, v in one["state"].items():
        torch.testing.assert_close(two["state"][k], v, atol=1e-5, rtol=0)
    for a, b in zip(one["history"], two["history"], strict=True):
        assert abs(a[key] - b[key]) < 1e-5


@pytest.mark.parametrize("name", ["dann", "mmd", "jdot"])
def test_alignment_two_processes_within_seed_noise(two_process, name):
    accs = [_fit(name, _split(), seed=s).metrics["target_test"]["accuracy"] for s in (0, 1, 2)]
    two = two_process[name]
    assert len(two["history"]) == BASE["epochs"] and np.isfinite(two["history"][-1]["loss/total"])
    assert abs(two["acc"] - np.mean(accs)) <= max(3 * np.std(accs), 0.05), (two["acc"], accs)


def test_batch_not_divisible_rejected_at_setup(two_process):
    assert "batch_size=3" in two_process["error"] and "divisible" in two_process["error"]


class _Kill:
    """Hook that kills rank 1 at the end of epoch 1 (after the epoch's all-reduces)."""

    def __call__(self, model, epoch):
        if dist.get_rank() == 1 and epoch == 1:
            os._exit(3)
        return {}


def _run_dir_worker(rank, store, run_dir, kill):
    _init(rank, store)
    hooks = [(1, _Kill())] if kill else []
    res = _fit("source", _split(), run_dir=run_dir, hooks=hooks)
    if rank == 0:
        torch.save(_summary(res), os.path.join(run_dir, "summary.pt"))
    dist.destroy_process_group()


def test_killed_rank_fails_job_without_result_and_rerun_completes(tmp_path, two_process):
    run_dir = tmp_path / "run"
    with pytest.raises(mp.ProcessExitedException):
        _spawn(_run_dir_worker, tmp_path, str(run_dir), True)
    assert not (run_dir / "result.json").exists()
    assert (run_dir / "config.json").exists()  # rank 0 wrote the start of the run, and only that
    _spawn(_run_dir_worker, tmp_path, str(run_dir), False)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "completed" and result["n_steps"] == two_process["source"]["history"][-1]["step"]
    resumed = torch.load(run_dir / "summary.pt", weights_only=True)
    for k, v in two_process["source"]["state"].items():  # = the uninterrupted 2-process run
        torch.testing.assert_close(resumed["state"][k], v, atol=1e-6, rtol=0)


def test_cli_rejects_indivisible_batch_before_any_process(tmp_path, monkeypatch, capsys):
    import subprocess

    from da.cli.main import main

    def no_launch(*a, **k):
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess, "Popen", no_launch)
    monkeypatch.setattr(mp, "start_processes", no_launch)
    cfg = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "quickstart.yaml")
    rc = main(["run", cfg, "--nproc-per-node", "2", "train.batch_size=3", "-o", str(tmp_path / "out"), "-q"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "train.batch_size=3" in err and "divisible by the number of processes (2)" in err
    assert not (tmp_path / "out").exists()


TINY = """\
name: tiny
seed: 0
data:
  generator: {domain: moons, noise: 0.1, shift: rotation, severity: 30}
  n_source: 160
  n_target: 160
model: {hidden: [8]}
pretrain: {epochs: 1, batch_size: 32, lr: 1.0e-2}
train: {epochs: 2, batch_size: 32, lr: 1.0e-2}
diagnostics: {before: false, after: false, tests: [], gaps: []}
figures: false
method: mmd
align: [{loss: mmd, weight: 1.0}]
"""


def test_cli_nproc_per_node_runs_a_torchrun_job(tmp_path):
    """`da run --nproc-per-node 2`: a torchrun job whose rank 0 alone writes the completed run."""
    import subprocess

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    cmd = [sys.executable, "-m", "da.cli.main", "run", str(cfg), "--nproc-per-node", "2", "-q",
           "-o", str(tmp_path / "runs")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    (result,) = list((tmp_path / "runs").glob("*/result.json"))
    rec = json.loads(result.read_text())
    assert rec["status"] == "completed"
    assert rec["runtime"]["distributed"] == {"backend": "gloo", "world_size": 2}
    assert not list(tmp_path.glob("runs/*/failed.json"))
    from da.experiments import records as R

    assert R.run_state(result.parent) == "completed"  # what a rerun reads back instead of training


@pytest.mark.parametrize("error, recorded", [
    (RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer"), False),
    (ValueError("train.lr must be > 0"), True)])
def test_rank0_records_its_own_error_not_a_peer_crash(tmp_path, monkeypatch, error, recorded):
    """A collective broken by another rank's death leaves the run partial (a rerun redoes it);
    an error of the run itself on rank 0 is recorded in failed.json as on one process."""
    from da.experiments import pipeline, records as R, sweep
    from da.experiments.config import config_hash, expand_sweep, load_config
    from da.transfer.distributed import DistContext

    (tmp_path / "tiny.yaml").write_text(TINY)
    (cfg,) = expand_sweep(load_config(tmp_path / "tiny.yaml"))
    rd = tmp_path / config_hash(cfg)

    def failing_run(cfg, root, **kw):
        rd.mkdir(parents=True)
        R.write_failure(rd, config_hash(cfg), error)
        raise error

    monkeypatch.setattr(pipeline, "run_experiment", failing_run)
    with pytest.raises(type(error)):
        sweep._run_on_this_rank(cfg, tmp_path, False, DistContext(0, 2, "gloo"))
    assert R.run_state(rd) == ("failed" if recorded else "partial")
