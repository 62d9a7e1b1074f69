r"""Resampling machinery of :func:`~da.diagnostics.gap`: bootstrap intervals, block MMD², CORAL groups."""

from __future__ import annotations

import numpy as np
import torch

from da.diagnostics._quadratic import _MAX_BYTES, _mmd2_pooled
from da.diagnostics.results import GapResult

CI_METHODS = ("percentile", "bias-corrected")


def _block_mmd2(Xs, Xt, bandwidth: float, block_size: int, rng):
    r"""Block MMD² (Zaremba et al. 2013): mean of :math:`\widehat{\mathrm{MMD}}^2_u` over disjoint blocks.

    The rows are shuffled and cut into :math:`b = \max(1, \lfloor \min(n,m)/B \rfloor)`
    blocks of :math:`\lfloor n/b \rfloor` source and :math:`\lfloor m/b \rfloor`
    target rows (fewer than :math:`b` leftover rows per domain are dropped). The
    block estimates are i.i.d. and unbiased, so their mean is unbiased with
    standard error :math:`s/\sqrt b`. Cost :math:`O((n+m)Bd)` time; blocks are
    evaluated a chunk at a time as one batched kernel computation.
    Returns ``(value, standard_error, n_blocks)``.
    """
    n, m = Xs.shape[0], Xt.shape[0]
    nb = max(1, min(n, m) // block_size)
    bs, bt = n // nb, m // nb
    S = Xs[rng.permutation(n)[:nb * bs]].reshape(nb, bs, -1)
    T = Xt[rng.permutation(m)[:nb * bt]].reshape(nb, bt, -1)
    N = bs + bt
    chunk = max(1, int(_MAX_BYTES // (8 * N * N)))
    vals = torch.cat([_mmd2_pooled(S[c:c + chunk], T[c:c + chunk], bandwidth)
                      for c in range(0, nb, chunk)]).numpy()
    se = float(vals.std(ddof=1) / np.sqrt(nb)) if nb > 1 else float("nan")
    return float(vals.mean()), se, nb


def _bootstrap_ci(value, reps, confidence, ci_method, nonnegative):
    """Percentile interval, or the percentile interval shifted by the bootstrap bias estimate."""
    reps = np.asarray(reps, dtype=np.float64)
    lo, hi = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2])
    bias = float(reps.mean() - value)
    if ci_method == "bias-corrected":
        lo, hi = lo - bias, hi - bias
        if nonnegative:
            lo, hi = max(lo, 0.0), max(hi, 0.0)
    return (float(lo), float(hi)), bias


def _counts(rng, n: int, n_bootstrap: int) -> np.ndarray:
    """Multinomial bootstrap counts, shape (n, n_bootstrap)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).T.astype(np.float64)


def _coral_bootstrap(Xs, Xt, B: int, rng, max_groups: int = 512):
    r"""Bootstrap replicates of the CORAL distance from per-group sufficient statistics.

    Each domain's rows are split at random into :math:`G \le` ``max_groups``
    groups with sums :math:`s_g` and second moments :math:`Q_g = X_g^\top X_g`;
    a replicate resamples groups (multinomial weights :math:`w`) and rebuilds
    :math:`C = (\sum_g w_g Q_g - \frac{1}{N} s s^\top)/(N-1)` in :math:`O(Gd^2)`.
    With :math:`n \le G` every group is one row: the ordinary row bootstrap.
    Returns ``(replicates, G)``.
    """
    d = Xs.shape[1]
    cap = max(2, min(max_groups, int(2 ** 27 // (8 * d * d))))

    def moments(X):
        G = min(cap, X.shape[0])
        groups = np.array_split(rng.permutation(X.shape[0]), G)
        cnt = np.array([g.size for g in groups], dtype=np.float64)
        S = np.stack([X[g].sum(0) for g in groups])
        Q = np.stack([X[g].T @ X[g] for g in groups])
        return G, cnt, S, Q

    def covs(G, cnt, S, Q):
        W = rng.multinomial(G, np.full(G, 1.0 / G), size=B).astype(np.float64)     # (B, G)
        N = W @ cnt
        s = W @ S
        C = np.einsum("bg,gij->bij", W, Q) - s[:, :, None] * s[:, None, :] / N[:, None, None]
        return C / (N - 1)[:, None, None]

    (Gs, *ms), (Gt, *mt) = moments(Xs), moments(Xt)
    if B == 0:
        return [], min(Gs, Gt)
    diff = covs(Gs, *ms) - covs(Gt, *mt)
    return list((diff * diff).sum((1, 2)) / (4.0 * d * d)), min(Gs, Gt)


def _interval_result(value, reps, B, method, confidence, details, ci_method="percentile",
            nonnegative=True) -> GapResult:
    ci = None
    if B > 0:
        ci, bias = _bootstrap_ci(value, reps, confidence, ci_method, nonnegative)
        details = {**details, "bootstrap_bias": bias, "ci_method": ci_method}
    return GapResult(float(value), ci, B, method, confidence, details)
