"""The examples in da's docstrings run and print what they say (``doctest``), module by module.

A module that needs an optional extra this environment lacks (torchvision, timm, MLflow, ...) is skipped, not
failed: the vision environment of CI runs it."""

import doctest
import importlib
import pkgutil

import pytest

import da

MODULES = sorted(m.name for m in pkgutil.walk_packages(da.__path__, "da.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional extra
        pytest.skip(f"{name}: {exc}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"


def test_a_wrong_example_fails():
    """The runner above does fail on a wrong printed value (so a passing module shows something)."""
    t = doctest.DocTestParser().get_doctest(">>> 1 + 1\n3\n", {}, "wrong", "wrong.py", 0)
    runner = doctest.DocTestRunner()
    runner.run(t, out=lambda s: None)
    assert runner.summarize(verbose=False).failed == 1
