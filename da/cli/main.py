"""``da`` entry point: one sub-command per module in :mod:`da.cli`.

Each sub-command module exposes ``add_parser(subparsers)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import da

# name -> module holding add_parser/run; imported lazily so `da --help` stays fast.
COMMANDS = {
    "run": "da.cli.run",
    "sweep": "da.cli.sweep",
    "collect": "da.cli.collect",
    "plot": "da.cli.plot",
    "diagnose": "da.cli.diagnose",
    "pairs": "da.cli.pairs",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="da", description="Domain adaptation research toolkit: data, alignment, transfer, "
                               "shift diagnostics, experiments.")
    parser.add_argument("--version", action="version", version=f"da {da.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in COMMANDS.items():
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:  # a sub-command not shipped in this build
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"da {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
