"""Load a script of experiments/repro as a module (the scripts are not a package)."""

import importlib.util
from pathlib import Path

REPRO = Path(__file__).resolve().parents[1] / "experiments" / "repro"


def load_repro(name: str):
    spec = importlib.util.spec_from_file_location(f"repro_{name}", REPRO / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
