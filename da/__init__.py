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

_SUBPACKAGES = ("align", "transfer", "diagnostics", "experiments", "plot", "data", "datasets", "cli")
# Public names, each imported from its module on first use (PEP 562): ``import da``
# itself imports neither torch nor scipy, so ``da --help`` starts in a fraction of a second.
_LAZY = {"Domain": "da.data", "DomainPair": "da.data", "EmpiricalDomain": "da.data",
         "GaussianDomain": "da.data", "MoonsDomain": "da.data", "load_pair": "da.datasets",
         "DomainAdaptationClassifier": "da.transfer"}

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
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'da' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
