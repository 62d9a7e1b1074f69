"""`da run` / `da sweep` continue a run killed mid fine-tuning from its last epoch: the records, the
metrics and the weights equal those of the uninterrupted run, bit for bit (reference: that run)."""

import copy
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from da.experiments import pipeline as P
from da.experiments import records as R
from da.experiments.collect import collect_runs
from da.experiments.config import config_hash, expand_sweep
from da.experiments.sweep import execute_run, run_sweep
from da.transfer.run_records import RESUME, resume_point

#: keys of result.json that are the clock's or the attempt's, not the run's
_NOT_THE_RUN = ("seconds", "started_at", "finished_at", "timing", "runtime", "resumed_after_epoch",
                "pretrain_resumed_after_epoch", "run_dir", "attempts", "metrics", "pretrain_cached", "cached")


class Killed(BaseException):
    """What a SIGKILL leaves: no `except Exception` sees it, so no failed.json is written."""


def _config(tiny, epochs=6):
    cfg = copy.deepcopy(tiny)
    cfg.update(method="dann")  # a discriminator, its optimizer group and the GRL schedule resume too
    cfg["model"].update(dropout=0.2)  # the dropout RNG stream resumes
    cfg["train"].update(epochs=epochs, log_every=3)
    cfg["diagnostics"].update(every=2)  # the per-epoch gap hook's records are part of the history
    return cfg


@pytest.fixture
def epochs_seen(monkeypatch):
    """Every epoch the fine-tuning loop trains (the progress hook runs after each), in order
    (the pretraining's in ``kill["pretrain_seen"]``); ``kill["at"] = (n, epoch)`` raises
    :class:`Killed` the n-th time that epoch of the stage ``kill["stage"]`` is reached."""
    seen, original, init = [], P._Bar.hook, P._Bar.__init__
    kill = {"at": None, "stage": "finetune", "pretrain_seen": []}

    def bar(self, enabled, total, desc):
        init(self, enabled, total, desc)
        self.stage = "pretrain" if desc == "pretrain" else "finetune"

    def hook(self, model, epoch):
        (kill["pretrain_seen"] if self.stage == "pretrain" else seen).append(epoch)
        if kill["at"] is not None and self.stage == kill["stage"] and epoch == kill["at"][1]:
            kill["at"] = (kill["at"][0] - 1, epoch)
            if kill["at"][0] == 0:
                kill["at"] = None
                raise Killed
        return original(self, model, epoch)

    monkeypatch.setattr(P._Bar, "__init__", bar)
    monkeypatch.setattr(P._Bar, "hook", hook)
    return seen, kill


def _untimed(obj):
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if k != "seconds"}
    return [_untimed(v) for v in obj] if isinstance(obj, list) else obj


def _same_run(a_dir, b_dir):
    """Two run directories hold the same run: result, records, report and weights, bit for bit."""
    a, b = R.read_result(a_dir), R.read_result(b_dir)
    assert a is not None and b is not None
    for rec in (a, b):  # `-o DIR` files the run; it is not part of it (nor of its id)
        rec["config"].pop("output")
    assert {k: v for k, v in a.items() if k not in _NOT_THE_RUN} == \
        {k: v for k, v in b.items() if k not in _NOT_THE_RUN}
    assert {k: v for k, v in a["metrics"].items() if k not in _NOT_THE_RUN} == \
        {k: v for k, v in b["metrics"].items() if k not in _NOT_THE_RUN}
    recs = [[{k: v for k, v in r.items() if k not in _NOT_THE_RUN} for r in R.read_jsonl(d / R.METRICS)]
            for d in (a_dir, b_dir)]
    assert recs[0] == recs[1] and any(r["stage"] == "finetune" for r in recs[0])
    assert _untimed(R.read_json(a_dir / R.REPORT_AFTER)) == _untimed(R.read_json(b_dir / R.REPORT_AFTER))
    wa, wb = (torch.load(d / R.CHECKPOINT, weights_only=True)["state_dict"] for d in (a_dir, b_dir))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_sweep_point_killed_mid_finetuning_resumes_and_equals_the_uninterrupted_run(tmp_path, tiny,
                                                                                      epochs_seen):
    seen, kill = epochs_seen
    configs = expand_sweep(dict(_config(tiny), grid={"seed": [0, 1]}))
    ids = [config_hash(c) for c in configs]
    run_sweep(configs[1:], tmp_path / "whole", quiet=True)  # the reference of the point to be killed
    assert seen == list(range(6))
    seen.clear()

    kill["at"] = (2, 3)  # the second point, after its epochs 0-2 are saved
    with pytest.raises(Killed):
        run_sweep(configs, tmp_path / "cut", quiet=True)
    killed = tmp_path / "cut" / ids[1]
    assert R.run_state(tmp_path / "cut" / ids[0]) == "completed" and R.run_state(killed) == "partial"
    assert resume_point(killed / R.RESUME_DIR)["epoch"] == 2  # epoch 3 was cut short: the state is epoch 2's
    seen.clear()

    statuses = run_sweep(configs, tmp_path / "cut", quiet=True)
    assert [s["status"] for s in statuses] == ["skipped", "completed"]
    assert seen == [3, 4, 5]  # nothing before the last saved epoch is trained again
    assert statuses[1]["result"]["resumed_after_epoch"] == 2
    _same_run(tmp_path / "whole" / ids[1], tmp_path / "cut" / ids[1])
    for d in (tmp_path / "cut" / ids[0], killed, tmp_path / "whole" / ids[1]):
        assert not (d / R.RESUME_DIR).exists()  # removed before result.json
    df = collect_runs(tmp_path / "cut")  # the trainer wrote no second run: one row per point
    assert sorted(df["run_id"]) == sorted(ids)
    assert len(R.find_run_dirs(tmp_path / "cut")) == 2


def test_force_and_resume_false_start_from_the_first_epoch(tmp_path, tiny, epochs_seen):
    seen, kill = epochs_seen
    (cfg,) = expand_sweep(_config(tiny, epochs=4))
    rd = tmp_path / config_hash(cfg)
    kill["at"] = (1, 2)
    with pytest.raises(Killed):
        execute_run(cfg, tmp_path)
    assert (rd / R.RESUME_DIR / RESUME).exists()
    seen.clear()
    st = execute_run(cfg, tmp_path, force=True)  # --force: from scratch, the stale state discarded
    assert st["status"] == "completed" and seen == [0, 1, 2, 3] and st["result"]["resumed_after_epoch"] is None
    assert not (rd / R.RESUME_DIR).exists()
    # a completed run forced again fine-tunes from the start too (even with a stale state in it)
    (rd / R.RESUME_DIR).mkdir()
    (rd / R.RESUME_DIR / RESUME).write_bytes(b"stale")
    seen.clear()
    again = execute_run(cfg, tmp_path, force=True)
    assert seen == [0, 1, 2, 3] and again["result"]["metrics"]["target_test_acc"] == \
        st["result"]["metrics"]["target_test_acc"]

    # train.resume: false keeps no state and never resumes
    off = copy.deepcopy(cfg)
    off["train"]["resume"] = False
    kill["at"] = (1, 2)
    with pytest.raises(Killed):
        execute_run(off, tmp_path)
    assert not (tmp_path / config_hash(off) / R.RESUME_DIR).exists()
    seen.clear()
    execute_run(off, tmp_path)
    assert seen == [0, 1, 2, 3]


def _pretraining_state(root):
    states = list((root / R.CACHE_DIR / "pretrain").glob("*.resume"))
    return states[0] if states else None


def test_a_run_killed_mid_pretraining_continues_its_pretraining(tmp_path, tiny, epochs_seen):
    seen, kill = epochs_seen
    cfg = _config(tiny, epochs=3)
    cfg["pretrain"].update(epochs=5)
    (cfg,) = expand_sweep(cfg)
    rid = config_hash(cfg)
    execute_run(cfg, tmp_path / "whole")
    assert kill["pretrain_seen"] == [0, 1, 2, 3, 4] and _pretraining_state(tmp_path / "whole") is None
    kill["pretrain_seen"].clear()
    seen.clear()

    kill.update(at=(1, 3), stage="pretrain")
    with pytest.raises(Killed):
        execute_run(cfg, tmp_path / "cut")
    state = _pretraining_state(tmp_path / "cut")
    assert resume_point(state)["epoch"] == 2 and seen == []  # epoch 3 was cut short
    assert not list((tmp_path / "cut" / R.CACHE_DIR / "pretrain").glob("*.pt"))  # no cache entry yet
    kill["pretrain_seen"].clear()

    st = execute_run(cfg, tmp_path / "cut")
    assert kill["pretrain_seen"] == [3, 4] and seen == [0, 1, 2]
    assert st["result"]["pretrain_resumed_after_epoch"] == 2 and st["result"]["resumed_after_epoch"] is None
    _same_run(tmp_path / "whole" / rid, tmp_path / "cut" / rid)
    assert not state.exists()  # the cache entry is written: the state is gone


def test_force_and_pretrain_resume_false_pretrain_from_the_first_epoch(tmp_path, tiny, epochs_seen):
    _, kill = epochs_seen
    cfg = _config(tiny, epochs=2)
    cfg["pretrain"].update(epochs=4)
    (cfg,) = expand_sweep(cfg)
    kill.update(at=(1, 2), stage="pretrain")
    with pytest.raises(Killed):
        execute_run(cfg, tmp_path)
    assert resume_point(_pretraining_state(tmp_path))["epoch"] == 1
    kill["pretrain_seen"].clear()
    st = execute_run(cfg, tmp_path, force=True)
    assert kill["pretrain_seen"] == [0, 1, 2, 3] and st["result"]["pretrain_resumed_after_epoch"] is None
    assert _pretraining_state(tmp_path) is None

    off = copy.deepcopy(cfg)
    off["pretrain"]["resume"] = False
    kill.update(at=(1, 2), stage="pretrain")
    with pytest.raises(Killed):
        execute_run(off, tmp_path / "off")
    assert _pretraining_state(tmp_path / "off") is None  # no state kept


def test_a_target_only_run_killed_mid_training_resumes(tmp_path, tiny, epochs_seen):
    seen, kill = epochs_seen
    cfg = _config(tiny, epochs=5)
    cfg.update(method="target_only")  # the ORACLE baseline resumes like the other methods
    (cfg,) = expand_sweep(cfg)
    rid = config_hash(cfg)
    with pytest.warns(UserWarning, match="ORACLE"):
        execute_run(cfg, tmp_path / "whole")
    seen.clear()
    kill["at"] = (1, 3)
    with pytest.raises(Killed), pytest.warns(UserWarning, match="ORACLE"):
        execute_run(cfg, tmp_path / "cut")
    seen.clear()
    with pytest.warns(UserWarning, match="ORACLE"):
        st = execute_run(cfg, tmp_path / "cut")
    assert seen == [3, 4] and st["result"]["resumed_after_epoch"] == 2 and st["result"]["oracle"] is True
    _same_run(tmp_path / "whole" / rid, tmp_path / "cut" / rid)


def test_a_torn_resume_state_is_not_trusted(tmp_path, tiny, epochs_seen):
    seen, _ = epochs_seen
    (cfg,) = expand_sweep(_config(tiny, epochs=3))
    rd = tmp_path / config_hash(cfg)
    (rd / R.RESUME_DIR).mkdir(parents=True)
    (rd / R.RESUME_DIR / RESUME).write_bytes(b"PK\x03\x04 torn")  # a partial (non-atomic) write
    st = execute_run(cfg, tmp_path)
    assert st["status"] == "completed" and seen == [0, 1, 2] and st["result"]["resumed_after_epoch"] is None


def test_reset_keeps_the_resume_area_also_after_a_reset_killed_midway(tmp_path):
    rd = tmp_path / "abc"
    (rd / R.RESUME_DIR).mkdir(parents=True)
    (rd / R.RESUME_DIR / RESUME).write_text("state")
    (rd / R.METRICS).write_text("{}\n")
    R.reset_run_dir(rd, keep=(R.RESUME_DIR,))
    assert sorted(p.name for p in rd.iterdir()) == [R.RESUME_DIR]
    # killed between the rename and the move back: the next reset takes the state from the trash
    os.replace(rd, tmp_path / ".abc.trash.999")
    R.reset_run_dir(rd, keep=(R.RESUME_DIR,))
    assert (rd / R.RESUME_DIR / RESUME).read_text() == "state" and not list(tmp_path.glob(".abc.trash*"))
    R.reset_run_dir(rd)
    assert list(rd.iterdir()) == []


def test_da_run_killed_with_sigkill_mid_finetuning_resumes_bit_for_bit(tmp_path, tiny, cli, capsys):
    cfg = _config(tiny, epochs=15)
    cfg["data"].update(n_source=400, n_target=400)
    cfg["diagnostics"].update(every=0, before=False, after=False)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    threads = str(torch.get_num_threads())  # float reductions depend on it: the same in both processes
    assert cli(["run", str(path), "-o", str(tmp_path / "whole"), "-q", "--threads-per-run", threads]) == 0
    (rid,) = [p.name for p in (tmp_path / "whole").iterdir() if not p.name.startswith("_")]
    state = tmp_path / "cut" / rid / R.RESUME_DIR / RESUME

    proc = subprocess.Popen([sys.executable, "-m", "da.cli.main", "run", str(path), "-o", str(tmp_path / "cut"),
                             "-q", "--threads-per-run", threads],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not state.exists():
            assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert R.run_state(state.parent.parent) == "partial"
    cut_at = resume_point(state.parent)["epoch"]
    assert 0 <= cut_at < 15
    capsys.readouterr()
    assert cli(["run", str(path), "-o", str(tmp_path / "cut"), "-q", "--threads-per-run", threads]) == 0
    result = R.read_result(tmp_path / "cut" / rid)
    assert result["resumed_after_epoch"] >= cut_at
    _same_run(tmp_path / "whole" / rid, tmp_path / "cut" / rid)
    assert not state.parent.exists() and len(collect_runs(tmp_path / "cut")) == 1


def _ddp_worker(rank, store, cfg, root, kill_at):
    """One rank of a 2-process (gloo) job running the config through the sweep machinery."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    if kill_at is not None:  # every rank stops at the same point, as when the job is killed
        original = P._Bar.hook

        def hook(self, model, epoch):
            if epoch == kill_at and self.desc != "pretrain":
                raise Killed
            return original(self, model, epoch)

        init = P._Bar.__init__

        def bar(self, enabled, total, desc):
            init(self, enabled, total, desc)
            self.desc = desc

        P._Bar.__init__, P._Bar.hook = bar, hook
    st = execute_run(cfg, root)
    assert st["status"] == "completed", st
    dist.destroy_process_group()


def test_a_distributed_run_resumes_on_every_rank_in_step(tmp_path, tiny):
    """2 processes: rank 0 keeps the state in its run directory, rank 1 reads it from there; the job
    continues after the saved epoch on both ranks and ends as the uninterrupted 2-process job."""
    import torch.multiprocessing as mp

    (cfg,) = expand_sweep(_config(tiny, epochs=5))
    rid = config_hash(cfg)

    def spawn(root, kill_at):
        store = tmp_path / f"store-{len(list(tmp_path.iterdir()))}"
        mp.start_processes(_ddp_worker, args=(str(store), cfg, str(root), kill_at), nprocs=2,
                           start_method="fork")

    spawn(tmp_path / "whole", None)
    with pytest.raises(mp.ProcessExitedException):  # Killed is no Exception: the ranks exit with 1
        spawn(tmp_path / "cut", 3)
    assert R.run_state(tmp_path / "cut" / rid) == "partial"
    assert resume_point(tmp_path / "cut" / rid / R.RESUME_DIR)["epoch"] == 2
    spawn(tmp_path / "cut", None)
    result = R.read_result(tmp_path / "cut" / rid)
    assert result["resumed_after_epoch"] == 2 and result["runtime"]["distributed"]["world_size"] == 2
    _same_run(tmp_path / "whole" / rid, tmp_path / "cut" / rid)
    assert not (tmp_path / "cut" / rid / R.RESUME_DIR).exists()
