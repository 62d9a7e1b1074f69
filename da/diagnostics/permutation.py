r"""Batched permutation tests on one pooled matrix.

Under :math:`H_0: P_S = P_T` the pooled sample is exchangeable, so the
statistic recomputed on :math:`B` uniformly random splits gives a null sample
:math:`T_1..T_B` and the Monte-Carlo p-value

.. math:: p = \frac{1 + \#\{b : T_b \ge T\}}{B + 1}

is valid at every level (Phipson & Smyth 2010). Each split is an indicator
column; all :math:`B` columns (plus the observed split as column 0) are
evaluated together with the quadratic forms of :mod:`da.diagnostics._quadratic`,
and independent replications (a batch of data sets) ride along as a leading
dimension. There is no Python loop over permutations.

References
----------
Phipson, B., & Smyth, G. K. (2010). Permutation p-values should never be zero.
*Statistical Applications in Genetics and Molecular Biology*, 9(1).
"""

from __future__ import annotations

import numpy as np
import torch

from da.diagnostics._quadratic import (_MAX_BYTES, _as_tensor, _energy_vstat, _kernel_stack,
                                       _median_bandwidths, _mmd2_unbiased, _pooled_sq_dists,
                                       _quadratic_forms, _totals)
from da.diagnostics._streamed import _block_buffer, _streamed_forms, _streamed_median

#: From this many pooled rows on, one data set at a time is streamed in blocks of
#: rows (:mod:`da.diagnostics._streamed`) instead of batched on stored matrices.
_STREAM_MIN_ROWS = 1024

# Ties: a permuted statistic within this relative distance of the observed one
# counts as ">=", so round-off can only make the p-value larger (conservative).
_RTOL = 1e-10


def _split_indicators(rng: np.random.Generator, n: int, m: int, n_permutations: int,
                      batch: int, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Indicators of random size-``n`` subsets of ``N = n + m`` rows, shape (batch, N, B + 1).

    Column 0 is the observed split (the first ``n`` rows). A uniform random
    subset is the set of the ``n`` smallest of ``N`` i.i.d. uniforms, found with
    one in-place partition per row (linear time, no sort). The uniforms are
    drawn straight into the ``(batch, B + 1, N)`` output, replication by
    replication (the same stream as one ``rng.random((batch, B, N))``), and
    each row's ``n``-th smallest is found on a copy in ``scratch`` (a float64
    tensor of at least ``B * N`` entries to reuse, else a fresh array); the
    comparison then overwrites the uniforms with the indicators. One array of
    this size instead of three: on the first call of a process, fresh memory
    costs a page fault per 4 KiB. The transposed view is returned (the products
    take either layout).
    """
    N = n + m
    At = np.empty((batch, n_permutations + 1, N))
    At[:, 0, :n] = 1.0
    At[:, 0, n:] = 0.0
    if scratch is not None and scratch.dtype == torch.float64 and scratch.numel() >= n_permutations * N:
        work = scratch.numpy()[:n_permutations * N].reshape(n_permutations, N)
    else:
        work = np.empty((n_permutations, N))
    for r in range(batch):
        u = At[r, 1:]
        rng.random(out=u)
        np.copyto(work, u)
        work.partition(n - 1, axis=-1)
        np.less_equal(u, work[:, n - 1:n].copy(), out=u)
    return torch.from_numpy(At).transpose(1, 2)


def _permutation_pvalues(stats: torch.Tensor) -> torch.Tensor:
    """``(1 + #{T_b >= T_0}) / (B + 1)`` along the last axis; column 0 is observed."""
    obs = stats[..., :1]
    tol = _RTOL * stats.abs().amax(-1, keepdim=True)
    count = (stats[..., 1:] >= obs - tol).sum(-1)
    return (1.0 + count.to(stats.dtype)) / stats.shape[-1]


def _minp_pvalue(stats: torch.Tensor):
    r"""Calibrated min-p combination of several statistics on the same permutations.

    ``stats`` has shape (..., L, B + 1). For every column :math:`j` (the
    observed split and each permutation) and statistic :math:`\ell`, the rank
    p-value :math:`p_\ell^{(j)} = \#\{i : T_{\ell i} \ge T_{\ell j}\} / (B + 1)`
    is a symmetric function of the :math:`B + 1` exchangeable columns, hence so
    is :math:`\min_\ell p_\ell^{(j)}`, and

    .. math:: p = \#\{j : \min_\ell p_\ell^{(j)} \le \min_\ell p_\ell^{(0)}\} / (B + 1)

    is a valid p-value for the aggregated test (the Westfall-Young min-p step).
    Returns ``(p, per_statistic_p)`` with shapes (...) and (..., L).
    """
    B1 = stats.shape[-1]
    tol = _RTOL * stats.abs().amax(-1, keepdim=True)
    srt = stats.sort(-1).values.contiguous()
    n_ge = B1 - torch.searchsorted(srt, (stats - tol).contiguous(), side="left")
    p = n_ge.to(stats.dtype) / B1
    minp = p.amin(-2)
    agg = (minp <= minp[..., :1] * (1 + 1e-12)).sum(-1).to(stats.dtype) / B1
    return agg, p[..., 0]


#: The pooled matrices of one permutation test must fit in this many bytes.
_MAX_TEST_BYTES = 6 * 2 ** 30


def _check_memory(N: int, L: int) -> None:
    need = 8 * N * N * (L + 1)
    if need > _MAX_TEST_BYTES:
        raise ValueError(
            f"a permutation test on {N} pooled rows needs about {need / 2 ** 30:.1f} GiB for its "
            f"{N} x {N} matrices; subsample the data, use linear_mmd_test, or shift_report "
            "(which subsamples to max_exact rows and adds a linear-time test)")


def _replication_chunk(N: int, L: int, B1: int) -> int:
    per_rep = 8 * (N * N * (L + 1) + 2 * N * B1 + L * N * min(B1, 256))
    return max(1, int(_MAX_BYTES * 4 // per_rep))


def _mmd_forms_batched(Xs, Xt, n_permutations, rng, fixed, scales):
    """Forms and bandwidths for a chunk of r data sets on stored (r, L, N, N) kernel matrices."""
    n, m = Xs.shape[1], Xt.shape[1]
    d2 = _pooled_sq_dists(Xs, Xt)
    r = d2.shape[0]
    if fixed is None:
        h = _median_bandwidths(d2)[:, None] * torch.as_tensor(scales, dtype=torch.float64)[None, :]
    else:
        h = fixed[None, :].expand(r, fixed.numel())
    K = _kernel_stack(d2, h, inplace=True)                         # (r, L, N, N); d2 is spent
    del d2
    A = _split_indicators(rng, n, m, n_permutations, r).unsqueeze(1)   # (r, 1, N, B+1)
    q, rr, t = _quadratic_forms(K, A)
    T, D = _totals(K)
    return q, rr, t, T, D, h


def _mmd_forms_streamed(Xs, Xt, n_permutations, rng, fixed, scales):
    """The same for one data set (r = 1), its kernels streamed in blocks of rows."""
    n, m = Xs.shape[1], Xt.shape[1]
    Z = torch.cat([_as_tensor(Xs[0]), _as_tensor(Xt[0])])
    buffer = _block_buffer(Z.shape[0])  # one block of rows for both passes (fresh memory faults)
    if fixed is None:
        h = _streamed_median(Z, buffer) * torch.as_tensor(scales, dtype=torch.float64)[None, :]
    else:
        h = fixed[None, :]
    A = _split_indicators(rng, n, m, n_permutations, 1, scratch=buffer)[0]
    forms = _streamed_forms(Z, A, (-0.5 / (h[0] * h[0])).tolist(), buffer)
    return (*(v[None] for v in forms), h)


def _batched_mmd_test(Xs, Xt, *, n_permutations: int, rng: np.random.Generator,
                      bandwidth=None, scales=(1.0,), aggregate: bool = False) -> dict:
    r"""MMD permutation tests for R independent data sets at once.

    Parameters
    ----------
    Xs, Xt : arrays of shape (R, n, d) and (R, m, d)
        Already validated.
    n_permutations : int
    rng : numpy Generator
        Consumed in replication chunks, in order, so results are reproducible.
    bandwidth : None, float or sequence of float
        ``None``: median heuristic per replication times each of ``scales``;
        otherwise the absolute bandwidth(s), shared by all replications.
    scales : sequence of float
    aggregate : bool
        Combine the bandwidths with :func:`_minp_pvalue`; otherwise exactly one
        bandwidth is allowed.

    Returns
    -------
    dict with ``mmd2`` (R, L), ``pvalues`` (R, L), ``pvalue`` (R,),
    ``bandwidths`` (R, L).
    """
    R, n, _ = Xs.shape
    m = Xt.shape[1]
    N = n + m
    B1 = n_permutations + 1
    fixed = None if bandwidth is None else torch.as_tensor(np.atleast_1d(bandwidth), dtype=torch.float64)
    L = len(scales) if fixed is None else fixed.numel()
    _check_memory(N, L)
    out = {k: [] for k in ("mmd2", "pvalues", "pvalue", "bandwidths")}
    step = 1 if N >= _STREAM_MIN_ROWS else _replication_chunk(N, L, B1)
    for s in range(0, R, step):
        forms = _mmd_forms_streamed if N >= _STREAM_MIN_ROWS else _mmd_forms_batched
        q, rr, t, T, D, h = forms(Xs[s:s + step], Xt[s:s + step], n_permutations, rng, fixed, scales)
        stats = _mmd2_unbiased(q, rr, t, T, D, n, m)                # (r, L, B+1)
        if aggregate:
            p, per = _minp_pvalue(stats)
        else:
            per = _permutation_pvalues(stats)
            p = per[:, 0]
        out["mmd2"].append(stats[..., 0])
        out["pvalues"].append(per)
        out["pvalue"].append(p)
        out["bandwidths"].append(h)
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def _batched_energy_test(Xs, Xt, *, n_permutations: int, rng: np.random.Generator) -> dict:
    r"""Energy-distance permutation tests for R independent data sets at once.

    Returns a dict with ``statistic`` (R,) — the Székely-Rizzo statistic
    :math:`\frac{nm}{n+m}\mathcal E_{n,m}` — and ``pvalue`` (R,).
    """
    R, n, _ = Xs.shape
    m = Xt.shape[1]
    N = n + m
    B1 = n_permutations + 1
    _check_memory(N, 1)
    stat, pval = [], []
    step = 1 if N >= _STREAM_MIN_ROWS else _replication_chunk(N, 1, B1)
    for s in range(0, R, step):
        if N >= _STREAM_MIN_ROWS:
            Z = torch.cat([_as_tensor(Xs[s]), _as_tensor(Xt[s])])
            A = _split_indicators(rng, n, m, n_permutations, 1)[0]
            q, rr, _, T, _ = _streamed_forms(Z, A)               # (1, B+1) each
        else:
            Dm = _pooled_sq_dists(Xs[s:s + step], Xt[s:s + step]).sqrt_()
            A = _split_indicators(rng, n, m, n_permutations, Dm.shape[0])
            q, rr, _ = _quadratic_forms(Dm, A)
            T, _ = _totals(Dm)
        e = _energy_vstat(q, rr, T, n, m) * (n * m / N)               # (r, B+1)
        stat.append(e[:, 0])
        pval.append(_permutation_pvalues(e))
    return {"statistic": torch.cat(stat).numpy(), "pvalue": torch.cat(pval).numpy()}

