r"""Multi-kernel maximum mean discrepancy (DAN) and joint MMD (JAN)."""

from __future__ import annotations

import numbers
from typing import Sequence

import torch
from torch import nn

from da._kernels import gaussian_kernels, median_bandwidth, pairwise_sq_dists
from da.align._checks import _check_choice, _check_features, _check_logits, _check_positive

__all__ = ["MMDLoss"]

_ESTIMATORS = ("unbiased", "biased", "linear")


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


def _block_mmd2(k: torch.Tensor, n: int, estimator: str) -> torch.Tensor:
    """MMD^2 from a pooled kernel matrix whose first ``n`` rows are the source.

    The diagonal is never read: a Gaussian kernel has :math:`k(x, x) = 1`
    exactly, while the computed diagonal may carry rounding error.
    """
    m = k.shape[0] - n
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    sxx = kxx.sum() - kxx.diagonal().sum()
    syy = kyy.sum() - kyy.diagonal().sum()
    if estimator == "unbiased":
        return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2.0 * kxy.mean()
    return (sxx + n) / (n * n) + (syy + m) / (m * m) - 2.0 * kxy.mean()


class _MeanGaussianKernel(torch.autograd.Function):
    r"""``mean_u exp(-d2 / 2h_u^2)`` with a hand-written backward.

    Autograd through the stack of kernels would keep all ``U`` kernel
    matrices and run several elementwise passes over them; here the forward
    pass also forms the derivative
    :math:`\partial \bar k / \partial d^2 = -\frac1U \sum_u k_u / 2h_u^2`
    and saves only that one matrix. The bandwidths get no gradient (they are
    fixed or detached).
    """

    @staticmethod
    def forward(ctx, d2, bandwidths):
        ks = gaussian_kernels(d2, bandwidths)
        u = ks.shape[0]
        if not ctx.needs_input_grad[0]:
            return ks.mean(0)
        weights = torch.stack([torch.full_like(bandwidths, 1.0 / u), -1.0 / (2.0 * u * bandwidths ** 2)])
        k_mean, dk = (weights @ ks.reshape(u, -1)).reshape(2, *d2.shape).unbind(0)
        ctx.save_for_backward(dk)
        return k_mean

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (dk,) = ctx.saved_tensors
        return grad * dk, None


def _mean_gaussian_kernel(d2: torch.Tensor, bandwidths: torch.Tensor) -> torch.Tensor:
    return _MeanGaussianKernel.apply(d2, bandwidths.detach())


def _sq_norm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).sum(-1)


class MMDLoss(nn.Module):
    r"""Squared maximum mean discrepancy with a family of Gaussian kernels (MK-MMD).

    With :math:`k_h(x, y) = \exp(-\lVert x - y\rVert^2 / 2h^2)` and bandwidths
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
                 estimator: str = "unbiased", joint: bool = False, joint_bandwidth: float = 0.92):
        super().__init__()
        self.bandwidth = bandwidth
        self.multipliers = multipliers
        self.estimator = estimator
        self.joint = joint
        self.joint_bandwidth = joint_bandwidth
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
        mults = torch.tensor(_check_multipliers(self.multipliers), dtype=fs.dtype, device=fs.device)
        n = fs.shape[0]

        z = torch.cat([fs, ft])
        d2 = None
        if self.bandwidth is None:
            d2 = pairwise_sq_dists(z)
            h = median_bandwidth(d2)
        else:
            h = torch.tensor(float(self.bandwidth), dtype=fs.dtype, device=fs.device)
        bandwidths = h * mults
        if self.joint:
            g = torch.softmax(torch.cat([logits_s, logits_t]).to(fs.dtype), dim=1)

        if self.estimator == "linear":
            value = self._linear(fs, ft, g[:n] if self.joint else None, g[n:] if self.joint else None,
                                 bandwidths)
        else:
            if d2 is None:
                d2 = pairwise_sq_dists(z)
            k = _mean_gaussian_kernel(d2, bandwidths)
            if self.joint:
                k = k * gaussian_kernels(pairwise_sq_dists(g), [self.joint_bandwidth])[0]
            value = _block_mmd2(k, n, self.estimator)
        self.last_stats_ = {"mmd2": float(value.detach()), "bandwidth": float(h)}
        return value

    def _linear(self, fs, ft, gs, gt, bandwidths) -> torch.Tensor:
        pairs = min(fs.shape[0], ft.shape[0]) // 2
        x1, x2 = fs[0:2 * pairs:2], fs[1:2 * pairs:2]
        y1, y2 = ft[0:2 * pairs:2], ft[1:2 * pairs:2]
        # rows: k(x1,x2), k(y1,y2), k(x1,y2), k(x2,y1) for each pair
        d2 = torch.stack([_sq_norm(x1, x2), _sq_norm(y1, y2), _sq_norm(x1, y2), _sq_norm(x2, y1)])
        k = _mean_gaussian_kernel(d2, bandwidths)
        if self.joint:
            a1, a2 = gs[0:2 * pairs:2], gs[1:2 * pairs:2]
            b1, b2 = gt[0:2 * pairs:2], gt[1:2 * pairs:2]
            g2 = torch.stack([_sq_norm(a1, a2), _sq_norm(b1, b2), _sq_norm(a1, b2), _sq_norm(a2, b1)])
            k = k * gaussian_kernels(g2, [self.joint_bandwidth])[0]
        return (k[0] + k[1] - k[2] - k[3]).mean()

    def extra_repr(self) -> str:
        return (f"bandwidth={self.bandwidth}, multipliers={tuple(self.multipliers)}, "
                f"estimator={self.estimator!r}, joint={self.joint}")
