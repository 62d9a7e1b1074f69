"""Image corruptions as shift operators: additive noise, blur, contrast, inversion.

Inputs are flattened images in [0, 1] with ``domain.image_shape = (C, H, W)``.
Blur, contrast and inversion are affine maps, so on a :class:`GaussianDomain`
they return a Gaussian (the map's matrix is read off by applying it to the
identity); additive Gaussian noise on a Gaussian adds ``std**2 * I`` to each
covariance.
"""

from __future__ import annotations

import numpy as np

from da._lazy import lazy_function
from da.data.domain import Domain, EmpiricalDomain
from da.data.gaussian import GaussianDomain
from da.data.shifts import TransformedDomain, affine_shift, materialise

gaussian_filter = lazy_function("scipy.ndimage", "gaussian_filter")

__all__ = ["additive_noise", "blur", "contrast", "invert"]


def _check_severity(severity, lo=0.0, hi=None) -> float:
    s = float(severity)
    if not np.isfinite(s) or s < lo or (hi is not None and s > hi):
        bound = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"severity must be {bound}, got {severity!r}")
    return s


def _image_shape(domain: Domain):
    if domain.image_shape is not None:
        return domain.image_shape
    side = int(round(np.sqrt(domain.dim)))
    if side * side != domain.dim:
        raise ValueError(f"{domain.name!r} has no image_shape and dim={domain.dim} is not square")
    return (1, side, side)


def _deterministic(domain: Domain, fn, what: str) -> Domain:
    """Wrap a deterministic affine image map ``fn(X) -> X'``."""
    name = f"{domain.name}|{what}"
    if isinstance(domain, GaussianDomain):
        b = fn(np.zeros((1, domain.dim)))[0]
        A = (fn(np.eye(domain.dim)) - b).T
        return affine_shift(domain, A, b, name)
    if isinstance(domain, EmpiricalDomain):
        return materialise(domain, lambda X, y, rng: fn(X), name)
    return TransformedDomain(domain, lambda X, y, rng: fn(X), name=name)


def additive_noise(domain: Domain, severity: float = 0.1, *, seed=0) -> Domain:
    """Add i.i.d. N(0, severity^2) noise to every feature.

    On an :class:`EmpiricalDomain` the noise is drawn once, from ``seed``.
    """
    s = _check_severity(severity)
    name = f"{domain.name}|noise({s:g})"
    if isinstance(domain, GaussianDomain):
        return GaussianDomain(domain.means, domain.covs + s * s * np.eye(domain.dim), domain.prior, name=name)
    def fn(X, y, rng):
        return X + s * rng.standard_normal(X.shape)

    if isinstance(domain, EmpiricalDomain):
        return materialise(domain, fn, name, seed=seed)
    return TransformedDomain(domain, fn, name=name)


def blur(domain: Domain, severity: float = 1.0) -> Domain:
    """Gaussian blur with a standard deviation of ``severity`` pixels (per channel)."""
    s = _check_severity(severity)
    shape = _image_shape(domain)

    def fn(X):
        imgs = X.reshape(-1, *shape)
        return gaussian_filter(imgs, sigma=(0, 0, s, s), mode="constant").reshape(X.shape[0], -1)

    return _deterministic(domain, fn, f"blur({s:g})")


def contrast(domain: Domain, severity: float = 0.5) -> Domain:
    """Shrink each image toward its own mean: ``x -> (1-s)(x - mean) + mean``, s in [0, 1]."""
    s = _check_severity(severity, 0.0, 1.0)

    def fn(X):
        m = X.mean(axis=1, keepdims=True)
        return (1 - s) * (X - m) + m

    return _deterministic(domain, fn, f"contrast({s:g})")


def invert(domain: Domain, severity: float = 1.0) -> Domain:
    """Blend toward the negative image: ``x -> (1-s) x + s (1 - x)``, s in [0, 1]."""
    s = _check_severity(severity, 0.0, 1.0)
    return _deterministic(domain, lambda X: (1 - s) * X + s * (1 - X), f"invert({s:g})")
