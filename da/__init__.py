"""da: a domain-adaptation research library.

The package follows the path the data takes: :mod:`da.data` (explicit
distributions and shifts) and :mod:`da.datasets` (offline real pairs) →
:mod:`da.align` (alignment losses) → :mod:`da.transfer` (pretrain, transfer,
fine-tune, select) → :mod:`da.diagnostics` (tests, gaps, label shift, reports)
→ :mod:`da.experiments` (configs, runs, sweeps, collection) → :mod:`da.plot`.
Heavy subpackages are imported on first use.
"""

__version__ = "0.1.0"

import importlib

from da.data import (  # noqa: E402
    Domain,
    DomainPair,
    EmpiricalDomain,
    GaussianDomain,
    MoonsDomain,
)
from da.datasets import load_pair  # noqa: E402

_SUBPACKAGES = ("align", "transfer", "diagnostics", "experiments", "plot", "data", "datasets", "cli")
_LAZY = {"DomainAdaptationClassifier": "da.transfer"}

__all__ = [
    "__version__",
    "Domain",
    "DomainPair",
    "EmpiricalDomain",
    "GaussianDomain",
    "MoonsDomain",
    "load_pair",
    "DomainAdaptationClassifier",
    *_SUBPACKAGES,
]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"da.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'da' has no attribute {name!r}")
