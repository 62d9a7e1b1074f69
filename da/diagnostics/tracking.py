"""A training hook that measures the feature gap every few epochs."""

from __future__ import annotations

import numpy as np

from da._validation import check_positive_int, check_random_state
from da.diagnostics._features import _extract_features
from da._validation import (check_bandwidth as _check_bandwidth, check_pair as _check_pair,
                             subsample_rows as _subsample)
from da.diagnostics.gap_specs import GAP_METRICS, GAP_SPECS
from da.diagnostics.health import representation_health
from da.diagnostics.report import _resolve_names

__all__ = ["GapTracker"]


class GapTracker:
    r"""Gap metrics of held-out source/target features, every ``every`` epochs.

    Call it from a training loop (``tracker(model, epoch)``); it keeps the
    history, so it is an object. The held-out rows are fixed (and subsampled
    once) at construction, so successive values differ only by the model.

    Parameters
    ----------
    X_source_heldout : array-like of shape (n, ...)
    X_target_heldout : array-like of shape (m, ...)
    metrics : sequence of str
        From :data:`~da.diagnostics.GAP_METRICS`.
    every : int
        Measure when ``epoch % every == 0``; other calls return ``{}``.
    bandwidth : float or None
        MMD bandwidth; ``None`` recomputes the median heuristic on each call's
        pooled features (scale-free), a number fixes it (then a shrinking
        representation lowers the MMD, which ``health`` exposes).
    max_samples : int
        Rows per domain kept (seeded subsample).
    health : bool
        Also return ``mean_norm`` and ``effective_rank`` of each domain's features.
    feature_fn : callable, optional
        ``feature_fn(model, X) -> features`` for models whose features are not
        their output (e.g. ``lambda m, X: m.featurizer(torch.as_tensor(X))``).
    seed : int
    batch_size : int

    Attributes
    ----------
    history_ : list of dict
        One record per measured epoch: ``{"epoch": e, **values}``.

    Examples
    --------
    >>> import torch
    >>> rng = np.random.default_rng(0)
    >>> tracker = GapTracker(rng.normal(size=(100, 4)), rng.normal(size=(100, 4)) + 1, every=2)
    >>> net = torch.nn.Linear(4, 3).double()
    >>> sorted(tracker(net, epoch=2))
    ['effective_rank/source', 'effective_rank/target', 'mean_norm/source', 'mean_norm/target', 'mmd2']
    >>> tracker(net, epoch=3)
    {}
    """

    def __init__(self, X_source_heldout, X_target_heldout, *, metrics=("mmd2",), every: int = 1,
                 bandwidth=None, max_samples: int = 1000, health: bool = True, feature_fn=None,
                 seed: int = 0, batch_size: int = 4096):
        self.X_source_heldout = X_source_heldout
        self.X_target_heldout = X_target_heldout
        self.metrics = metrics
        self.every = every
        self.bandwidth = bandwidth
        self.max_samples = max_samples
        self.health = health
        self.feature_fn = feature_fn
        self.seed = seed
        self.batch_size = batch_size
        self._metrics = _resolve_names(metrics, GAP_METRICS, {}, "metric")
        check_positive_int(every, "every")
        check_positive_int(max_samples, "max_samples", minimum=2)
        if bandwidth is not None:
            _check_bandwidth(bandwidth)
        rng = check_random_state(seed)
        Xs, Xt = np.asarray(X_source_heldout), np.asarray(X_target_heldout)
        _check_pair(Xs.reshape(len(Xs), -1), Xt.reshape(len(Xt), -1))
        self._Xs, self._Xt = _subsample(Xs, max_samples, rng), _subsample(Xt, max_samples, rng)
        self.history_ = []

    def _features(self, model):
        if isinstance(model, (tuple, list)) and len(model) == 2:
            return np.asarray(model[0], dtype=np.float64), np.asarray(model[1], dtype=np.float64)
        if self.feature_fn is not None:
            def fn(X):
                return self.feature_fn(model, X)
            return (_extract_features(fn, self._Xs, self.batch_size),
                    _extract_features(fn, self._Xt, self.batch_size))
        return (_extract_features(model, self._Xs, self.batch_size),
                _extract_features(model, self._Xt, self.batch_size))

    def __call__(self, model_or_features, epoch: int) -> dict:
        """Measure now if ``epoch % every == 0``.

        ``model_or_features``: a ``torch.nn.Module``/callable applied to the
        stored held-out inputs, or a pair ``(F_source, F_target)`` of features
        already computed on them. Returns a dict of floats (``{}`` when skipped).
        """
        if epoch % self.every:
            return {}
        Fs, Ft = self._features(model_or_features)
        Fs, Ft = _check_pair(Fs.reshape(len(Fs), -1), Ft.reshape(len(Ft), -1),
                             ("source features", "target features"))
        # one generator per epoch so a skipped epoch does not shift later ones
        rng = np.random.default_rng([self.seed, int(epoch)])
        out = {}
        for name in self._metrics:
            spec = GAP_SPECS[name]
            options = {**spec.defaults, **({"bandwidth": self.bandwidth} if name == "mmd2" else {})}
            out[name] = spec.value(Fs, Ft, rng, **options)
        if self.health:
            for domain, F in (("source", Fs), ("target", Ft)):
                h = representation_health(F)
                out[f"mean_norm/{domain}"] = h.mean_norm
                out[f"effective_rank/{domain}"] = h.effective_rank
        self.history_.append({"epoch": int(epoch), **out})
        return out

    def to_frame(self):
        """The history as a :class:`pandas.DataFrame`, one row per measured epoch."""
        import pandas as pd

        return pd.DataFrame(self.history_)
