"""``da run CONFIG [key.path=value ...]``: run an experiment config and print its summary table.

A config with a ``grid``/``zip`` block (like ``experiments/quickstart.yaml``,
one run per method) runs every point, here in this process (or ``--jobs N``
worker processes); ``da sweep`` is the same with the distributed backends.
Completed runs are not run again: their records are read back (``--force``
reruns them). ``--nproc-per-node N`` trains each run on N processes, as a
torchrun job; under your own ``torchrun -m da.cli.main run`` or ``srun`` the
processes join the job's process group (docs/sweeps.md, multi-GPU runs).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _parse_intermixed(p) -> None:
    """Let options and ``key=value`` overrides come in any order (``da run cfg.yaml -q seed=1``).

    A ``nargs="*"`` positional stops at the first option (python/cpython#58401);
    ``parse_intermixed_args`` fixes that but refuses a parser with sub-commands,
    so this sub-parser parses its own arguments intermixed.
    """
    plain = p.parse_known_args

    def parse_known_args(args=None, namespace=None):
        p.parse_known_args = plain  # parse_known_intermixed_args calls parse_known_args itself
        try:
            return p.parse_known_intermixed_args(args, namespace)
        finally:
            p.parse_known_args = parse_known_args

    p.parse_known_args = parse_known_args


def add_common_arguments(p, *, jobs_default: int | None = None) -> None:
    _parse_intermixed(p)
    p.add_argument("config", nargs="?", help="experiment YAML file")
    p.add_argument("overrides", nargs="*", metavar="key.path=value",
                   help="override config keys (values are YAML): train.epochs=5 align.0.weight=0.5 "
                        "'seed=[0,1,2]' is a value, not a sweep; use grid.seed='[0,1,2]'")
    p.add_argument("--output", "-o", metavar="DIR", help="output root (default: the config's `output`)")
    p.add_argument("--jobs", "-j", type=int, default=jobs_default, metavar="N",
                   help="runs in parallel, in worker processes (default: one per CPU, at most one "
                        "per run; 1 runs in this process with epoch progress bars)")
    p.add_argument("--threads-per-run", type=int, default=None, metavar="T",
                   help="torch threads in each worker (default: CPUs / jobs)")
    p.add_argument("--retry-failed", action="store_true", help="run again the runs that failed before")
    p.add_argument("--force", action="store_true", help="run again even the completed runs")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs (id, state) without running anything")
    p.add_argument("--show-config", action="store_true", help="print the resolved config(s) and exit")
    p.add_argument("--show-defaults", action="store_true",
                   help="print every config key with its default and meaning, and exit")
    p.add_argument("--nproc-per-node", type=int, default=None, metavar="N",
                   help="train each run on N processes (one per GPU), as a torchrun job; the batch "
                        "sizes are global and must divide by N. Under your own torchrun/srun, omit it")


def add_parser(sub):
    p = sub.add_parser("run", help="run an experiment config (pretrain, diagnose, fine-tune, evaluate)",
                       description=__doc__.split("\n\n")[0])
    add_common_arguments(p)
    p.set_defaults(func=run)


def resolve_runs(args):
    """CONFIG + overrides -> the resolved configs (one per sweep point)."""
    from da.experiments.config import expand_sweep, load_config, set_path

    if args.config is None:
        raise ValueError("a config file is needed")
    raw = load_config(args.config)
    grid_ov = [o for o in args.overrides if o.split("=", 1)[0].startswith(("grid.", "zip."))]
    plain = [o for o in args.overrides if o not in grid_ov]
    if grid_ov:  # `grid.seed=[0,1]` edits the sweep block itself; dotted keys inside it stay whole
        from da.experiments.config import parse_override

        for ov in grid_ov:
            key, value = parse_override(ov)
            block, _, inner = key.partition(".")
            raw.setdefault(block, {})
            raw[block][inner] = value
    configs = expand_sweep(raw, plain)
    if args.output:
        for c in configs:
            set_path(c, "output", str(args.output))
    return configs


def execute(args, backend: str = "local", scheduler=None) -> int:
    from da.experiments.collect import before_after_table, summary_table
    from da.experiments.config import dump_config
    from da.experiments.sweep import plan_sweep, run_sweep

    configs = resolve_runs(args)
    follower = _distributed(args, configs)  # a rank > 0 of a torchrun job: trains, prints nothing
    args.quiet = args.quiet or follower
    if args.show_config:
        for c in configs:
            print("---")
            print(dump_config(c), end="")
        return 0
    plan = plan_sweep(configs, args.output)
    states = [p["state"] for p in plan]
    n_done = states.count("completed") if not args.force else 0
    n_failed = states.count("failed") if not (args.force or args.retry_failed) else 0
    if args.dry_run:
        for p, c in zip(plan, configs):
            print(f"{p['run_id']}  {p['state']:<9}  method={c['method']}  seed={c['seed']}  {p['run_dir']}")
        return 0
    roots = sorted({str(Path(p["run_dir"]).parent) for p in plan})
    if not args.quiet:
        print(f"{len(configs)} run(s) in {', '.join(roots)}"
              + (f"; {n_done} already completed (--force reruns them)" if n_done else "")
              + (f"; {n_failed} failed before (--retry-failed reruns them)" if n_failed else ""),
              file=sys.stderr)
    jobs = args.jobs
    if jobs is None and args.nproc_per_node:  # a torchrun job already takes the node's GPUs/cores
        jobs = 1
    if jobs is None:  # one worker per CPU, never more than there are runs left to do
        todo = len(configs) - n_done - n_failed
        jobs = max(1, min(os.cpu_count() or 1, todo))
    statuses = run_sweep(configs, args.output, backend=backend, jobs=jobs, scheduler=scheduler,
                         retry_failed=args.retry_failed, force=args.force, quiet=args.quiet,
                         threads_per_run=args.threads_per_run, nproc_per_node=args.nproc_per_node)
    if follower:
        return 0
    print(summary_table(statuses, metrics=configs[0]["summary"] if configs else None), end="")
    if len(statuses) == 1 and statuses[0].get("result"):
        print()
        print(before_after_table(statuses[0]["result"]), end="")
    draw_figures(statuses, configs, roots)
    bad = [s for s in statuses if s["status"] in ("failed", "crashed", "skipped_failed")]
    counts = {k: sum(1 for s in statuses if s["status"] == k)
              for k in ("completed", "skipped", "failed", "skipped_failed", "crashed")}
    print(f"\nran {counts['completed']}, already done {counts['skipped']}, failed {counts['failed']}"
          + (f", failed before {counts['skipped_failed']}" if counts["skipped_failed"] else "")
          + (f", lost to a dead worker {counts['crashed']} (rerun to resume)" if counts["crashed"] else "")
          + (f"; records under {', '.join(roots)}" if roots else ""), file=sys.stderr)
    return 1 if bad else 0


def draw_figures(statuses, configs, roots) -> None:
    """After a run: each run that ran now gets ``<run_dir>/figures`` (PNG), and an output root
    with two or more finished runs its sweep figures, where the config says ``figures: true``.

    Drawn here, from the records, rather than by the pipeline: plotting is a
    by-product of a run and sits to the right of :mod:`da.experiments`.
    """
    wanted = [(s, c) for s, c in zip(statuses, configs) if c.get("figures", True)]
    for status, _ in wanted:
        if status["status"] == "completed":
            run_figures(status["run_dir"])
    done = [s for s, _ in wanted if s["status"] in ("completed", "skipped")]
    if len(done) >= 2 and any(s["status"] == "completed" for s, _ in wanted):
        for root in roots:
            sweep_figures(root)


def run_figures(run_dir) -> list:
    """The figures of one run directory (PNG, into ``figures/``); never fails the run."""
    try:
        from da.plot import run_figures as draw
    except ImportError:
        return []
    try:
        return draw(run_dir, formats=("png",))
    except Exception as exc:  # a result without a figure is still a result
        print(f"figures of {run_dir} skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []


def _distributed(args, configs) -> bool:
    """Check ``--nproc-per-node`` against the batch sizes (before any process starts) and join the
    process group of a torchrun/srun job; True on its ranks > 0."""
    from da.transfer.distributed import check_batches, init_from_env, launch_env_world_size

    n = args.nproc_per_node
    if n is not None and (n < 1 or launch_env_world_size() > 1):
        raise ValueError(f"--nproc-per-node={n}: give N >= 1, and not under torchrun/srun, which already "
                         "started the processes")
    for c in configs:
        for section in ("pretrain", "train"):
            if c[section].get("epochs", 1):
                check_batches(c[section], n or launch_env_world_size(), section)
    return not init_from_env().is_writer


def sweep_figures(root) -> None:
    """Figures over the runs of an output root (ablations, severity curves), when da.plot is there."""
    try:
        from da.plot import plot_run_dir
    except ImportError:
        return
    try:
        out = plot_run_dir(root, Path(root) / "figures", formats=("png", "pdf"))
    except Exception as exc:  # a table without a figure is still a result
        print(f"figures skipped: {exc}", file=sys.stderr)
        return
    names = sorted(out.get("figures", {}))
    if names:
        print(f"figures: {', '.join(names)} in {Path(root) / 'figures'}", file=sys.stderr)


def run(args) -> int:
    if args.show_defaults:
        from da.experiments.schema import describe_schema

        print(describe_schema())
        return 0
    if args.config is None:
        raise ValueError("a config file is needed (or --show-defaults)")
    return execute(args)


def standalone(name: str, module, argv) -> int:
    """Run one sub-command module as its own program (``python -m da.cli.sweep ...``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="da")
    sub = parser.add_subparsers(dest="command")
    module.add_parser(sub)
    args = parser.parse_args([name, *argv])
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"da {name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # `python -m da.cli.run ...`, the same as `da run ...`
    import sys as _sys

    from da.cli.run import standalone

    _sys.exit(standalone("run", _sys.modules[__name__], _sys.argv[1:]))
