"""GPU benchmark in one command: two-sample test, alignment losses, a ResNet-50 DANN step.

    python benchmarks/gpu.py                          # on the GPU; writes benchmarks/results/gpu.{json,md}
    python benchmarks/gpu.py --device cpu --quick     # smoke test on tiny sizes (seconds)

Sections (each figure with its ratio to a reference measured in the same run):

1. ``mmd_test`` (``da.diagnostics``, B permutations) at n = m = 10k and 50k, d = 64: seconds
   per call; ratio to the 10k call. A size the test refuses (its memory guard) is reported as
   skipped with the reason.
2. Every alignment loss, forward + backward, at batch 256 and 1024 per domain, d = 2048
   (MMD, DANN, CDAN, JDOT, CORAL, Sinkhorn with each solver, SWD): milliseconds per call
   (CUDA events, after warm-up), peak memory, ratio to MMD at the same batch and, for the
   Sinkhorn solvers, to POT's ``sinkhorn_log``.
3. A ResNet-50 DANN training step at 224x224, batch 32 source + 32 target, fp32 and bf16
   (autocast), each eager and under ``torch.compile``, channels-last on CUDA: milliseconds per
   step, peak memory, images per second, ratio to the source-only step of the same variant,
   bf16 / fp32 and compiled / eager. Skipped, with the reason, when neither torchvision nor
   timm imports (and the compiled rows on the CPU).

Without a GPU (``--device cuda`` and ``torch.cuda.is_available()`` false) it prints one line
saying so and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

SIZES = {"full": dict(mmd_n=(10_000, 50_000), mmd_d=64, mmd_b=500, batches=(256, 1024), dim=2048,
                      resnet=dict(batch=32, size=224), warmup=3, repeats=10),
         "quick": dict(mmd_n=(200, 400), mmd_d=8, mmd_b=50, batches=(16, 32), dim=32,
                       resnet=dict(batch=2, size=32), warmup=1, repeats=2)}
N_CLASSES = 10


class _Timer:
    """Milliseconds of ``fn()`` (median over repeats, after warm-up) and its peak memory."""

    def __init__(self, device: torch.device, warmup: int, repeats: int):
        self.device, self.warmup, self.repeats = device, warmup, repeats

    def __call__(self, fn) -> dict:
        cuda = self.device.type == "cuda"
        for _ in range(self.warmup):
            fn()
        if cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        times = []
        for _ in range(self.repeats):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize(self.device)
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append(1e3 * (time.perf_counter() - t0))
        peak = torch.cuda.max_memory_allocated(self.device) / 2 ** 20 if cuda else None
        return {"ms": statistics.median(times), "peak_mib": peak}


def bench_mmd_test(sizes: dict, device: torch.device) -> list[dict]:
    from da.diagnostics import mmd_test

    rows = []
    for n in sizes["mmd_n"]:
        rng = np.random.default_rng(0)
        xs = rng.normal(size=(n, sizes["mmd_d"])).astype(np.float32)
        xt = (rng.normal(size=(n, sizes["mmd_d"])) + 0.05).astype(np.float32)
        row = {"n": n, "d": sizes["mmd_d"], "n_permutations": sizes["mmd_b"]}
        try:
            t0 = time.perf_counter()
            res = mmd_test(xs, xt, n_permutations=sizes["mmd_b"], seed=0)
            row.update(seconds=time.perf_counter() - t0, p_value=float(res.pvalue))
        except (ValueError, MemoryError) as err:  # the test's memory guard
            row.update(skipped=f"{type(err).__name__}: {err}")
        rows.append(row)
    base = rows[0].get("seconds")
    for row in rows:
        if base and "seconds" in row:
            row["ratio_to_first"] = row["seconds"] / base
    return rows


def _losses(d: int):
    from da.align import (CDANLoss, CORALLoss, DANNLoss, JDOTLoss, MMDLoss, SinkhornLoss,
                          SlicedWassersteinLoss)

    sinkhorn = dict(reg=0.1, scale="median", tol=1e-4)
    return {"MMD": lambda: MMDLoss(), "DANN": lambda: DANNLoss(d), "CDAN": lambda: CDANLoss(d, N_CLASSES),
            "JDOT": lambda: JDOTLoss(alpha=1.0 / d), "CORAL": lambda: CORALLoss(),
            "Sinkhorn sinkhorn_log": lambda: SinkhornLoss(method="sinkhorn_log", **sinkhorn),
            "Sinkhorn auto": lambda: SinkhornLoss(method="auto", **sinkhorn),
            "Sinkhorn symmetric": lambda: SinkhornLoss(method="symmetric", **sinkhorn),
            "SWD": lambda: SlicedWassersteinLoss()}


def bench_losses(sizes: dict, device: torch.device, timer: _Timer) -> list[dict]:
    rows, d = [], sizes["dim"]
    for n in sizes["batches"]:
        g = torch.Generator().manual_seed(0)
        inputs = dict(fs=torch.randn(n, d, generator=g), ft=torch.randn(n, d, generator=g) + 0.3,
                      logits_s=torch.randn(n, N_CLASSES, generator=g), logits_t=torch.randn(n, N_CLASSES, generator=g))
        inputs = {k: v.to(device).requires_grad_() for k, v in inputs.items()}
        inputs.update(ys=torch.randint(0, N_CLASSES, (n,), generator=g).to(device), p=0.5)
        block = {}
        for name, make in _losses(d).items():
            loss = make().to(device)

            def step():
                for key in ("fs", "ft", "logits_s", "logits_t"):
                    inputs[key].grad = None
                loss(**inputs).backward()

            try:
                block[name] = {"loss": name, "batch": n, "d": d, **timer(step)}
            except (RuntimeError, ValueError) as err:  # e.g. out of memory: reported, the rest still runs
                block[name] = {"loss": name, "batch": n, "d": d, "skipped": f"{type(err).__name__}: {err}"}
        mmd = block["MMD"].get("ms")
        pot = block["Sinkhorn sinkhorn_log"].get("ms")
        for name, row in block.items():
            if "ms" in row:
                row["ratio_to_mmd"] = row["ms"] / mmd if mmd else None
                if name.startswith("Sinkhorn") and pot:
                    row["ratio_to_pot_sinkhorn_log"] = row["ms"] / pot
        rows.extend(block.values())
    return rows


def bench_resnet_dann(sizes: dict, device: torch.device, timer: _Timer) -> dict:
    """fp32 and bf16 (autocast), each eager and under ``torch.compile``, channels-last on CUDA: a
    source-only and a DANN step, with ratios to the source-only step, to fp32 and to eager."""
    from da.align import DANNLoss
    from da.transfer.models import resnet

    try:
        featurizer, head = resnet("resnet50", n_classes=N_CLASSES)
    except (ImportError, RuntimeError) as err:  # RuntimeError: a torchvision build that fails to load
        return {"skipped": f"ResNet-50 needs torchvision or timm: {type(err).__name__}: {err}"}
    batch, size = sizes["resnet"]["batch"], sizes["resnet"]["size"]
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    model = torch.nn.Sequential(featurizer, head).to(device, memory_format=fmt)
    dann = DANNLoss(2048).to(device)
    opt = torch.optim.SGD([*model.parameters(), *dann.parameters()], lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(batch, 3, size, size, generator=g).to(device, memory_format=fmt)
    xt = torch.randn(batch, 3, size, size, generator=g).to(device, memory_format=fmt)
    ys = torch.randint(0, N_CLASSES, (batch,), generator=g).to(device)
    rows = []
    for precision in ("fp32", "bf16"):
        bf16 = precision == "bf16"
        if bf16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            rows.append({"precision": precision, "compile": False, "skipped": "this GPU has no bf16"})
            continue
        for compiled in (False, True):
            if compiled and device.type != "cuda":
                rows.append({"precision": precision, "compile": True,
                             "skipped": "torch.compile is timed on CUDA only (on the CPU its compile time "
                                        "dominates a smoke run)"})
                continue
            net = torch.compile(featurizer) if compiled else featurizer

            def step(align: bool):
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    feats = net(torch.cat([xs, xt]) if align else xs)
                    loss = torch.nn.functional.cross_entropy(head(feats[:batch]), ys)
                    if align:
                        loss = loss + dann(feats[:batch].float(), feats[batch:].float(), p=0.5)
                loss.backward()
                opt.step()

            for align in (False, True):
                row = {"precision": precision, "compile": compiled, "step": "DANN" if align else "source-only",
                       "batch": f"{batch}+{batch}" if align else str(batch), "image_size": size,
                       "channels_last": fmt is torch.channels_last, **timer(lambda: step(align))}
                row["images_per_s"] = (2 if align else 1) * batch / (row["ms"] / 1e3)
                rows.append(row)
    by_key = {(r["precision"], r["compile"], r.get("step")): r for r in rows if "ms" in r}
    for r in rows:
        if "ms" in r:
            r["ratio_to_source_only"] = r["ms"] / by_key[(r["precision"], r["compile"], "source-only")]["ms"]
            fp32 = by_key.get(("fp32", r["compile"], r["step"]))
            r["ratio_to_fp32"] = r["ms"] / fp32["ms"] if fp32 else None
            eager = by_key.get((r["precision"], False, r["step"]))
            r["ratio_to_eager"] = r["ms"] / eager["ms"] if eager else None
    return {"rows": rows}


def _fmt(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def to_markdown(result: dict) -> str:
    lines = [f"# GPU benchmark: {result['device_name']}", "",
             f"torch {result['torch']}, mode {result['mode']}, {result['date']}", "",
             "## mmd_test", "", "| n = m | d | B | seconds | x first size | p-value |", "|---:|---:|---:|---:|---:|---:|"]
    for r in result["mmd_test"]:
        if "skipped" in r:
            lines.append(f"| {r['n']} | {r['d']} | {r['n_permutations']} | skipped: {r['skipped']} | - | - |")
        else:
            lines.append(f"| {r['n']} | {r['d']} | {r['n_permutations']} | {r['seconds']:.3f} | "
                         f"{_fmt(r.get('ratio_to_first'))} | {r['p_value']:.3g} |")
    lines += ["", "## Alignment losses, forward + backward", "",
              "| loss | batch | d | ms | peak MiB | x MMD | x POT sinkhorn_log |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["losses"]:
        if "skipped" in r:
            lines.append(f"| {r['loss']} | {r['batch']} | {r['d']} | skipped: {r['skipped']} | - | - | - |")
        else:
            lines.append(f"| {r['loss']} | {r['batch']} | {r['d']} | {r['ms']:.2f} | {_fmt(r['peak_mib'], '.0f')} | "
                         f"{_fmt(r.get('ratio_to_mmd'))} | {_fmt(r.get('ratio_to_pot_sinkhorn_log'))} |")
    lines += ["", "## ResNet-50 DANN training step", ""]
    res = result["resnet50_dann"]
    if "skipped" in res:
        lines.append(f"skipped: {res['skipped']}")
    else:
        lines += ["| precision | compile | step | batch | image | ms/step | images/s | peak MiB | x source-only "
                  "| x fp32 | x eager |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in res["rows"]:
            compiled = "on" if r["compile"] else "off"
            if "skipped" in r:
                lines.append(f"| {r['precision']} | {compiled} | skipped: {r['skipped']} | | | | | | | | |")
            else:
                lines.append(f"| {r['precision']} | {compiled} | {r['step']} | {r['batch']} | {r['image_size']} | "
                             f"{r['ms']:.1f} | {r['images_per_s']:.0f} | {_fmt(r['peak_mib'], '.0f')} | "
                             f"{r['ratio_to_source_only']:.2f} | {_fmt(r.get('ratio_to_fp32'))} | "
                             f"{_fmt(r.get('ratio_to_eager'))} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test in seconds")
    ap.add_argument("--out", default="benchmarks/results/gpu",
                    help="output path without suffix: writes OUT.json and OUT.md")
    ap.add_argument("--sections", nargs="+", default=["mmd_test", "losses", "resnet50_dann"],
                    choices=["mmd_test", "losses", "resnet50_dann"])
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("benchmarks/gpu.py: no GPU present (torch.cuda.is_available() is False); nothing measured. "
              "Run with --device cpu --quick for a CPU smoke test.")
        return 0
    from da._io import atomic_write_json, atomic_write_text

    sizes = SIZES["quick" if args.quick else "full"]
    timer = _Timer(device, sizes["warmup"], sizes["repeats"])
    warnings.filterwarnings("ignore", message="Sinkhorn did not converge")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result = {"device": str(device), "device_name": name, "torch": torch.__version__,
              "mode": "quick" if args.quick else "full", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "mmd_test": [], "losses": [], "resnet50_dann": {"skipped": "section not requested"}}
    if "mmd_test" in args.sections:
        result["mmd_test"] = bench_mmd_test(sizes, device)
    if "losses" in args.sections:
        result["losses"] = bench_losses(sizes, device, timer)
    if "resnet50_dann" in args.sections:
        result["resnet50_dann"] = bench_resnet_dann(sizes, device, timer)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(result)
    atomic_write_json(out.with_suffix(".json"), result, indent=1)
    atomic_write_text(out.with_suffix(".md"), markdown)
    print(markdown)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
