"""``da sweep CONFIG [key.path=value ...]``: run a config's grid/zip sweep on a process pool or dask.

Resumable: completed runs are skipped, runs killed mid-way are redone from
scratch, failed runs are skipped unless ``--retry-failed``. See docs/sweeps.md
for SLURM/PBS (dask-jobqueue) and Kubernetes (dask-kubernetes) clusters, and
``--nproc-per-node N`` (each run a torchrun job of N processes) for multi-GPU runs.
"""

from __future__ import annotations

from da.cli.run import add_common_arguments, execute


def add_parser(sub):
    p = sub.add_parser("sweep", help="run a grid/zip sweep (local process pool or dask), resumable",
                       description=__doc__.split("\n\n")[0])
    add_common_arguments(p)
    p.add_argument("--backend", choices=("local", "dask"), default="local",
                   help="local: a process pool (default); dask: dask.distributed")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="join a running dask scheduler: its address (tcp://host:8786) or scheduler "
                        "file; without it --backend dask starts a LocalCluster of --jobs worker "
                        "processes on 127.0.0.1")
    p.set_defaults(func=run)


def run(args) -> int:
    return execute(args, backend="dask" if args.scheduler else args.backend, scheduler=args.scheduler)


if __name__ == "__main__":  # `python -m da.cli.sweep ...`, the same as `da sweep ...`
    import sys as _sys

    from da.cli.run import standalone

    _sys.exit(standalone("sweep", _sys.modules[__name__], _sys.argv[1:]))
