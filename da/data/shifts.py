r"""Shift operators: each takes a :class:`Domain` and returns a new one.

They compose (``rotation(label_shift(src, q), 30)``) and each has a severity
parameter. Where the shift keeps the family closed (label shift and affine
maps of a :class:`GaussianDomain`), the result is again Gaussian, so the
analytic ground truth of :meth:`DomainPair.ground_truth` survives.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from da._lazy import lazy_function
from da._validation import check_prior, check_random_state
from da.data.domain import Domain, EmpiricalDomain, NoClosedFormError
from da.data.gaussian import GaussianDomain

expit, log_expit = (lazy_function("scipy.special", f) for f in ("expit", "log_expit"))

__all__ = ["TransformedDomain", "LabelShiftedDomain", "CovariateShiftDomain", "label_shift",
           "covariate_shift", "conditional_shift", "rotation", "subspace_shift", "affine_shift", "materialise"]


def _suffix(domain: Domain, what: str) -> str:
    return f"{domain.name}|{what}"


class LabelShiftedDomain(Domain):
    """``base`` with a new class prior; P(X | Y) is unchanged."""

    def __init__(self, base: Domain, prior, name: str | None = None):
        super().__init__(check_prior(prior, "new_prior", n_classes=base.n_classes), base.dim,
                         name or base.name, base.image_shape)
        self.base = base
        self.has_density = base.has_density

    def sample_given_y(self, y, rng):
        return self.base.sample_given_y(y, rng)

    def log_prob_given_y(self, X, y):
        return self.base.log_prob_given_y(X, y)


class TransformedDomain(Domain):
    """X | y  ->  f(X, y, rng): a class-dependent (possibly random) map of ``base``.

    When the map is affine per class, ``x -> A_y x + b_y`` with invertible
    ``A_y``, pass ``affine=(A, b)`` and the density follows by change of
    variables: :math:`\\log p(x|y) = \\log p_{base}(A_y^{-1}(x-b_y)|y) - \\log|\\det A_y|`.
    """

    def __init__(self, base: Domain, fn: Callable, *, affine=None, name: str | None = None):
        super().__init__(base.prior, base.dim, name or base.name, base.image_shape)
        self.base = base
        self.fn = fn
        self.affine = affine
        invertible = affine is not None and all(
            abs(np.linalg.det(a)) > 1e-12 for a in affine[0]) and affine[0].shape[1] == affine[0].shape[2]
        self.has_density = bool(base.has_density and invertible)

    def sample_given_y(self, y, rng):
        return self.fn(np.asarray(self.base.sample_given_y(y, rng), dtype=np.float64), y, rng)

    def log_prob_given_y(self, X, y):
        if not self.has_density:
            raise NoClosedFormError(f"{self.name}: the shifted density has no closed form "
                                    "(non-invertible or non-affine map, or base without density)")
        A, b = self.affine
        X = np.asarray(X, dtype=np.float64)
        y = np.broadcast_to(np.asarray(y), (X.shape[0],))
        out = np.empty(X.shape[0])
        for k in np.unique(y):
            sel = y == k
            z = np.linalg.solve(A[k], (X[sel] - b[k]).T).T
            out[sel] = self.base.log_prob_given_y(z, int(k)) - np.linalg.slogdet(A[k])[1]
        return out


def materialise(domain: EmpiricalDomain, fn: Callable, name: str, seed=0) -> EmpiricalDomain:
    """Apply ``fn(X, y, rng)`` once to every row of an empirical domain.

    The result is again empirical (a fixed corrupted copy, as MNIST-C is of
    MNIST), so subsampling without replacement and fixed splits still hold.
    Random maps (noise) draw from ``seed``.
    """
    y = domain.y if domain.y is not None else np.zeros(len(domain), dtype=np.int64)
    X = fn(domain.X.astype(np.float64), y, check_random_state(seed))
    return EmpiricalDomain(X, domain.y, n_classes=domain.n_classes, name=name,
                           image_shape=domain.image_shape, splits=domain.splits)


def affine_shift(domain: Domain, A, b, name: str) -> Domain:
    """Apply ``x -> A_y x + b_y`` per class; ``A`` is (K, d, d) or (d, d), ``b`` is (K, d) or (d,)."""
    K, d = domain.n_classes, domain.dim
    A = np.broadcast_to(np.asarray(A, dtype=np.float64), (K, d, d)).copy()
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), (K, d)).copy()
    if not (np.isfinite(A).all() and np.isfinite(b).all()):
        raise ValueError("affine map contains NaN or inf values")
    if isinstance(domain, GaussianDomain):
        return domain.affine(A, b, name=name)

    def fn(X, y, rng):
        return np.einsum("nij,nj->ni", A[y], X) + b[y]

    if isinstance(domain, EmpiricalDomain):
        return materialise(domain, fn, name)
    return TransformedDomain(domain, fn, affine=(A, b), name=name)


def label_shift(domain: Domain, new_prior=None, *, severity: float = 1.0, alpha: float = 1.0,
                seed=None) -> Domain:
    r"""Change P(Y), keep P(X | Y).

    The new prior is :math:`(1-s)\,\pi + s\,\pi'` for severity :math:`s \in [0, 1]`,
    where :math:`\pi'` is ``new_prior`` or, if omitted, a draw from
    Dirichlet(``alpha``) seeded by ``seed``.
    """
    if not 0.0 <= severity <= 1.0:
        raise ValueError(f"severity must be in [0, 1], got {severity!r}")
    if new_prior is None:
        new_prior = check_random_state(seed).dirichlet(np.full(domain.n_classes, float(alpha)))
    q = check_prior(new_prior, "new_prior", n_classes=domain.n_classes)
    prior = (1 - severity) * domain.prior + severity * q
    name = _suffix(domain, f"label_shift({severity:g})")
    if isinstance(domain, GaussianDomain):
        return GaussianDomain(domain.means, domain.covs, prior, name=name)
    return LabelShiftedDomain(domain, prior, name=name)


def rotation(domain: Domain, deg: float, *, plane: tuple[int, int] = (0, 1), center=None) -> Domain:
    """Rotate by ``deg`` degrees in the coordinate ``plane`` about ``center`` (default: origin)."""
    d = domain.dim
    i, j = plane
    if d < 2 or not (0 <= i < d and 0 <= j < d and i != j):
        raise ValueError(f"plane {plane} is not a pair of distinct axes of a {d}-D domain")
    th = np.deg2rad(float(deg))
    R = np.eye(d)
    R[i, i] = R[j, j] = np.cos(th)
    R[i, j], R[j, i] = -np.sin(th), np.sin(th)
    c = np.zeros(d) if center is None else np.asarray(center, dtype=np.float64)
    return affine_shift(domain, R, c - R @ c, _suffix(domain, f"rotation({deg:g})"))


def conditional_shift(domain: Domain, severity: float = 1.0, *, seed=0, A=None, b=None) -> Domain:
    r"""Class-dependent affine map of X | Y: :math:`x \mapsto A_y x + b_y`.

    By default, with :math:`s` = ``severity``: :math:`A_y = \mathrm{diag}(e^{s\,\epsilon_y})`,
    :math:`\epsilon_y \sim N(0, 0.25^2 I)`, and :math:`b_y = s\,u_y` with :math:`u_y`
    a random unit vector, all drawn from ``seed``. ``A`` and ``b`` override.
    """
    K, d = domain.n_classes, domain.dim
    rng = check_random_state(seed)
    if A is None:
        eps = rng.normal(0, 0.25, size=(K, d))
        A = np.stack([np.diag(np.exp(severity * e)) for e in eps])
    if b is None:
        u = rng.standard_normal((K, d))
        b = severity * u / np.linalg.norm(u, axis=1, keepdims=True)
    return affine_shift(domain, A, b, _suffix(domain, f"conditional_shift({severity:g})"))


def _moments(domain: Domain, n_ref: int = 20000, seed: int = 0):
    """Mean and covariance of the marginal: exact for Gaussians, else from a fixed reference sample."""
    if isinstance(domain, GaussianDomain):
        return domain.mean, domain.cov, "exact"
    X, _ = domain.sample(n_ref, seed=seed)
    return X.mean(0).astype(np.float64), np.cov(X.T.astype(np.float64)).reshape(domain.dim, domain.dim), \
        f"reference sample (n={n_ref}, seed={seed})"


def subspace_shift(domain: Domain, severity: float = 1.0, *, k: int = 1) -> Domain:
    r"""Rotate the top-``k`` principal subspace away from itself.

    Each of the top-``k`` principal axes :math:`v_i` of the marginal covariance is
    turned toward the ``i``-th weakest axis :math:`v_{d-i}` by the angle
    :math:`\theta = s\pi/2` (about the marginal mean), so the principal angles
    between the source's and the target's top-``k`` subspaces are all
    :math:`\theta`. Requires :math:`2k \le d`. Covariances come from the
    closed form for Gaussians, else from a fixed reference sample.
    """
    d = domain.dim
    if k < 1 or 2 * k > d:
        raise ValueError(f"k must satisfy 1 <= k and 2k <= dim={d}, got k={k}")
    mean, cov, _ = _moments(domain)
    _, V = np.linalg.eigh(cov)
    V = V[:, ::-1]  # descending variance
    th = severity * np.pi / 2
    R = np.eye(d)
    for i in range(k):
        a, c = V[:, i], V[:, d - 1 - i]
        # Givens rotation in span(a, c): a -> cos a + sin c, c -> -sin a + cos c
        R = R + (np.cos(th) - 1) * (np.outer(a, a) + np.outer(c, c)) + np.sin(th) * (np.outer(c, a) - np.outer(a, c))
    return affine_shift(domain, R, mean - R @ mean, _suffix(domain, f"subspace_shift({severity:g})"))


class CovariateShiftDomain(Domain):
    r"""Importance-resampled ``base``: :math:`p_T(x) = p_S(x)\,w(x)/Z`, P(Y|X) unchanged.

    Samples are exact, by rejection: a draw :math:`x \sim p_S(\cdot|y)` is kept
    with probability :math:`w(x) \in [0, 1]`. Hence
    :math:`p_T(x|y) = p_S(x|y)w(x)/Z_y`, :math:`q_y = \pi_y Z_y / Z` and
    :math:`Z = \sum_y \pi_y Z_y`, with :math:`Z_y = E_{S|y}[w]`.

    Attributes
    ----------
    normalizers : ndarray (K,)
        :math:`Z_y`.
    normalizer_method : str
        How :math:`Z_y` was obtained: Gauss–Hermite quadrature (exact to
        machine precision, Gaussian base with the default weight) or Monte Carlo
        (with its relative standard error).
    """

    def __init__(self, base: Domain, weight_fn: Callable, normalizers, normalizer_method: str, name: str):
        Zk = np.asarray(normalizers, dtype=np.float64)
        if (Zk <= 0).any() and (base.prior[Zk <= 0] > 0).any():
            raise ValueError("the weight function is zero on a class with positive prior mass")
        prior = base.prior * Zk
        super().__init__(prior / prior.sum(), base.dim, name, base.image_shape)
        self.base = base
        self.weight_fn = weight_fn
        self.normalizers = Zk
        self.normalizer = float(base.prior @ Zk)
        self.normalizer_method = normalizer_method
        self.has_density = base.has_density

    def weight(self, X) -> np.ndarray:
        w = np.asarray(self.weight_fn(np.asarray(X, dtype=np.float64)), dtype=np.float64)
        if w.shape != (np.shape(X)[0],) or not np.isfinite(w).all() or (w < 0).any() or (w > 1 + 1e-12).any():
            raise ValueError("weight_fn must return one weight in [0, 1] per row")
        return w

    def density_ratio(self, X) -> np.ndarray:
        """:math:`p_T(x)/p_S(x) = w(x)/Z`."""
        return self.weight(X) / self.normalizer

    def sample_given_y(self, y, rng):
        out = np.empty((len(y), self.dim))
        for k in np.unique(y):
            where = np.flatnonzero(y == k)
            need, got = where.size, []
            for _ in range(10000):
                m = int(min(1e6, 1.2 * need / max(self.normalizers[k], 1e-6) + 16))
                cand = np.asarray(self.base.sample_given_y(np.full(m, k), rng), dtype=np.float64)
                keep = rng.uniform(size=m) < self.weight(cand)
                got.append(cand[keep])
                need -= int(keep.sum())
                if need <= 0:
                    break
            else:  # pragma: no cover - needs a weight that is almost zero everywhere
                raise RuntimeError("rejection sampling did not finish: the weight is nearly zero")
            out[where] = np.concatenate(got)[: where.size]
        return out

    def log_prob_given_y(self, X, y):
        y = np.broadcast_to(np.asarray(y), (np.shape(X)[0],))
        with np.errstate(divide="ignore"):
            return self.base.log_prob_given_y(X, y) + np.log(self.weight(X)) - np.log(self.normalizers[y])


def covariate_shift(domain: Domain, severity: float = 1.0, *, direction=None, weight_fn=None,
                    n_mc: int = 200_000, seed=0) -> CovariateShiftDomain:
    r"""Importance resampling by a known weight, so :math:`p_T/p_S = w/Z` is known.

    The default weight is logistic along ``direction`` :math:`u` (default: the
    first axis): :math:`w(x) = \sigma(s\,(u^\top x - c)/\tau)` with :math:`c, \tau`
    the mean and std of :math:`u^\top X` under ``domain``, and :math:`s` the
    severity (0 means no shift). Any ``weight_fn`` with values in [0, 1] may be
    given instead. For a :class:`GaussianDomain` and the default weight the
    normalizers are computed by Gauss–Hermite quadrature; otherwise by Monte
    Carlo with ``n_mc`` draws per class (the method is recorded).
    """
    if not np.isfinite(severity):
        raise ValueError(f"severity must be finite, got {severity!r}")
    name = _suffix(domain, f"covariate_shift({severity:g})")
    gaussian = isinstance(domain, GaussianDomain)
    if weight_fn is None:
        u = np.zeros(domain.dim)
        if direction is None:
            u[0] = 1.0
        else:
            u = np.asarray(direction, dtype=np.float64).reshape(-1)
            if u.shape != (domain.dim,) or not np.isfinite(u).all() or np.linalg.norm(u) == 0:
                raise ValueError(f"direction must be a non-zero vector of length {domain.dim}")
            u = u / np.linalg.norm(u)
        mean, cov, _ = _moments(domain)
        c, tau = float(u @ mean), float(np.sqrt(u @ cov @ u))
        if tau <= 0:
            raise ValueError("the domain has zero variance along direction: the weight is undefined")
        s = float(severity)

        def weight_fn(X, u=u, c=c, tau=tau, s=s):
            return expit(s * (X @ u - c) / tau)

        if gaussian:
            nodes, wts = np.polynomial.hermite.hermgauss(120)
            Zk = []
            for k in range(domain.n_classes):
                m_k, v_k = u @ domain.means[k], u @ domain.covs[k] @ u
                t = m_k + np.sqrt(2 * v_k) * nodes
                Zk.append(float(wts @ np.exp(log_expit(s * (t - c) / tau)) / np.sqrt(np.pi)))
            return CovariateShiftDomain(domain, weight_fn, Zk, "gauss-hermite quadrature (120 nodes)", name)
    if isinstance(domain, EmpiricalDomain) and domain.y is not None:
        # the empirical measure: Z_y is an exact finite average
        w = np.asarray(weight_fn(domain.X.astype(np.float64)))
        Zk = [float(w[domain.y == k].mean()) if (domain.y == k).any() else 1.0
              for k in range(domain.n_classes)]
        return CovariateShiftDomain(domain, weight_fn, Zk, "exact average over the empirical sample", name)
    rng = check_random_state(seed)
    Zk, rel = [], []
    for k in range(domain.n_classes):
        w = np.asarray(weight_fn(np.asarray(domain.sample_given_y(np.full(n_mc, k), rng), dtype=np.float64)))
        Zk.append(float(w.mean()))
        rel.append(float(w.std() / np.sqrt(n_mc) / max(w.mean(), 1e-300)))
    method = f"monte carlo (n={n_mc} per class, max relative se={max(rel):.2g})"
    return CovariateShiftDomain(domain, weight_fn, Zk, method, name)
