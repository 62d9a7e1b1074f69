r"""Two-sample statistics as quadratic forms of one pooled matrix.

Pool the samples, :math:`Z = (x_1..x_n, y_1..y_m)`, :math:`N = n + m`, and build
one symmetric matrix :math:`M` on :math:`Z` (a Gaussian kernel for MMD, the
Euclidean distance for the energy distance). A split of :math:`Z` into a
"source" part of size :math:`n` is an indicator :math:`a\in\{0,1\}^N`; every
statistic below depends on the split only through

.. math:: q = a^\top M a,\qquad r = a^\top M\mathbf 1,\qquad t = a^\top \operatorname{diag}(M),

and the split-free totals :math:`T = \mathbf 1^\top M \mathbf 1`,
:math:`D = \operatorname{tr} M`. The within/between sums are then
:math:`S_{XX} = q`, :math:`S_{XY} = r - q`, :math:`S_{YY} = T - 2r + q`.
Stacking many indicators as the columns of a matrix :math:`A` gives all the
:math:`q` at once as the column sums of :math:`A \odot (MA)`: a matmul, which
is how permutations and bootstrap resamples are evaluated in batches.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from da._kernels import median_bandwidth, pairwise_sq_dists

# Bound on the bytes of any one intermediate (M @ A chunk, kernel stack).
_MAX_BYTES = 2 ** 27
# Entries per block of in-place elementwise work (cache-sized temporaries).
_CHUNK_ENTRIES = 2 ** 18


def _as_tensor(X) -> torch.Tensor:
    return torch.as_tensor(np.asarray(X, dtype=np.float64))


def _pooled_sq_dists(Xs, Xt) -> torch.Tensor:
    r"""Squared distances on the pooled sample, float64, exact zeros on the diagonal.

    ``Xs``, ``Xt`` are arrays of shape (n, d), (m, d) or batches (R, n, d), (R, m, d).
    The same numbers as :func:`da._kernels.pairwise_sq_dists` (the Gram matrix
    :math:`ZZ^\top` into the one output buffer, then
    :math:`(\lVert z_i\rVert^2 + \lVert z_j\rVert^2) - 2 G_{ij}` in place, a
    block of rows at a time): one :math:`N \times N` allocation instead of four,
    since each fresh matrix of this size costs a page fault per 4 KiB.
    """
    Z = torch.cat([_as_tensor(Xs), _as_tensor(Xt)], dim=-2)
    sq = (Z * Z).sum(-1, keepdim=True)                             # (..., N, 1)
    d2 = torch.matmul(Z, Z.transpose(-2, -1))
    N = Z.shape[-2]
    rows = max(1, _CHUNK_ENTRIES // N)
    sq_t = sq.transpose(-2, -1)
    for s in range(0, N, rows):
        blk = d2[..., s:s + rows, :]
        blk.mul_(-2.0).add_(sq[..., s:s + rows, :] + sq_t)        # fl(fl(|z_i|^2+|z_j|^2) - 2G)
    d2.clamp_min_(0.0)
    d2.diagonal(dim1=-2, dim2=-1).zero_()
    return d2


def _exact_kth(flat: torch.Tensor, k: int) -> float:
    """The ``k``-th smallest entry (0-based) of a 1-d float64 tensor, exactly.

    A fixed (seed 0) subsample of the entries brackets the rank-``k`` value; one
    counting pass then keeps only the entries inside the bracket, and
    ``np.partition`` runs on those few. The bracket is checked, and a miss (or
    a small input) falls back to ``np.partition`` on everything, so the answer
    is always the exact order statistic: sampling only decides the speed.
    """
    size = flat.numel()
    if size < 200_000:
        return float(np.partition(flat.numpy(), k)[k])
    idx = torch.from_numpy(np.random.default_rng(0).integers(0, size, 20_000))
    sample = np.sort(flat[idx].numpy())
    pos = k / (size - 1) * (sample.size - 1)
    lo = sample[max(0, int(pos) - 400)]
    hi = sample[min(sample.size - 1, int(pos) + 401)]
    below = int(torch.count_nonzero(flat < lo))
    inside = flat[(flat >= lo) & (flat <= hi)]
    if below <= k < below + inside.numel():
        return float(np.partition(inside.numpy(), k - below)[k - below])
    return float(np.partition(flat.numpy(), k)[k])


def _median_bandwidths(d2: torch.Tensor) -> torch.Tensor:
    """Median heuristic of :func:`da._kernels.median_bandwidth` for each matrix of a batch (R, N, N).

    The lower median of the :math:`P = N(N-1)/2` distinct-pair distances is read
    off the full matrix without gathering its upper triangle: sorted, the
    :math:`N^2` entries are the :math:`N` diagonal zeros followed by every pair
    value twice, so pair rank :math:`j` sits at position :math:`N + 2j`
    (:func:`_exact_kth` finds it in about one pass over the matrix).
    """
    R, N = d2.shape[0], d2.shape[-1]
    k = N + 2 * ((N * (N - 1) // 2 - 1) // 2)
    med = torch.tensor([_exact_kth(d2[r].reshape(-1), k) for r in range(R)], dtype=torch.float64)
    h = med.clamp_min(0.0).sqrt()
    for r in torch.nonzero(med <= 0).flatten().tolist():  # ties at zero: the shared fallback
        h[r] = median_bandwidth(d2[r])
    return h


def _kernel_stack(d2: torch.Tensor, bandwidths: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    """Gaussian kernels for a batch: d2 (R, N, N), bandwidths (R, L) -> (R, L, N, N).

    ``inplace=True`` (one bandwidth only) overwrites ``d2`` with its kernel: the
    same numbers without a second :math:`N \times N` allocation.
    """
    coef = (-0.5 / (bandwidths * bandwidths))[..., None, None]
    if inplace and bandwidths.shape[-1] == 1:
        return d2.unsqueeze(1).mul_(coef).exp_()
    return (d2.unsqueeze(1) * coef).exp_()


def _quadratic_forms(M: torch.Tensor, A: torch.Tensor, max_bytes: int = _MAX_BYTES):
    """``q = diag(A^T M A)``, ``r = A^T M 1``, ``t = A^T diag(M)`` for every column of ``A``.

    ``M`` has shape (..., N, N) and ``A`` (..., N, B) with broadcastable leading
    dimensions; returns three tensors of shape (..., B). The product ``M A`` is
    formed ``chunk`` columns at a time so no intermediate exceeds ``max_bytes``.
    """
    rowsum = M.sum(-1).unsqueeze(-1)                               # (..., N, 1)
    diag = M.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)              # (..., N, 1)
    At = A.transpose(-2, -1)
    r = (At @ rowsum).squeeze(-1)
    t = (At @ diag).squeeze(-1)
    lead = np.broadcast_shapes(tuple(M.shape[:-2]), tuple(A.shape[:-2]))  # torch.broadcast_shapes imports sympy (0.5 s)
    N, B = A.shape[-2], A.shape[-1]
    chunk = max(1, int(max_bytes // (8 * N * max(1, math.prod(lead)))))
    q = torch.empty(*lead, B, dtype=M.dtype)
    for start in range(0, B, chunk):
        Ac = A[..., start:start + chunk]
        q[..., start:start + chunk] = (Ac * (M @ Ac)).sum(-2)
    return q, r, t


def _totals(M: torch.Tensor):
    """Split-free totals ``T = 1^T M 1`` and ``D = tr M``, shaped to broadcast against (..., B)."""
    return M.sum((-2, -1)).unsqueeze(-1), M.diagonal(dim1=-2, dim2=-1).sum(-1).unsqueeze(-1)


def _mmd2_unbiased(q, r, t, T, D, n: int, m: int):
    r"""Unbiased :math:`\widehat{\mathrm{MMD}}^2_u` (Gretton et al. 2012, Eq. 3) from the forms.

    .. math:: \frac{S_{XX} - t}{n(n-1)} + \frac{S_{YY} - (D - t)}{m(m-1)} - \frac{2 S_{XY}}{nm}
    """
    sxx = q - t
    syy = T - 2.0 * r + q - (D - t)
    sxy = r - q
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2.0 * sxy / (n * m)


def _energy_vstat(q, r, T, n: int, m: int):
    r"""V-statistic energy distance (Székely & Rizzo 2004) from the forms of a distance matrix.

    .. math:: \mathcal E_{n,m} = \frac{2}{nm}S_{XY} - \frac{1}{n^2}S_{XX} - \frac{1}{m^2}S_{YY}
    """
    return 2.0 * (r - q) / (n * m) - q / (n * n) - (T - 2.0 * r + q) / (m * m)


def _two_sample_sums(Xs: np.ndarray, Xt: np.ndarray, kind: str, bandwidth: float | None = None,
                     Ws: np.ndarray | None = None, Wt: np.ndarray | None = None):
    r"""Weighted within/between sums of a kernel or distance, without storing an N x N matrix.

    For weight columns :math:`w` (source rows) and :math:`v` (target rows),
    returns :math:`w^\top M_{XX} w`, :math:`v^\top M_{YY} v` and
    :math:`w^\top M_{XY} v` for every column, with ``M`` the Gaussian kernel
    (``kind="gaussian"``) or the Euclidean distance (``kind="distance"``).
    Rows are processed in blocks so memory stays :math:`O(\text{block} \cdot N)`.
    ``Ws=None`` / ``Wt=None`` mean all-ones (the plain statistic); bootstrap
    resamples are multinomial count columns.
    """
    xs, xt = _as_tensor(Xs), _as_tensor(Xt)
    ws = torch.ones(xs.shape[0], 1, dtype=torch.float64) if Ws is None else torch.as_tensor(Ws, dtype=torch.float64)
    wt = torch.ones(xt.shape[0], 1, dtype=torch.float64) if Wt is None else torch.as_tensor(Wt, dtype=torch.float64)
    inv = None if bandwidth is None else -0.5 / (bandwidth * bandwidth)

    def block(x, start, stop, y, same):
        d2 = pairwise_sq_dists(x[start:stop], y)
        if same:  # exact zeros for a row against itself
            i = torch.arange(min(stop, x.shape[0]) - start)
            d2[i, start + i] = 0.0
        return torch.exp(d2 * inv) if kind == "gaussian" else d2.sqrt_()

    width = max(xs.shape[0], xt.shape[0]) + ws.shape[1]
    rows = max(1, int(_MAX_BYTES // (8 * width)))
    qxx = torch.zeros(ws.shape[1], dtype=torch.float64)
    qxy = torch.zeros_like(qxx)
    qyy = torch.zeros_like(qxx)
    for s in range(0, xs.shape[0], rows):
        wb = ws[s:s + rows]
        qxx += (wb * (block(xs, s, s + rows, xs, True) @ ws)).sum(0)
        qxy += (wb * (block(xs, s, s + rows, xt, False) @ wt)).sum(0)
    for s in range(0, xt.shape[0], rows):
        qyy += (wt[s:s + rows] * (block(xt, s, s + rows, xt, True) @ wt)).sum(0)
    return qxx.numpy(), qyy.numpy(), qxy.numpy(), ws.numpy(), wt.numpy()


def _weighted_mmd2(Xs, Xt, bandwidth: float, Ws=None, Wt=None) -> np.ndarray:
    r"""Unbiased MMD² for each weight column (all-ones: :math:`\widehat{\mathrm{MMD}}^2_u`).

    Pairs of the *same* row are excluded, also when a bootstrap resample
    repeats it: with counts :math:`w`,
    :math:`\widehat{E}k(X,X') = (w^\top K w - \sum_i w_i^2)/((\sum_i w_i)^2 - \sum_i w_i^2)`
    (the Gaussian kernel has :math:`k(x,x) = 1`), so a repeated row never
    counts as a perfectly similar pair.
    """
    qxx, qyy, qxy, ws, wt = _two_sample_sums(Xs, Xt, "gaussian", bandwidth, Ws, Wt)
    ns, nt = ws.sum(0), wt.sum(0)
    ss, st = (ws * ws).sum(0), (wt * wt).sum(0)
    return (qxx - ss) / (ns * ns - ss) + (qyy - st) / (nt * nt - st) - 2.0 * qxy / (ns * nt)


def _weighted_energy(Xs, Xt, Ws=None, Wt=None) -> np.ndarray:
    """V-statistic energy distance (squared, before the square root) for each weight column."""
    qxx, qyy, qxy, ws, wt = _two_sample_sums(Xs, Xt, "distance", None, Ws, Wt)
    ns, nt = ws.sum(0), wt.sum(0)
    return 2.0 * qxy / (ns * nt) - qxx / (ns * ns) - qyy / (nt * nt)


def _mmd2_pooled(Xs, Xt, bandwidth: float) -> torch.Tensor:
    """Unbiased MMD² from one pooled kernel matrix (fast for blocks of a few thousand rows).

    ``Xs``, ``Xt`` of shape (n, d), (m, d) give a 0-d tensor; batches (R, n, d),
    (R, m, d) give one value per pair, shape (R,).
    """
    n, m = Xs.shape[-2], Xt.shape[-2]
    K = torch.exp(_pooled_sq_dists(Xs, Xt) * (-0.5 / (bandwidth * bandwidth)))
    a = torch.zeros(n + m, 1, dtype=torch.float64)
    a[:n] = 1.0
    q, r, t = _quadratic_forms(K, a)
    T, D = _totals(K)
    return _mmd2_unbiased(q, r, t, T, D, n, m).squeeze(-1)


def _pooled_median(Xs: np.ndarray, Xt: np.ndarray, max_points: int = 4000) -> tuple[float, int]:
    """Median-heuristic bandwidth on the pooled sample; returns (h, points used).

    Above ``max_points`` pooled rows the median is taken on a fixed (seed 0)
    subsample of that many rows, so the cost stays quadratic in ``max_points``.
    """
    Z = np.concatenate([Xs, Xt])
    if Z.shape[0] > max_points:
        Z = Z[np.sort(np.random.default_rng(0).choice(Z.shape[0], max_points, replace=False))]
    d2 = pairwise_sq_dists(_as_tensor(Z))
    return float(median_bandwidth(d2)), int(Z.shape[0])

