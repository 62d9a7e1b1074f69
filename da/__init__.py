"""da: a domain-adaptation research library.

Source and target are explicit distributions (:mod:`da.data`), real offline
domain pairs share the same interface (:mod:`da.datasets`).
"""

__version__ = "0.1.0"

from da.data import (  # noqa: E402
    Domain,
    EmpiricalDomain,
    GaussianDomain,
)

__all__ = [
    "__version__",
    "Domain",
    "EmpiricalDomain",
    "GaussianDomain",
]
