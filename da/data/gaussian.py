r"""Class-conditional Gaussian domains and their closed-form divergences.

``GaussianDomain`` is closed under label shift, class-dependent affine maps
(rotation, subspace and conditional shift) and additive Gaussian noise, so the
analytic ground truth survives those shifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from da._lazy import lazy_function
from da._validation import check_array, check_cov, check_labels, check_prior
from da.data.domain import Domain

logsumexp = lazy_function("scipy.special", "logsumexp")

__all__ = ["Gaussian", "GaussianDomain", "gaussian_kl", "gaussian_w2", "gaussian_mixture_mmd2",
           "gaussian_expected_kernel"]


@dataclass(frozen=True)
class Gaussian:
    """One class-conditional N(mean, cov)."""

    mean: np.ndarray
    cov: np.ndarray


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


class GaussianDomain(Domain):
    r"""Class-conditional Gaussians: :math:`P(y=k)=\pi_k`, :math:`X|y=k \sim N(\mu_k, \Sigma_k)`.

    Parameters
    ----------
    means : array-like of shape (K, d)
    covs : array-like of shape (K, d, d) or (d, d)
        One PSD covariance per class, or one shared by all classes. A density
        exists only if every covariance is positive definite.
    prior : array-like of shape (K,), optional
        Defaults to uniform.
    name : str

    Examples
    --------
    >>> dom = GaussianDomain([[0, 0], [2, 0]], np.eye(2))
    >>> X, y = dom.sample(5, seed=0)
    >>> X.shape, X.dtype, y.dtype
    ((5, 2), dtype('float32'), dtype('int64'))
    """

    def __init__(self, means, covs, prior=None, name: str = "gaussian"):
        means = np.asarray(means, dtype=np.float64)
        if means.ndim == 1:
            means = means[None, :]
        if means.ndim != 2 or means.shape[0] == 0 or means.shape[1] == 0:
            raise ValueError(f"means must have shape (K, d), got {means.shape}")
        if not np.isfinite(means).all():
            raise ValueError("means contains NaN or inf values")
        K, d = means.shape
        covs = np.asarray(covs, dtype=np.float64)
        if covs.shape == (d, d):
            covs = np.broadcast_to(covs, (K, d, d)).copy()
        if covs.shape != (K, d, d):
            raise ValueError(f"covs must have shape ({K}, {d}, {d}) or ({d}, {d}), got {covs.shape}")
        covs = np.stack([check_cov(c, f"covs[{k}]") for k, c in enumerate(covs)])
        prior = np.full(K, 1.0 / K) if prior is None else check_prior(prior, n_classes=K)
        super().__init__(prior, d, name)
        self.means = means
        self.covs = covs
        self._chol = np.stack([_psd_sqrt(c) for c in covs])
        self.has_density = bool(all(np.linalg.eigvalsh(c).min() > 1e-12 for c in covs))

    @property
    def class_conditionals(self) -> list[Gaussian]:
        return [Gaussian(self.means[k].copy(), self.covs[k].copy()) for k in range(self.n_classes)]

    @property
    def mean(self) -> np.ndarray:
        """Marginal mean sum_k pi_k mu_k."""
        return self.prior @ self.means

    @property
    def cov(self) -> np.ndarray:
        """Marginal covariance of the mixture."""
        m = self.mean
        dev = self.means - m
        return np.einsum("k,kij->ij", self.prior, self.covs) + np.einsum("k,ki,kj->ij", self.prior, dev, dev)

    def sample_given_y(self, y, rng):
        z = rng.standard_normal((len(y), self.dim))
        return self.means[y] + np.einsum("nij,nj->ni", self._chol[y], z)

    def log_prob_given_y(self, X, y):
        from da.data.domain import NoClosedFormError

        if not self.has_density:
            raise NoClosedFormError(f"{self.name}: a covariance is singular, so no density exists")
        X = np.asarray(X, dtype=np.float64)
        y = np.broadcast_to(np.asarray(y), (X.shape[0],))
        out = np.empty(X.shape[0])
        for k in np.unique(y):
            sel = y == k
            L = np.linalg.cholesky(self.covs[k])
            z = np.linalg.solve(L, (X[sel] - self.means[k]).T)
            logdet = 2 * np.log(np.diag(L)).sum()
            out[sel] = -0.5 * ((z * z).sum(0) + logdet + self.dim * np.log(2 * np.pi))
        return out

    # closures used by the shift operators ------------------------------
    def with_prior(self, prior) -> "GaussianDomain":
        return GaussianDomain(self.means, self.covs, prior, name=self.name)

    def affine(self, A, b, name: str | None = None) -> "GaussianDomain":
        """X|k -> A_k X + b_k, with ``A`` of shape (K, d', d) and ``b`` of shape (K, d')."""
        means = np.einsum("kij,kj->ki", A, self.means) + b
        covs = np.einsum("kij,kjl,kml->kim", A, self.covs, A)
        return GaussianDomain(means, covs, self.prior, name=name or self.name)


def gaussian_kl(m0, S0, m1, S1) -> float:
    r"""KL(N(m0,S0) || N(m1,S1)) in nats.

    .. math:: \tfrac12\left[\operatorname{tr}(S_1^{-1}S_0) + (m_1-m_0)^\top S_1^{-1}(m_1-m_0) - d
              + \ln\frac{\det S_1}{\det S_0}\right]
    """
    m0, m1 = np.asarray(m0, float), np.asarray(m1, float)
    S0, S1 = np.asarray(S0, float), np.asarray(S1, float)
    d = m0.size
    L1 = np.linalg.cholesky(S1)
    L0 = np.linalg.cholesky(S0)
    A = np.linalg.solve(L1, L0)
    z = np.linalg.solve(L1, m1 - m0)
    logdet = 2 * (np.log(np.diag(L1)).sum() - np.log(np.diag(L0)).sum())
    return float(0.5 * ((A * A).sum() + z @ z - d + logdet))


def gaussian_w2(m0, S0, m1, S1) -> float:
    r"""2-Wasserstein distance between Gaussians (Bures formula).

    .. math:: W_2^2 = \lVert m_0-m_1\rVert^2 + \operatorname{tr}\big(S_0 + S_1
              - 2 (S_1^{1/2} S_0 S_1^{1/2})^{1/2}\big)
    """
    m0, m1 = np.asarray(m0, float), np.asarray(m1, float)
    S0, S1 = np.asarray(S0, float), np.asarray(S1, float)
    r1 = _psd_sqrt(S1)
    cross = _psd_sqrt(r1 @ S0 @ r1)
    w2sq = float(((m0 - m1) ** 2).sum() + np.trace(S0) + np.trace(S1) - 2 * np.trace(cross))
    return float(np.sqrt(max(w2sq, 0.0)))


def gaussian_expected_kernel(m0, S0, m1, S1, bandwidth: float) -> float:
    r"""E k_h(X, Y) for independent X ~ N(m0,S0), Y ~ N(m1,S1), Gaussian kernel of bandwidth h.

    With :math:`\Delta = m_0-m_1` and :math:`S = S_0+S_1`:

    .. math:: \det(I + S/h^2)^{-1/2}\exp\!\big(-\tfrac12 \Delta^\top (S + h^2 I)^{-1}\Delta\big)
    """
    h2 = float(bandwidth) ** 2
    S = np.asarray(S0, float) + np.asarray(S1, float)
    d = S.shape[0]
    delta = np.asarray(m0, float) - np.asarray(m1, float)
    _, logdet = np.linalg.slogdet(np.eye(d) + S / h2)
    quad = delta @ np.linalg.solve(S + h2 * np.eye(d), delta)
    return float(np.exp(-0.5 * logdet - 0.5 * quad))


def gaussian_mixture_mmd2(p: GaussianDomain, q: GaussianDomain, bandwidth: float) -> float:
    r"""Closed-form MMD² between the marginals of two Gaussian mixtures.

    .. math:: \mathrm{MMD}^2 = \sum_{ij}\pi_i\pi_j E k(P_i,P_j) + \sum_{ij}\rho_i\rho_j E k(Q_i,Q_j)
              - 2\sum_{ij}\pi_i\rho_j E k(P_i,Q_j)

    with the Gaussian kernel :math:`k_h(x,y)=\exp(-\lVert x-y\rVert^2/2h^2)` of :mod:`da._kernels`.
    """
    if bandwidth is None or not np.isfinite(bandwidth) or bandwidth <= 0:
        raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}")
    if p.dim != q.dim:
        raise ValueError(f"p and q have different dimensions: {p.dim} vs {q.dim}")

    def cross(a: GaussianDomain, b: GaussianDomain) -> float:
        return sum(a.prior[i] * b.prior[j] * gaussian_expected_kernel(
            a.means[i], a.covs[i], b.means[j], b.covs[j], bandwidth)
            for i in range(a.n_classes) for j in range(b.n_classes))

    return float(cross(p, p) + cross(q, q) - 2 * cross(p, q))
