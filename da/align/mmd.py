r"""Multi-kernel maximum mean discrepancy (DAN) and joint MMD (JAN)."""

from __future__ import annotations

import functools
import math
import numbers
from typing import Sequence

import torch
from torch import nn

from da._kernels import gaussian_kernels, median_bandwidth, pairwise_sq_dists
from da._validation import (check_option as _check_choice, check_features as _check_features,
                             check_logits as _check_logits, check_positive as _check_positive)

__all__ = ["MMDLoss"]

_ESTIMATORS = ("unbiased", "biased", "linear")
_KERNELS = ("gaussian", "laplacian")


def _check_multipliers(multipliers) -> tuple[float, ...]:
    if isinstance(multipliers, numbers.Real) and not isinstance(multipliers, bool):
        multipliers = (multipliers,)
    try:
        mults = tuple(multipliers)
    except TypeError:
        raise ValueError(f"multipliers must be a sequence of positive numbers, got {multipliers!r}") from None
    if not mults:
        raise ValueError("multipliers must hold at least one bandwidth multiplier, got an empty sequence")
    return tuple(_check_positive(m, f"multipliers[{i}]") for i, m in enumerate(mults))


@functools.lru_cache(maxsize=4)
def _block_weights(n: int, m: int, cxx: float, cyy: float, cxy: float, dtype, device) -> torch.Tensor:
    """The ``(n + m) x (n + m)`` matrix with ``cxx``, ``cyy`` and ``cxy`` on the source, target and
    cross blocks and a zero diagonal (cached: one elementwise product per step instead of four
    block products and a diagonal fill; the same numbers). Read-only."""
    w = torch.full((n + m, n + m), cxy, dtype=dtype, device=device)
    w[:n, :n] = cxx
    w[n:, n:] = cyy
    return w.fill_diagonal_(0.0)


#: the longest run of squarings from one exponential (each squaring doubles the base's relative error)
_MAX_SQUARINGS = 4


def _exponent_ratios(multipliers, kernel: str) -> list[float]:
    r""":math:`q_u = c_0 / c_u`, the ratio of the widest kernel's scale to kernel :math:`u`'s
    (:math:`c_u = h m_u` Laplacian, :math:`2 h^2 m_u^2` Gaussian), so that :math:`k_u = k_0^{q_u}`."""
    m_max = max(multipliers)
    return [(m_max / m) ** 2 if kernel == "gaussian" else m_max / m for m in multipliers]


def _squaring_levels(ratios) -> list[int] | None:
    """``j`` with ``q = 2**j`` exactly for every ratio (multipliers a power-of-two grid), else None."""
    levels = []
    for q in ratios:
        mantissa, e = math.frexp(q)
        if mantissa != 0.5 or e > 64:
            return None
        levels.append(e - 1)
    return levels


@functools.lru_cache(maxsize=32)
def _kernel_plan(multipliers: tuple, kernel: str) -> tuple:
    """``(max multiplier, ratios, levels)`` of checked multipliers (floats; cached: every step asks)."""
    ratios = _exponent_ratios(multipliers, kernel)
    return max(multipliers), ratios, _squaring_levels(ratios)


def _kernel_sums(s: torch.Tensor, c0: float, ratios, levels, slope: bool = True):
    r"""``ksum`` :math:`= \sum_u k_u` and ``wsum`` :math:`= \sum_u q_u k_u`, with :math:`k_u = e^{-q_u s / c_0}`.

    On a power-of-two grid of multipliers (``levels`` not None) the kernels are squarings of one
    another, :math:`k_{j+1} = k_j^2`: one exponential per :data:`_MAX_SQUARINGS` + 1 levels
    instead of one per kernel (the values agree to rounding: a squaring doubles the relative
    error of its input, so a run is kept short). Otherwise one exponential per kernel.
    ``slope=False``: ``wsum`` is None (no gradient needed).
    """
    ksum = wsum = None

    def add(k, count, weight):
        nonlocal ksum, wsum
        if ksum is None:
            ksum, wsum = k * count, (k * weight if slope else None)
            return
        ksum.add_(k, alpha=count)
        if slope:
            wsum.add_(k, alpha=weight)

    if levels is None:
        for q in ratios:
            add(torch.div(s, -(c0 / q)).exp_(), 1, q)
        return ksum, wsum
    counts = {j: levels.count(j) for j in set(levels)}
    k = base = None
    for j in range(max(levels) + 1):
        if k is None or j - base > _MAX_SQUARINGS:
            k, base = torch.div(s, -(c0 / 2.0 ** j)).exp_(), j
        else:
            k.mul_(k)  # in place: the sums above hold what they need of the previous level
        if j in counts:
            add(k, counts[j], counts[j] * 2.0 ** j)
    return ksum, wsum


class _PooledMMD2(torch.autograd.Function):
    r"""Quadratic-time MMD² from one pooled kernel matrix, with a hand-written backward.

    Forward: :math:`D = ` ``pairwise_sq_dists`` of the pooled batch
    :math:`z`, the mean kernel :math:`\bar k(D) = \frac1U \sum_u k_u(D)` and, alongside it,
    its slope :math:`\bar k'(D) = -\frac{1}{U c_0}\sum_u q_u k_u(D)\,\frac{\partial s}{\partial D}`,
    where :math:`k_u = e^{-q_u s / c_0}`, :math:`s = D` and :math:`c_0 = 2h_0^2` (Gaussian) or
    :math:`s = \sqrt D` and :math:`c_0 = h_0` (Laplacian, :math:`\partial s/\partial D = 1/2s`,
    set to 0 where :math:`s = 0`: the diagonal, which carries no weight, and exact duplicates,
    where the kernel has no derivative), :math:`h_0` the widest bandwidth and
    :math:`q_u = c_0 / c_u`. The value is :math:`\sum_{ij} W_{ij} \bar k_{ij} g_{ij}` with the
    estimator's block weights :math:`W` (zero diagonal; the exact :math:`k(x, x) = 1` enters as
    a constant) and the optional label kernel :math:`g` of JMMD.

    Backward: with :math:`B = W \odot g \odot \bar k'(D)` (symmetric) and
    :math:`\partial D_{ij} / \partial z_i = 2(z_i - z_j)`,

    .. math:: \nabla_z = 4\,(\operatorname{diag}(B\mathbf 1) z - B z),

    one matrix product, where autograd through the distance matrix and the
    stack of kernels would take two and several elementwise passes. The
    bandwidth is fixed or the detached median, so it gets no gradient.
    """

    @staticmethod
    def forward(ctx, z, kg, n, bandwidth, multipliers, estimator, kernel="gaussian"):
        d2 = pairwise_sq_dists(z)  # grad mode is off here: the diagonal is exactly 0
        if bandwidth is None:
            h = median_bandwidth(d2)
        else:
            h = torch.tensor(float(bandwidth), dtype=z.dtype, device=z.device)
        m_max, ratios, levels = _kernel_plan(multipliers, kernel)
        h0 = float(h) * m_max  # a Python number: the scalar arithmetic below costs no tensor ops
        u = len(ratios)
        if kernel == "gaussian":
            s, c0 = d2, 2.0 * h0 * h0
        else:
            s, c0 = d2.sqrt_(), h0
        ksum, wsum = _kernel_sums(s, c0, ratios, levels, slope=ctx.needs_input_grad[0])

        m = z.shape[0] - n
        if estimator == "unbiased":
            cxx, cyy, const = 1.0 / (n * (n - 1)), 1.0 / (m * (m - 1)), 0.0
        else:
            cxx, cyy, const = 1.0 / (n * n), 1.0 / (m * m), 1.0 / n + 1.0 / m
        cxy = -1.0 / (n * m)
        # the estimator's weights (and 1/U) scale each element before one sum: the blocks' sums
        # nearly cancel, which would cost float32 digits if they were formed first
        wkf = ksum.mul_(_block_weights(n, m, cxx / u, cyy / u, cxy / u, z.dtype, z.device))
        value = (wkf if kg is None else wkf * kg).sum() + const

        b = slope = None
        if ctx.needs_input_grad[0]:
            if kernel == "laplacian":  # ds/dD = 1 / 2s, 0 where s = 0 (wsum > 0 there: +inf)
                wsum.div_(s).nan_to_num_(posinf=0.0)
                slope = -0.5 / (u * c0)
            else:
                slope = -1.0 / (u * c0)
            b = (wsum if kg is None else wsum.mul_(kg)).mul_(_block_weights(n, m, cxx, cyy, cxy, z.dtype, z.device))
        ctx.save_for_backward(z, b, wkf if ctx.needs_input_grad[1] else None)
        ctx.slope = slope
        ctx.mark_non_differentiable(h)
        return value, h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_value, grad_h):
        z, b, wkf = ctx.saved_tensors
        grad_z = grad_kg = None
        if b is not None:
            grad_z = (grad_value * (4.0 * ctx.slope)) * (b.sum(1, keepdim=True) * z - b @ z)
        if wkf is not None:
            grad_kg = grad_value * wkf
        return grad_z, grad_kg, None, None, None, None, None


def _sq_norm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).sum(-1)


class MMDLoss(nn.Module):
    r"""Squared maximum mean discrepancy with a family of Gaussian (or Laplacian) kernels (MK-MMD).

    With :math:`k_h(x, y) = \exp(-\lVert x - y\rVert^2 / 2h^2)` (``kernel="gaussian"``)
    or :math:`k_h(x, y) = \exp(-\lVert x - y\rVert / h)` (``kernel="laplacian"``,
    on *unsquared* distances, the kernel family of skada's DAN loss) and bandwidths
    :math:`h_u = h \cdot m_u` for the multipliers :math:`m_1..m_U`, the kernel
    is the **mean** of the single kernels,

    .. math:: k(x, y) = \frac{1}{U}\sum_{u=1}^{U} k_{h_u}(x, y),

    so the multi-kernel value equals the mean of the single-kernel MMD²
    values (and is on the same scale as one of them). For source features
    :math:`x_1..x_N` and target features :math:`y_1..y_M` the estimators are

    .. math::

        \widehat{\mathrm{MMD}}^2_u &= \frac{1}{N(N-1)}\sum_{i \ne i'} k(x_i, x_{i'})
            + \frac{1}{M(M-1)}\sum_{j \ne j'} k(y_j, y_{j'})
            - \frac{2}{NM}\sum_{i, j} k(x_i, y_j) \quad \text{("unbiased", U-statistic)}

        \widehat{\mathrm{MMD}}^2_b &= \frac{1}{N^2}\sum_{i, i'} k(x_i, x_{i'})
            + \frac{1}{M^2}\sum_{j, j'} k(y_j, y_{j'})
            - \frac{2}{NM}\sum_{i, j} k(x_i, y_j) \quad \text{("biased", V-statistic)}

        \widehat{\mathrm{MMD}}^2_l &= \frac{1}{P}\sum_{q=1}^{P}
            k(x_{2q-1}, x_{2q}) + k(y_{2q-1}, y_{2q}) - k(x_{2q-1}, y_{2q}) - k(x_{2q}, y_{2q-1})
            \quad \text{("linear")}

    The linear-time estimator pairs consecutive samples; when :math:`N \ne M`
    it uses the first :math:`2P` rows of each batch with
    :math:`P = \lfloor \min(N, M) / 2 \rfloor` and ignores the rest. It is
    unbiased but has a larger variance.

    With ``joint=True`` the kernel is the JMMD product kernel of JAN,
    :math:`k(x, y)\,k_{h_g}(\sigma(a), \sigma(b))`, where :math:`\sigma(a)` is
    the softmax of the logits and :math:`h_g` = ``joint_bandwidth``; then
    ``logits_s`` and ``logits_t`` are required.

    Parameters
    ----------
    bandwidth : float or None, default None
        Base bandwidth :math:`h`. ``None``: the median heuristic, the median
        Euclidean distance between distinct points of the pooled batch
        :math:`\{x_i\} \cup \{y_j\}`, recomputed on every call and detached
        (no gradient flows through the bandwidth).
    multipliers : sequence of float, default (0.25, 0.5, 1, 2, 4)
        :math:`m_u`; one kernel per multiplier, all from one squared-distance
        matrix. ``(1,)`` gives the single-kernel MMD.
    estimator : {"unbiased", "biased", "linear"}, default "unbiased"
        ``"unbiased"`` needs at least two samples per domain; so does
        ``"linear"`` (one pair).
    joint : bool, default False
        JMMD on (features, softmax(logits)).
    joint_bandwidth : float, default 0.92
        Bandwidth of the Gaussian kernel on the softmax outputs (JAN's
        reference setting; probability vectors are at most :math:`\sqrt2` apart).
    kernel : {"gaussian", "laplacian"}, default "gaussian"
        Family of the feature kernels. The Laplacian kernel's heavier tail
        keeps a gradient between distant points, where a Gaussian kernel of
        the same bandwidth has none. skada's ``dan_loss`` **sums** 33 Laplacian
        kernels with :math:`m_u = 2^{-8}, 2^{-7.5}, \dots, 2^{8}` (and the median
        of the source distances): that is this loss with those multipliers,
        times 33 (the mean here keeps the value on the scale of one kernel).

    Attributes
    ----------
    last_stats_ : dict
        After each call: ``mmd2`` (the returned value) and ``bandwidth`` (the
        base :math:`h` used).

    Notes
    -----
    Call as ``loss(fs, ft)`` with ``fs`` of shape (N, d) and ``ft`` of shape
    (M, d); ``logits_s``/``logits_t`` are used only when ``joint=True`` and
    ``ys``, ``p`` are ignored. The unbiased estimate can be negative.

    Cost: the "unbiased" and "biased" estimators compute one
    :math:`(N+M) \times (N+M)` squared-distance matrix (one matrix product)
    and :math:`U` elementwise exponentials of it. The "linear" estimator costs
    :math:`O((N+M) d U)` with a fixed ``bandwidth``; the median heuristic
    still needs all pairwise distances.

    **Distributed training** (:mod:`da.transfer.distributed`). By default each
    process evaluates this loss on its own shard of the global batch (``B/W`` rows
    per domain) and DDP averages the gradients: the step minimises the mean of
    :math:`W` per-process MMD² estimates (a minibatch estimate at batch ``B/W``,
    each with its own median bandwidth). With ``TrainConfig.gather_features`` the
    features (and, with ``joint``, the logits) of all processes are gathered
    (``torch.distributed.nn.functional.all_gather``, gradients flowing back to each
    shard) and the loss is that of the global batch, with the one-process value and
    gradient.

    References
    ----------
    Gretton, A., Borgwardt, K. M., Rasch, M. J., Schölkopf, B. & Smola, A.
    (2012). A kernel two-sample test. JMLR 13 (U-, V- and linear-time statistics).

    Long, M., Cao, Y., Wang, J. & Jordan, M. I. (2015). Learning transferable
    features with deep adaptation networks. ICML (DAN, multi-kernel MMD).

    Long, M., Zhu, H., Wang, J. & Jordan, M. I. (2017). Deep transfer learning
    with joint adaptation networks. ICML (JAN, JMMD).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> fs, ft = torch.randn(32, 4, generator=g), torch.randn(40, 4, generator=g) + 1
    >>> loss = MMDLoss()
    >>> value = loss(fs, ft)
    >>> bool(value > 0), sorted(loss.last_stats_)
    (True, ['bandwidth', 'mmd2'])
    """

    def __init__(self, bandwidth: float | None = None,
                 multipliers: Sequence[float] = (0.25, 0.5, 1, 2, 4),
                 estimator: str = "unbiased", joint: bool = False, joint_bandwidth: float = 0.92,
                 kernel: str = "gaussian"):
        super().__init__()
        self.bandwidth = bandwidth
        self.multipliers = multipliers
        self.estimator = estimator
        self.joint = joint
        self.joint_bandwidth = joint_bandwidth
        self.kernel = kernel
        _check_choice(kernel, "kernel", _KERNELS)
        _check_positive(bandwidth, "bandwidth", allow_none=True)
        _check_multipliers(multipliers)
        _check_choice(estimator, "estimator", _ESTIMATORS)
        if joint not in (True, False):
            raise ValueError(f"joint must be True or False, got {joint!r}")
        _check_positive(joint_bandwidth, "joint_bandwidth")

    def forward(self, fs: torch.Tensor, ft: torch.Tensor, *, logits_s=None, logits_t=None, ys=None,
                p: float | None = None) -> torch.Tensor:
        min_samples = 1 if self.estimator == "biased" else 2
        fs, ft = _check_features(fs, ft, min_samples=min_samples)
        if self.joint:
            logits_s = _check_logits(logits_s, "logits_s", fs, "fs")
            logits_t = _check_logits(logits_t, "logits_t", ft, "ft")
            if logits_s.shape[1] != logits_t.shape[1]:
                raise ValueError(f"logits_s and logits_t have different numbers of classes: "
                                 f"{tuple(logits_s.shape)} vs {tuple(logits_t.shape)}")
        mults = _check_multipliers(self.multipliers)
        n = fs.shape[0]

        z = torch.cat([fs, ft])
        if self.joint:
            g = torch.softmax(torch.cat([logits_s, logits_t]).to(fs.dtype), dim=1)

        if self.estimator == "linear":
            if self.bandwidth is None:
                h = median_bandwidth(pairwise_sq_dists(z.detach()))
            else:
                h = torch.tensor(float(self.bandwidth), dtype=fs.dtype, device=fs.device)
            value = self._linear(fs, ft, g[:n] if self.joint else None, g[n:] if self.joint else None,
                                 h * torch.tensor(mults, dtype=fs.dtype, device=fs.device))
        else:
            kg = gaussian_kernels(pairwise_sq_dists(g), [self.joint_bandwidth])[0] if self.joint else None
            value, h = _PooledMMD2.apply(z, kg, n, self.bandwidth, mults, self.estimator, self.kernel)
        self.last_stats_ = {"mmd2": float(value.detach()), "bandwidth": float(h)}
        return value

    def _linear(self, fs, ft, gs, gt, bandwidths) -> torch.Tensor:
        pairs = min(fs.shape[0], ft.shape[0]) // 2
        x1, x2 = fs[0:2 * pairs:2], fs[1:2 * pairs:2]
        y1, y2 = ft[0:2 * pairs:2], ft[1:2 * pairs:2]
        # rows: k(x1,x2), k(y1,y2), k(x1,y2), k(x2,y1) for each pair
        d2 = torch.stack([_sq_norm(x1, x2), _sq_norm(y1, y2), _sq_norm(x1, y2), _sq_norm(x2, y1)])
        if self.kernel == "gaussian":
            k = gaussian_kernels(d2, bandwidths).mean(0)
        else:
            r = d2.clamp_min(torch.finfo(d2.dtype).tiny).sqrt()
            k = torch.exp(-r.unsqueeze(0) / bandwidths.reshape(-1, 1, 1)).mean(0)
        if self.joint:
            a1, a2 = gs[0:2 * pairs:2], gs[1:2 * pairs:2]
            b1, b2 = gt[0:2 * pairs:2], gt[1:2 * pairs:2]
            g2 = torch.stack([_sq_norm(a1, a2), _sq_norm(b1, b2), _sq_norm(a1, b2), _sq_norm(a2, b1)])
            k = k * gaussian_kernels(g2, [self.joint_bandwidth])[0]
        return (k[0] + k[1] - k[2] - k[3]).mean()

    def extra_repr(self) -> str:
        return (f"bandwidth={self.bandwidth}, multipliers={tuple(self.multipliers)}, "
                f"estimator={self.estimator!r}, joint={self.joint}, kernel={self.kernel!r}")
