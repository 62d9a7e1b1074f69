r"""The quadratic forms of :mod:`da.diagnostics._quadratic`, streamed in blocks of rows.

For a pooled sample of a few thousand rows the :math:`N \times N` matrices of
the batched path are the cost: each fresh one is hundreds of MiB of page
faults, and the median, the kernel and the products each pass over it. Here
the pooled matrix :math:`M` (a Gaussian kernel or the Euclidean distance) is
never stored. Block :math:`I` of rows is rebuilt from the data for the columns
:math:`j \ge \min I` only (the upper half, by symmetry), used, and dropped:

.. math:: a^\top M a = \sum_I \Big( a_I^\top M_{II} a_I + 2 \sum_{J > I} a_I^\top M_{IJ} a_J \Big)
          = 2 \sum_I a_I^\top \big[\tfrac12 M_{II},\; M_{I,J>I}\big]\, a_{I:},

so all :math:`B` split columns cost one product per block, half the
multiply-adds of :math:`MA`; the row sums give :math:`r = A^\top M \mathbf 1`.
The sums are the same as on the stored matrix up to float64 round-off in the
order of additions (relative :math:`\sim 10^{-15}`), far below the
:math:`10^{-10}` tie tolerance of the permutation p-value.

The median heuristic needs every pair distance once: a fixed subsample of
pairs brackets the lower median, one streamed pass counts the distances below
the bracket and keeps those inside it, and ``np.partition`` on those few gives
the exact order statistic (a missed bracket falls back to all of them).
"""

from __future__ import annotations

import numpy as np
import torch

from da._kernels import median_bandwidth, pairwise_sq_dists
from da.diagnostics._quadratic import _exact_kth

#: Entries of one block of rows (32 MiB of float64, one buffer reused by every
#: block): few blocks, so that the per-operation thread synchronisation stays small.
_BLOCK_ENTRIES = 2 ** 22
#: Pairs sampled to bracket the median, and the bracket's half-width in sampled
#: pairs (about 5.7 standard errors of the sample median).
_BRACKET_PAIRS, _BRACKET_HALF_WIDTH = 20_000, 400


def _block_rows(N: int) -> int:
    return max(32, min(N, _BLOCK_ENTRIES // N))


def _sq_dist_block(Z: torch.Tensor, sq: torch.Tensor, start: int, stop: int,
                   buffer: torch.Tensor) -> torch.Tensor:
    r"""Rows ``start:stop`` and columns ``start:`` of the pooled squared distances, in ``buffer``.

    The same formula as :func:`da._kernels.pairwise_sq_dists`,
    :math:`(\lVert z_i\rVert^2 + \lVert z_j\rVert^2) - 2 z_i^\top z_j`
    clamped at 0 (one ``addmm`` onto the sums of squared norms), with exact
    zeros for a row against itself.
    """
    w, cols = min(stop, Z.shape[0]) - start, Z.shape[0] - start
    blk = buffer[:w * cols].view(w, cols)
    torch.add(sq[start:stop], sq[start:].T, out=blk)
    blk.addmm_(Z[start:stop], Z[start:].T, alpha=-2.0).clamp_min_(0.0)
    blk[:, :w].fill_diagonal_(0.0)
    return blk


def _block_buffer(N: int) -> torch.Tensor:
    """One reusable block (fresh memory of this size is a page fault per 4 KiB)."""
    return torch.empty(_block_rows(N) * N, dtype=torch.float64)


def _streamed_median(Z: torch.Tensor, buffer: torch.Tensor | None = None) -> float:
    """Median-heuristic bandwidth: the lower median of the pair distances, exactly, in one pass
    (``buffer``: a :func:`_block_buffer` to reuse)."""
    N = Z.shape[0]
    sq = (Z * Z).sum(-1, keepdim=True)
    rank = (N * (N - 1) // 2 - 1) // 2
    rng = np.random.default_rng(0)
    i, j = (torch.from_numpy(rng.integers(0, N, _BRACKET_PAIRS)) for _ in range(2))
    keep = i != j
    i, j = i[keep], j[keep]
    sample = np.sort((sq[i, 0] + sq[j, 0] - 2.0 * (Z[i] * Z[j]).sum(1)).clamp_min(0.0).numpy())
    pos = rank / max(1, N * (N - 1) // 2 - 1) * (sample.size - 1)
    lo = sample[max(0, int(pos) - _BRACKET_HALF_WIDTH)]
    hi = sample[min(sample.size - 1, int(pos) + _BRACKET_HALF_WIDTH + 1)]
    below, inside = 0, []
    rows, buffer = _block_rows(N), _block_buffer(N) if buffer is None else buffer
    for s in range(0, N, rows):
        blk = _sq_dist_block(Z, sq, s, s + rows, buffer)
        w = blk.shape[0]
        blk[:, :w].masked_fill_(torch.ones(w, w, dtype=torch.bool).tril_(), float("nan"))  # j > i only
        below += int(torch.count_nonzero(blk < lo))
        inside.append(blk[(blk >= lo) & (blk <= hi)])
    inside = torch.cat(inside)
    if below <= rank < below + inside.numel():
        med = float(np.partition(inside.numpy(), rank - below)[rank - below])
    else:  # the bracket missed: select among all pairs
        d2 = pairwise_sq_dists(Z)
        med = _exact_kth(d2[torch.ones(N, N, dtype=torch.bool).triu_(1)], rank)
    if med > 0:
        return med ** 0.5
    return float(median_bandwidth(pairwise_sq_dists(Z)))  # ties at zero: the shared fallback


def _streamed_forms(Z: torch.Tensor, A: torch.Tensor, coefs=None, buffer: torch.Tensor | None = None):
    r"""``q``, ``r``, ``t`` of :func:`da.diagnostics._quadratic._quadratic_forms` and the totals.

    Parameters
    ----------
    Z : tensor (N, d), float64
        The pooled sample.
    A : tensor (N, B), float64
        Split columns (indicators).
    coefs : sequence of float or None
        Gaussian kernels :math:`\exp(c_\ell d^2)` for each :math:`c_\ell = -1/(2h_\ell^2)`;
        ``None`` is the Euclidean distance :math:`\sqrt{d^2}`.
    buffer : tensor or None
        A :func:`_block_buffer` of ``N`` rows to reuse (else a fresh one).

    Returns
    -------
    q, r, t : tensors (L, B)
    T, D : tensors (L, 1)
    """
    N, B = A.shape
    sq = (Z * Z).sum(-1, keepdim=True)
    L = 1 if coefs is None else len(coefs)
    q = torch.zeros(L, B, dtype=torch.float64)
    rowsum = torch.zeros(L, N, dtype=torch.float64)
    diag = torch.zeros(L, N, dtype=torch.float64)
    rows, buffer = _block_rows(N), _block_buffer(N) if buffer is None else buffer
    for s in range(0, N, rows):
        d2 = _sq_dist_block(Z, sq, s, s + rows, buffer)
        w = d2.shape[0]
        for ell in range(L):
            last = ell == L - 1
            if coefs is None:
                M = d2.sqrt_()
            else:
                M = d2.mul_(coefs[ell]).exp_() if last else (d2 * coefs[ell]).exp_()
            rowsum[ell, s:s + w] += M.sum(1)
            rowsum[ell, s + w:] += M[:, w:].sum(0)
            diag[ell, s:s + w] = M[:, :w].diagonal()
            M[:, :w].mul_(0.5)  # the diagonal block counts once after the doubling below
            q[ell] += (A[s:s + w] * (M @ A[s:])).sum(0)
    q.mul_(2.0)
    return q, rowsum @ A, diag @ A, rowsum.sum(1, keepdim=True), diag.sum(1, keepdim=True)
