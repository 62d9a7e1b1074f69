import copy

import pytest

# Tiny runs: 2-D Gaussians, 200 samples per domain, an 8-unit MLP, 2 + 2 epochs; ~0.2 s each once warm.
TINY = {
    "name": "tiny",
    "figures": False,  # matplotlib costs more than a tiny run; one test turns it on
    "seed": 0,
    "method": "mmd",
    "data": {"generator": {"domain": "gaussian", "shift": "rotation", "severity": 40},
             "n_source": 200, "n_target": 200},
    "model": {"hidden": [8]},
    "pretrain": {"epochs": 2, "batch_size": 32},
    "train": {"epochs": 2, "batch_size": 32},
    "diagnostics": {"tests": ["mmd"], "gaps": ["mmd2"], "n_permutations": 20, "max_samples": 60},
}


@pytest.fixture
def tiny():
    return copy.deepcopy(TINY)


@pytest.fixture
def cli(monkeypatch):
    """`da` with this subpackage's commands registered (the lead wires them into COMMANDS)."""
    from da.cli import main as M

    monkeypatch.setitem(M.COMMANDS, "run", "da.cli.run")
    monkeypatch.setitem(M.COMMANDS, "sweep", "da.cli.sweep")
    monkeypatch.setitem(M.COMMANDS, "collect", "da.cli.collect")
    return M.main
