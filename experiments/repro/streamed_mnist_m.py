"""Streamed MNIST -> MNIST-M with ResNet-18: the image-level pipeline against the in-memory one.

1. Writes the offline MNIST -> MNIST-M-style pair (:func:`da.datasets.images.mnist_28`,
   :func:`da.datasets.images.mnist_m_28`, the arrays of ``load_pair("mnist->mnist_m")``) as
   PNG folders ``DATA/{mnist,mnist_m}/<digit>/<i>.png``: ``--n`` images per domain, the
   source and the target drawn from disjoint digits (a seeded permutation of the 5000), so no
   target image is a recoloured source image. PNG is lossless: what is on disk is the pair's
   pixels quantised once to uint8, and both paths below read those files.
2. Runs the sweep of ``streamed_mnist_m.yaml`` (ResNet-18 at 32x32 from a seeded random
   initialisation, pretraining on the source, then source-only / DANN / MMD; the digits
   protocol's SGD recipe) with :func:`da.experiments.run_experiment`, on two paths that share
   model, recipe, steps and seeds:

   * ``streamed``: ``data.source: {folder: DATA/mnist}``, ``data.target: {folder:
     DATA/mnist_m}``, ``protocol: inductive``: each image decoded from its PNG when a
     DataLoader asks for it (:class:`da.data.LoaderStream`), the ``digits`` transform
     (Resize 32, mean 0.5 / std 0.5) applied on the fly;
   * ``in_memory``: the same PNGs read once through the same eval transform into
     :class:`da.data.EmpiricalDomain` arrays (``EmpiricalDomain.from_dataset``) with the
     split indices of the streamed path as their fixed splits, registered as the named pair
     ``mnist_png->mnist_m_png`` (:data:`da.datasets.PAIRS`), so ``data.pair`` selects it and
     the trainer indexes tensors (:class:`da.data.TensorStream`).

   Both streams draw their batches from the same seeded generator (da.data.loader), and
   the ``digits`` preset has no random augmentation, so the two paths see the same tensors
   in the same order; the script checks, run by run, whether the fine-tuning records come out
   bit-identical.
3. Writes ``--out/results.json`` (the config, one row per run, the summary) and prints the
   table: target test accuracy, mean and std (ddof 0) over the seeds per method and path, and
   images/s of each path.

Usage (the vision venv: torchvision is needed; one torch thread)::

    OMP_NUM_THREADS=1 python experiments/repro/streamed_mnist_m.py [--n 1500] [--seeds 3]
        [--data DIR] [--runs DIR] [--out DIR] [--quick]

``--quick`` is a smoke version (80 images per domain, 1 seed, a few steps; seconds).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "streamed_mnist_m.yaml"
PATHS = ("streamed", "in_memory")
IN_MEMORY_PAIR = "mnist_png->mnist_m_png"
MANIFEST = "manifest.json"
# --quick: the sweep shrunk to seconds (the recipe otherwise unchanged)
QUICK = {"n": 80, "seeds": 1, "pretrain": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 8},
         "train": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 8},
         "diagnostics": {"max_samples": 24, "n_permutations": 10}}


# --------------------------------------------------------------------------------------
# 1. The folders
# --------------------------------------------------------------------------------------

def write_folders(root, n: int, seed: int = 0) -> Path:
    """``root/{mnist,mnist_m}/<digit>/<i>.png``, ``n`` images per domain; returns ``root``.

    The source is MNIST (grey), the target the MNIST-M-style composites of other digits
    (``mnist_m_28``: each digit blended with a photo patch). The folders are written into a
    temporary sibling and renamed into place with ``root/manifest.json`` last, so a killed
    write leaves no half folder; an existing complete folder of the same ``n`` and ``seed`` is
    reused.
    """
    from PIL import Image

    from da._io import atomic_write_json
    from da.datasets.images import mnist_28, mnist_m_28

    root = Path(root)
    want = {"n_per_domain": int(n), "seed": int(seed), "image_side": 28, "format": "png",
            "source": "mnist", "target": "mnist_m"}
    if (root / MANIFEST).exists():
        if json.loads((root / MANIFEST).read_text()) == want:
            return root
        raise ValueError(f"{root} holds folders of another size or seed ({root / MANIFEST}); pass another "
                         f"--data or remove it")
    X, y = mnist_28()
    Xm, ym = mnist_m_28()
    assert np.array_equal(y, ym)
    if 2 * n > X.shape[0]:
        raise ValueError(f"--n {n}: at most {X.shape[0] // 2} images per domain (disjoint digits)")
    order = np.random.default_rng(seed).permutation(X.shape[0])
    tmp = root.parent / f".{root.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for dom, rows, images, mode in (("mnist", order[:n], X.reshape(-1, 28, 28), "L"),
                                    ("mnist_m", order[n:2 * n], Xm.reshape(-1, 3, 28, 28).transpose(0, 2, 3, 1),
                                     "RGB")):
        for k in range(10):
            (tmp / dom / str(k)).mkdir(parents=True, exist_ok=True)
        for i, j in enumerate(rows):
            pixels = np.round(np.clip(images[j], 0, 1) * 255).astype(np.uint8)
            Image.fromarray(pixels, mode=mode).save(tmp / dom / str(y[j]) / f"{i:05d}.png")
    if root.exists():  # an incomplete earlier write (no manifest)
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, root)
    atomic_write_json(root / MANIFEST, want)
    return root


# --------------------------------------------------------------------------------------
# 2. The two paths
# --------------------------------------------------------------------------------------

def _split_assignment(idx, side: str, n: int) -> np.ndarray:
    a = np.full(n, -1, dtype=np.int64)
    for code, part in enumerate(("train", "val", "test")):
        a[getattr(idx, f"{side}_{part}")] = code
    return a


def in_memory_pair(data: dict):
    """The streamed path's images as an in-memory :class:`~da.data.DomainPair`.

    Every image of each folder goes once through the streamed path's eval transform (the
    ``digits`` preset has no random step, so it is also the training transform) and is held as
    a float32 row; the fixed splits are the streamed path's split indices.
    """
    from da.data import DomainPair, EmpiricalDomain
    from da.datasets import domain_from_spec, make_transforms, split_indices

    src, tgt = domain_from_spec(data["source"]), domain_from_spec(data["target"])
    tf = make_transforms(data["augment"], data["image_size"])
    idx = split_indices(src, tgt, protocol=data["protocol"])
    doms = [EmpiricalDomain.from_dataset(d.subset(np.arange(len(d)), tf.eval), n_classes=d.n_classes, name=d.name,
                                         splits=_split_assignment(idx, side, len(d)))
            for d, side in ((src, "source"), (tgt, "target"))]
    return DomainPair(*doms, name=IN_MEMORY_PAIR)


def register_in_memory_pair(data: dict) -> str:
    """Name the in-memory pair in :data:`da.datasets.PAIRS` (built once, on first use)."""
    from da.datasets import PAIRS

    built = {}

    def side(which):
        def load():
            if "pair" not in built:
                built["pair"] = in_memory_pair(data)
            return getattr(built["pair"], which)
        return load

    PAIRS[IN_MEMORY_PAIR] = (side("source"), side("target"), "the PNG folders of streamed_mnist_m.py, in memory")
    return IN_MEMORY_PAIR


def sweep_configs(root: Path, seeds: int, quick: bool = False, methods=None) -> dict:
    """``{path: [resolved config, ...]}``: the YAML's sweep with ``data`` filled in per path."""
    import yaml

    from da.experiments.config import expand_sweep

    raw = yaml.safe_load(CONFIG.read_text())
    raw["grid"]["seed"] = list(range(seeds))
    if methods:
        raw["grid"]["method"] = [m for m in raw["grid"]["method"] if m in methods]
    if quick:
        for section in ("pretrain", "train", "diagnostics"):
            raw[section].update(QUICK[section])
    raw["data"].update(source={"folder": str(root / "mnist")}, target={"folder": str(root / "mnist_m")})
    name = register_in_memory_pair(raw["data"])
    mem = copy.deepcopy(raw)
    mem["data"] = {"pair": name}
    return {"streamed": expand_sweep(raw), "in_memory": expand_sweep(mem)}


def _finetune_records(run_dir: Path) -> list:
    """The fine-tuning epochs' records without their timings (what bit-identity compares)."""
    from da.experiments import records as R

    return [{k: v for k, v in r.items() if "second" not in k and "time" not in k}
            for r in R.read_jsonl(run_dir / R.METRICS) if r.get("stage") == "finetune"]


def row_of(path: str, res: dict) -> dict:
    """One compact row of a run's ``result.json``."""
    m, t, cfg = res["metrics"], res["timing"], res["config"]
    b = cfg["train"]["batch_size"]
    pre = cfg["pretrain"]
    pre_steps = pre["epochs"] * pre["steps_per_epoch"]
    return {"path": path, "method": res["method"], "seed": cfg["seed"], "run_id": res["run_id"],
            "target_test_acc": m["target_test_acc"], "source_test_acc": m["source_test_acc"],
            "pretrained_target_test_acc": m["pretrained_target_test_acc"],
            "best_epoch": m["best_epoch"], "n_steps": m["n_steps"], "selection": res["selection"],
            "oracle": res["oracle"], "pretrain_cached": m["pretrain_cached"],
            "seconds": res["seconds"], "pretrain_seconds": t["pretrain_seconds"],
            "finetune_seconds": t["finetune_seconds"],
            "diagnostics_seconds": t["diagnostics_before_seconds"] + t["diagnostics_after_seconds"],
            # fine-tuning reads b source images a step, + b target images with alignment (evaluations included)
            "finetune_images_per_s": m["n_steps"] * b * (2 if cfg["align"] else 1) / t["finetune_seconds"],
            "pretrain_images_per_s": (pre_steps * pre["batch_size"] / t["pretrain_seconds"]
                                      if not m["pretrain_cached"] and t["pretrain_seconds"] else None),
            "before_features_mmd2": m.get("before_features_mmd2"), "after_features_mmd2": m.get("after_features_mmd2"),
            "run_dir": res["run_dir"]}


def run_all(configs: dict, runs: Path, log=print, collect: bool = False) -> list:
    """Every run, seed by seed; the two paths alternate which goes first (the machine's load drifts).
    ``collect``: re-read the runs' ``result.json`` instead (nothing is re-run)."""
    from da.experiments import records as R, run_experiment
    from da.experiments.config import run_id

    by_seed = {}
    for path, cfgs in configs.items():
        for cfg in cfgs:
            by_seed.setdefault(cfg["seed"], {}).setdefault(path, []).append(cfg)
    rows = []
    for seed in sorted(by_seed):
        order = PATHS if seed % 2 == 0 else PATHS[::-1]
        for path in order:
            for cfg in by_seed[seed][path]:
                t = time.perf_counter()
                if collect:
                    res = R.read_result(runs / path / run_id(cfg))
                    if res is None:
                        raise ValueError(f"--collect: no completed run {run_id(cfg)} under {runs / path}")
                else:
                    res = run_experiment(cfg, runs / path, cache_dir=runs / path / "_cache", resume=False)
                rows.append(row_of(path, res))
                log(f"seed={seed} {path:9s} {cfg['method']:11s} target acc {rows[-1]['target_test_acc']:.3f} "
                    f"({time.perf_counter() - t:.0f} s)")
    return rows


# --------------------------------------------------------------------------------------
# 3. Comparison and table
# --------------------------------------------------------------------------------------

def compare_paths(rows: list) -> dict:
    """Per (method, seed): are the streamed and in-memory fine-tuning records identical?"""
    runs = {(r["path"], r["method"], r["seed"]): r for r in rows}
    out = {}
    for (path, method, seed), r in runs.items():
        other = runs.get(("in_memory", method, seed))
        if path != "streamed" or other is None:
            continue
        same = _finetune_records(Path(r["run_dir"])) == _finetune_records(Path(other["run_dir"]))
        out[f"{method}/seed{seed}"] = {"records_identical": same,
                                       "same_target_acc": r["target_test_acc"] == other["target_test_acc"]}
    return out


def summarise(rows: list) -> dict:
    """Per method and path: target test accuracy over the seeds (mean, std with ddof 0) and the median
    fine-tuning images/s; ``pretrained``: the pretrained model itself (one per seed and path)."""
    out = {}
    for r in rows:
        out.setdefault(r["method"], {}).setdefault(r["path"], []).append(r)
        pre = out.setdefault("pretrained", {}).setdefault(r["path"], {})
        if r["pretrain_images_per_s"] is not None or r["seed"] not in pre:  # the run that pretrained
            pre[r["seed"]] = {**r, "target_test_acc": r["pretrained_target_test_acc"],
                              "finetune_images_per_s": r["pretrain_images_per_s"]}
    out["pretrained"] = {path: list(by_seed.values()) for path, by_seed in out["pretrained"].items()}
    summary = {}
    for method, paths in out.items():
        for path, rs in paths.items():
            acc = np.array([r["target_test_acc"] for r in rs])
            rate = [r["finetune_images_per_s"] for r in rs if r["finetune_images_per_s"] is not None]
            summary.setdefault(method, {})[path] = {
                "target_test_acc_mean": float(acc.mean()), "target_test_acc_std": float(acc.std()), "n": len(rs),
                "images_per_s": float(np.median(rate)) if rate else None}
    return summary


def table(summary: dict, identical: dict) -> str:
    """The markdown table: accuracy per path, bit-identical runs, images/s per path (pretraining for
    ``pretrained``, fine-tuning for the methods: b source images a step, + b target images with alignment)."""
    lines = ["| model | streamed: target acc | in memory: target acc | bit-identical runs | "
             "streamed: images/s | in memory: images/s |", "|---|---:|---:|---:|---:|---:|"]
    for method in ("pretrained", "source_only", "dann", "mmd"):
        if method not in summary:
            continue
        s, m = summary[method]["streamed"], summary[method]["in_memory"]
        if method == "pretrained":
            same = "—"
        else:
            flags = [v["records_identical"] for k, v in identical.items() if k.startswith(method + "/")]
            same = f"{sum(flags)}/{len(flags)}"
        rate = [f"{x['images_per_s']:.0f}" if x["images_per_s"] else "—" for x in (s, m)]
        lines.append(f"| {method} | {s['target_test_acc_mean']:.3f} ± {s['target_test_acc_std']:.3f} | "
                     f"{m['target_test_acc_mean']:.3f} ± {m['target_test_acc_std']:.3f} | {same} | "
                     f"{rate[0]} | {rate[1]} |")
    return "\n".join(lines)


def _args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="images per domain (default 1500; --quick: 80)")
    ap.add_argument("--seeds", type=int, default=None, help="default 3; --quick: 1")
    ap.add_argument("--data", type=Path, default=Path("runs/streamed_mnist_m/data"))
    ap.add_argument("--runs", type=Path, default=Path("runs/streamed_mnist_m"))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "streamed_mnist_m")
    ap.add_argument("--methods", nargs="+", default=None, help="a subset of source_only dann mmd")
    ap.add_argument("--quick", action="store_true", help="a smoke version: tiny folders, 1 seed, a few steps")
    ap.add_argument("--collect", action="store_true",
                    help="re-read the run directories of a finished sweep (nothing re-runs) and rewrite the record")
    return ap.parse_args(argv)


def main(argv=None) -> dict:
    import torch

    from da._io import atomic_write_json

    a = _args(argv)
    n = a.n if a.n is not None else (QUICK["n"] if a.quick else 1500)
    seeds = a.seeds if a.seeds is not None else (QUICK["seeds"] if a.quick else 3)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    root = write_folders(a.data / f"n{n}", n)
    print(f"# {n} PNG images per domain under {root} ({time.perf_counter() - t0:.1f} s)", flush=True)
    configs = sweep_configs(root, seeds, quick=a.quick, methods=a.methods)
    try:
        rows = run_all(configs, a.runs, log=lambda s: print(s, flush=True), collect=a.collect)
    finally:  # the in-memory pair names this run's folders: not a pair for anyone else
        from da.datasets import PAIRS

        PAIRS.pop(IN_MEMORY_PAIR, None)
    seconds = sum(r["seconds"] for r in rows)  # each run's whole time (its records: --collect gives the same)
    identical = compare_paths(rows)
    summary = summarise(rows)
    cfg = configs["streamed"][0]
    record = {
        "experiment": "streamed_mnist_m", "quick": bool(a.quick), "n_per_domain": n, "seeds": seeds,
        "config": {k: cfg[k] for k in ("data", "model", "pretrain", "train", "diagnostics")},
        "in_memory_data": configs["in_memory"][0]["data"],
        "methods": {c["method"]: c["align"] for c in configs["streamed"]},
        "runtime": {"torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "total_seconds": seconds, "load_average_end": list(os.getloadavg())},
        "selection": cfg["train"]["selection"], "oracle": False,
        "rows": [{k: v for k, v in r.items() if k != "run_dir"} for r in rows],
        "bit_identical": identical, "summary": summary}
    atomic_write_json(a.out / "results.json", record)
    print(f"\n{table(summary, identical)}\n\n{len(rows)} runs in {seconds / 60:.1f} min; "
          f"results in {a.out / 'results.json'}")
    return record


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(sys.argv[1:])
