"""The inter-twinning moons of the DANN paper (Ganin et al. 2016, §5.1)."""

from __future__ import annotations

import numpy as np

from da.data.domain import Domain, NoClosedFormError

__all__ = ["MoonsDomain"]

# Centre of the two noiseless half-circles; rotations turn about it.
_CENTER = np.array([0.5, 0.25])


class MoonsDomain(Domain):
    r"""Two interleaving half-circles, as ``sklearn.datasets.make_moons``.

    Class 0: :math:`(\cos t, \sin t)`; class 1: :math:`(1-\cos t, \tfrac12-\sin t)`,
    :math:`t \sim U(0, \pi)`, plus isotropic Gaussian noise of std ``noise``,
    then a rotation by ``rotation_deg`` about the centre (0.5, 0.25).

    The marginal density is a Gaussian blur of a uniform measure on an arc;
    it has **no closed form**, so :meth:`log_prob` raises
    :class:`~da.data.NoClosedFormError` (nothing is estimated silently).

    Parameters
    ----------
    noise : float
    rotation_deg : float
    prior : array-like of shape (2,), optional
    """

    def __init__(self, noise: float = 0.1, rotation_deg: float = 0.0, prior=None, name: str = "moons"):
        if not np.isfinite(noise) or noise < 0:
            raise ValueError(f"noise must be a non-negative number, got {noise!r}")
        if not np.isfinite(rotation_deg):
            raise ValueError(f"rotation_deg must be finite, got {rotation_deg!r}")
        super().__init__(np.full(2, 0.5) if prior is None else prior, 2, name)
        if self.n_classes != 2:
            raise ValueError(f"MoonsDomain has 2 classes; prior has {self.n_classes} entries")
        self.noise = float(noise)
        self.rotation_deg = float(rotation_deg)

    def sample_given_y(self, y, rng):
        t = rng.uniform(0.0, np.pi, size=len(y))
        X = np.where(y[:, None] == 0,
                     np.stack([np.cos(t), np.sin(t)], 1),
                     np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
        X = X + self.noise * rng.standard_normal(X.shape)
        th = np.deg2rad(self.rotation_deg)
        R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        return (X - _CENTER) @ R.T + _CENTER

    def log_prob_given_y(self, X, y):
        raise NoClosedFormError(f"{self.name}: the moons density (a blurred arc) has no closed form")
