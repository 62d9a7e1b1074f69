"""Start-up: importing da's subpackages does not import POT, scikit-learn, pandas, matplotlib or
scipy.stats (they load on first use); `da --help` imports neither torch nor numpy.
Reference: the interpreter's own import log (`python -X importtime`) in a fresh subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("ot", "sklearn", "pandas", "matplotlib", "scipy.stats", "networkx")


def _imported(code: str) -> set[str]:
    """Names of every module the statement imports, read off `-X importtime` (stderr)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                          text=True, env=env, cwd=ROOT, check=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert "da" in names, proc.stderr[-2000:]  # the log was read: da itself is in it
    return names


@pytest.mark.parametrize("module", ["da", "da.data", "da.align", "da.diagnostics", "da.transfer",
                                    "da.experiments", "da.plot", "da.datasets"])
def test_import_does_not_load_heavy_optional_libraries(module):
    names = _imported(f"import {module}")
    loaded = sorted(h for h in HEAVY if h in names)
    assert not loaded, f"import {module} loads {loaded}"


def test_import_da_alone_does_not_load_torch():
    names = _imported("import da")
    assert "torch" not in names and "numpy" not in names


def test_da_help_imports_no_torch_and_no_numpy():
    names = _imported("import sys; from da.cli.main import main; sys.argv = ['da', '--help']\n"
                      "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert "da.cli.main" in names
    assert "torch" not in names and "numpy" not in names


def test_lazy_names_resolve_on_first_use():
    """The deferred names are the real objects once touched (and POT really loads then)."""
    code = ("import sys, da, da.align, da.transfer\n"
            "from da.transfer.estimator import DomainAdaptationClassifier as E\n"
            "assert da.DomainAdaptationClassifier is E and da.transfer.DomainAdaptationClassifier is E\n"
            "from da.data import GaussianDomain\n"
            "assert da.GaussianDomain is GaussianDomain\n"
            "import da.align.ot_losses as m\n"
            "assert 'ot' not in sys.modules\n"
            "m.ot.emd\n"
            "assert 'ot' in sys.modules and m.ot.emd is sys.modules['ot'].emd\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
