"""Import the real torchvision/timm for a `vision` test, or skip it with the reason.

Under DA_REQUIRE_VISION=1 (`make test-vision`, CI) a package that cannot be
imported fails the test instead, so the vision tests are never skipped in CI.
"""

import importlib
import os

import pytest


def require(package: str):
    try:
        return importlib.import_module(package)
    except Exception as exc:  # missing, or a torchvision build that does not match torch
        reason = (f"{package} cannot be imported here ({type(exc).__name__}: {str(exc)[:120]}); "
                  "the vision tests run in the vision venv: make test-vision")
        if os.environ.get("DA_REQUIRE_VISION") == "1":
            pytest.fail(reason)
        pytest.skip(reason, allow_module_level=True)
