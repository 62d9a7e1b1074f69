"""Explicit source/target distributions, shift operators, pairs and loaders."""

from da.data.domain import Domain, EmpiricalDomain, NoClosedFormError
from da.data.gaussian import (Gaussian, GaussianDomain, gaussian_kl, gaussian_mixture_mmd2,
                              gaussian_w2)
from da.data.image_shifts import additive_noise, blur, contrast, invert
from da.data.lazy import DatasetRows, is_lazy
from da.data.loader import LoaderStream, TensorStream, epoch_indices
from da.data.moons import MoonsDomain
from da.data.pair import DomainPair, GroundTruth, Part, Split, TargetLabels
from da.data.shifts import (CovariateShiftDomain, LabelShiftedDomain, TransformedDomain,
                            affine_shift, conditional_shift, covariate_shift, label_shift,
                            rotation, subspace_shift)

__all__ = [
    "Domain", "EmpiricalDomain", "NoClosedFormError", "Gaussian", "GaussianDomain", "MoonsDomain",
    "DomainPair", "Split", "Part", "TargetLabels", "GroundTruth", "TensorStream", "LoaderStream", "DatasetRows", "is_lazy",
    "epoch_indices",
    "gaussian_kl", "gaussian_w2", "gaussian_mixture_mmd2",
    "label_shift", "covariate_shift", "conditional_shift", "rotation", "subspace_shift",
    "affine_shift", "additive_noise", "blur", "contrast", "invert",
    "LabelShiftedDomain", "TransformedDomain", "CovariateShiftDomain",
]
