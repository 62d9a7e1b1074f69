"""Loading a script of ``benchmarks/`` as a module, for the tests of this folder."""

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str, module_name: str):
    """``benchmarks/NAME.py`` executed as the module ``module_name`` (its folder on ``sys.path`` meanwhile,
    for the scripts' own imports such as ``_baseline``)."""
    spec = importlib.util.spec_from_file_location(module_name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module
