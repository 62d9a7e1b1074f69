"""The `da` entry point."""

import subprocess
import sys

import da
from da.cli.main import main


def test_version_and_help(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out.strip() == f"da {da.__version__}"
    assert main([]) == 0
    assert "pairs" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "da.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "COMMAND" in out.stdout


def test_pairs_command(capsys):
    assert main(["pairs", "--no-baseline", "digits->mnist"]) == 0
    out = capsys.readouterr().out
    assert "digits->mnist" in out and "n_source=1797" in out


def test_bad_pair_name_is_error(capsys):
    assert main(["pairs", "nope"]) == 2
    assert "known pairs" in capsys.readouterr().err
