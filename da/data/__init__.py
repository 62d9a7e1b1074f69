"""Explicit source/target distributions and shift operators."""

from da.data.domain import Domain, EmpiricalDomain, NoClosedFormError
from da.data.gaussian import (Gaussian, GaussianDomain, gaussian_kl, gaussian_mixture_mmd2,
                              gaussian_w2)

__all__ = ["Domain", "EmpiricalDomain", "NoClosedFormError", "Gaussian", "GaussianDomain",
           "gaussian_kl", "gaussian_w2", "gaussian_mixture_mmd2"]
