"""The :class:`Domain` interface: a joint distribution P(X, Y) one can sample.

A domain draws ``y ~ prior`` and then ``X | y`` from its class-conditional.
Analytic domains also give ``log_prob(X, y)`` and ``log_prob_x(X)``; domains
without a closed-form density raise :class:`NoClosedFormError` instead of
estimating silently.
"""

from __future__ import annotations

import numpy as np

from da._lazy import lazy_function
from da._validation import (check_array, check_labels, check_positive_int, check_prior,
                            check_random_state)

logsumexp = lazy_function("scipy.special", "logsumexp")

__all__ = ["Domain", "EmpiricalDomain", "NoClosedFormError", "dataset_to_arrays"]


class NoClosedFormError(NotImplementedError):
    """Raised when a quantity has no closed form for this domain (it is never estimated silently)."""


class Domain:
    """A joint distribution P(X, Y) over ``dim`` features and ``n_classes`` classes.

    Subclasses implement :meth:`sample_given_y` and, when analytic,
    :meth:`log_prob_given_y`. Everything else (sampling, joint and marginal
    densities, posteriors) follows from these and :attr:`prior`.

    Attributes
    ----------
    name : str
    prior : ndarray of shape (n_classes,)
    n_classes : int
    dim : int
    image_shape : tuple or None
        ``(C, H, W)`` when the features are flattened images.
    has_density : bool
        Whether :meth:`log_prob` is available in closed form.
    """

    name: str = "domain"
    image_shape: tuple | None = None
    has_density: bool = False

    def __init__(self, prior, dim: int, name: str, image_shape=None):
        self.prior = check_prior(prior)
        self.n_classes = int(self.prior.size)
        self.dim = int(dim)
        self.name = name
        self.image_shape = tuple(image_shape) if image_shape is not None else None

    # -- sampling --------------------------------------------------------
    def sample(self, n: int, seed=None):
        """Draw ``n`` i.i.d. pairs.

        Returns
        -------
        X : ndarray of shape (n, dim), float32
        y : ndarray of shape (n,), int64
        """
        n = check_positive_int(n, "n")
        rng = check_random_state(seed)
        y = rng.choice(self.n_classes, size=n, p=self.prior).astype(np.int64)
        X = self.sample_given_y(y, rng)
        return np.ascontiguousarray(X, dtype=np.float32), y

    def sample_given_y(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw one X from P(X | Y = y_i) for each label ``y_i``."""
        raise NotImplementedError

    # -- densities -------------------------------------------------------
    def log_prob_given_y(self, X: np.ndarray, y) -> np.ndarray:
        """log p(x | y); ``y`` is an int (same class for all rows) or an array."""
        raise NoClosedFormError(f"{self.name}: the class-conditional density has no closed form")

    def log_prob(self, X, y) -> np.ndarray:
        """Joint log-density log p(x, y) = log P(y) + log p(x | y)."""
        X = check_array(X, "X", dtype=np.float64)
        y = check_labels(y, "y", n_samples=X.shape[0], n_classes=self.n_classes)
        with np.errstate(divide="ignore"):
            return np.log(self.prior[y]) + self.log_prob_given_y(X, y)

    def log_prob_x(self, X) -> np.ndarray:
        """Marginal log-density log p(x) = logsumexp_k [log P(k) + log p(x | k)]."""
        return logsumexp(self._log_joint_all(X), axis=1)

    def posterior(self, X) -> np.ndarray:
        """Bayes posterior P(y | x), shape (n, n_classes)."""
        lj = self._log_joint_all(X)
        return np.exp(lj - logsumexp(lj, axis=1, keepdims=True))

    def _log_joint_all(self, X) -> np.ndarray:
        X = check_array(X, "X", dtype=np.float64)
        with np.errstate(divide="ignore"):
            logp = np.log(self.prior)
        cols = [logp[k] + self.log_prob_given_y(X, k) for k in range(self.n_classes)]
        return np.stack(cols, axis=1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, n_classes={self.n_classes})"


class EmpiricalDomain(Domain):
    """A finite sample as a domain: user arrays, a torch ``Dataset``, or a real data set.

    ``sample(n)`` **subsamples without replacement** (``n`` larger than the data
    raises ``ValueError``), so disjoint train/validation/test parts drawn from
    one call never share a row.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,), optional
        Omit for an unlabelled target; then ``sample`` returns ``y=None``.
    n_classes : int, optional
        Defaults to ``max(y) + 1``.
    splits : array-like of shape (n,), optional
        Fixed assignment of each row to 0=train, 1=validation, 2=test; honoured
        by :meth:`DomainPair.sample`.
    """

    def __init__(self, X, y=None, *, n_classes: int | None = None, name: str = "empirical",
                 image_shape=None, splits=None):
        X = check_array(X, "X", min_samples=1)
        if y is not None:
            y = check_labels(y, "y", n_samples=X.shape[0], n_classes=n_classes)
            k = int(n_classes) if n_classes is not None else int(y.max()) + 1
            prior = np.bincount(y, minlength=k) / y.size
        else:
            k = int(n_classes) if n_classes is not None else 1
            prior = np.full(k, 1.0 / k)
        if image_shape is not None and int(np.prod(image_shape)) != X.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} does not match X's {X.shape[1]} features")
        super().__init__(prior, X.shape[1], name, image_shape)
        self.X = X
        self.y = y
        self.labeled = y is not None
        if splits is not None:
            splits = np.asarray(splits)
            if splits.shape != (X.shape[0],) or not np.isin(splits, (0, 1, 2)).all():
                raise ValueError("splits must be a length-n array of 0 (train), 1 (val), 2 (test)")
        self.splits = splits

    @classmethod
    def from_arrays(cls, X, y=None, **kwargs) -> "EmpiricalDomain":
        """Wrap user arrays (numpy or torch)."""
        return cls(X, y, **kwargs)

    @classmethod
    def from_dataset(cls, dataset, **kwargs) -> "EmpiricalDomain":
        """Materialise a small map-style torch ``Dataset`` of ``x`` or ``(x, y)`` items.

        Every item is read into memory: for image data sets, keep the ``Dataset``
        and stream it (:mod:`da.datasets.folders`) instead.
        """
        X, y, shape = dataset_to_arrays(dataset)
        kwargs.setdefault("image_shape", shape)
        return cls(X, y, **kwargs)

    def __len__(self) -> int:
        return self.X.shape[0]

    def sample(self, n: int | None = None, seed=None):
        """Subsample ``n`` rows **without replacement** (all rows, shuffled, when ``n`` is None)."""
        rng = check_random_state(seed)
        n = len(self) if n is None else check_positive_int(n, "n")
        if n > len(self):
            raise ValueError(f"n={n} exceeds the {len(self)} samples of {self.name!r} "
                             "(EmpiricalDomain samples without replacement)")
        idx = rng.choice(len(self), size=n, replace=False)
        return self._take(idx)

    def _take(self, idx):
        return self.X[idx], (self.y[idx] if self.y is not None else None)

    def sample_given_y(self, y, rng):
        if self.y is None:
            raise ValueError(f"{self.name!r} is unlabelled: class-conditional sampling needs labels")
        out = np.empty((len(y), self.dim), dtype=np.float32)
        for k in np.unique(y):
            where = np.flatnonzero(y == k)
            pool = np.flatnonzero(self.y == k)
            if where.size > pool.size:
                raise ValueError(f"class {k} of {self.name!r} has {pool.size} samples, "
                                 f"{where.size} requested without replacement")
            out[where] = self.X[rng.choice(pool, size=where.size, replace=False)]
        return out


def dataset_to_arrays(dataset):
    """Materialise a small map-style torch ``Dataset`` of ``x`` or ``(x, y)`` items.

    Returns ``(X, y, image_shape)``: X flattened to (n, d) float32, y int64 or
    None, and the per-item shape when items are images (ndim >= 2). Every item
    is held in memory: this is for small data only.
    """
    n = len(dataset)
    if n == 0:
        raise ValueError("dataset is empty")
    xs, ys = [], []
    for i in range(n):
        item = dataset[i]
        if isinstance(item, (tuple, list)):
            x, y = item[0], item[1] if len(item) > 1 else None
        else:
            x, y = item, None
        xs.append(np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float32))
        ys.append(y)
    shape = xs[0].shape
    if any(x.shape != shape for x in xs):
        raise ValueError("dataset items have different shapes; resize them to a common shape first")
    X = np.stack(xs).reshape(n, -1)
    if all(v is None for v in ys):
        y = None
    elif any(v is None for v in ys):
        raise ValueError("some dataset items have labels and some do not")
    else:
        y = np.asarray([int(v) for v in ys], dtype=np.int64)
    image_shape = tuple(shape) if len(shape) >= 2 else None
    if image_shape is not None and len(image_shape) == 2:
        image_shape = (1, *image_shape)
    return X, y, image_shape
