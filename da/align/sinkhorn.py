r"""Sinkhorn divergence in torch: symmetric self-term updates and :math:`\varepsilon`-scaling.

POT solves the three entropic problems of the divergence one by one with the
alternating Sinkhorn update. The two self terms converge slowly that way;
the symmetric (averaged-potential) update of Feydy et al. (2019) converges in
a few iterations, and annealing :math:`\varepsilon` from the data diameter
warm-starts all three where the diameter is large against :math:`\varepsilon`.
This module implements that solver (log-stabilised), for any device and
floating dtype. POT stays the reference: the tests
compare it with :func:`ot.sinkhorn2` and
:func:`ot.bregman.empirical_sinkhorn_divergence`.
"""

from __future__ import annotations

import math

import torch

from da._kernels import mean_sq_dist
from da._validation import check_nonnegative, check_positive_int, check_same_dim
from da._validation import check_option as _check_choice
from da._validation import check_positive as _check_positive
from da._validation import check_tensor as _check_tensor

from da.align._sinkhorn_iterations import _iterate_on_numpy, solve

__all__ = ["sinkhorn_divergence", "symmetric_sinkhorn"]

_GRADS = ("envelope", "autodiff")
#: :func:`symmetric_sinkhorn` anneals eps only when the largest cost exceeds this multiple of it
ANNEAL_ABOVE = 64.0


def symmetric_sinkhorn(cost_xy, a, b, eps: float, *, cost_xx=None, cost_yy=None, scaling: float = 0.25,
                       anneal_above: float = ANNEAL_ABOVE, tol: float = 1e-6, max_iter: int = 1000,
                       grad: str = "envelope") -> dict:
    r"""Entropic OT between ``a`` and ``b``, and the two self terms of the divergence, solved together.

    For each problem, with cost :math:`C`, weights :math:`\alpha, \beta` and
    :math:`\mathrm{softmin}_\varepsilon(C, h, w)_i = -\varepsilon \log \sum_j w_j e^{(h_j - C_{ij})/\varepsilon}`,
    the optimal dual potentials of

    .. math:: \mathrm{OT}_\varepsilon(\alpha, \beta) = \min_{\gamma \in \Pi(\alpha, \beta)}
              \langle \gamma, C \rangle + \varepsilon\,\mathrm{KL}(\gamma \,\|\, \alpha\beta^\top)

    are iterated in the log domain:

    - cross term (``cost_xy``), alternating: :math:`f \leftarrow \mathrm{softmin}_\varepsilon(C_{xy}, g, b)`,
      then :math:`g \leftarrow \mathrm{softmin}_\varepsilon(C_{xy}^\top, f, a)`;
    - self terms (``cost_xx``, ``cost_yy``), one potential each, averaged (Feydy et al. 2019):
      :math:`p \leftarrow \tfrac12\big(p + \mathrm{softmin}_\varepsilon(C_{xx}, p, a)\big)`;
    - :math:`\varepsilon`-scaling: one iteration at each of :math:`\varepsilon_k = D\,s^k`
      (:math:`D` the largest cost, :math:`s` = ``scaling``) while above ``eps``, then
      iterations at ``eps`` until every marginal violation is below ``tol``; when
      :math:`D \le` ``anneal_above`` :math:`\cdot\,\varepsilon`, iterations at ``eps`` alone.

    The plans are :math:`\gamma_{ij} = \alpha_i\beta_j e^{(f_i + g_j - C_{ij})/\varepsilon}`
    (:math:`g = f = p` for a self term).

    How they are computed (the same updates, cheaper): at each :math:`\varepsilon` the
    potentials are absorbed into a kernel :math:`K_{ij} = e^{(f_i + g_j - C_{ij})/\varepsilon}`
    (log-stabilised, Schmitzer 2019) and the updates run on scalings :math:`u = e^{\Delta f/\varepsilon}`
    as matrix-vector products (:math:`u \leftarrow 1 / K(\beta v)`;
    :math:`u \leftarrow \sqrt{u / K(\alpha u)}` for a self term); the cross term's updates at
    ``eps`` are over-relaxed, :math:`\log u \leftarrow (1-\omega)\log u + \omega\log u^{\mathrm{new}}`,
    with :math:`\omega` adapted to the observed rate (1 at first; back to 1 if the error grows).
    A problem below ``tol`` is frozen. If a scaling over- or underflows, the plain log-domain
    iterations above are run instead. On the CPU (``grad="envelope"``, positive weights) the loop
    runs on numpy views of the detached costs (the work is many calls on short vectors), in place,
    with the two self terms stacked into one update when ``N = M``
    (:mod:`da.align._sinkhorn_numpy`); the plans it returns are then blocks of one pooled matrix.

    Parameters
    ----------
    cost_xy : torch.Tensor of shape (N, M)
        Cost between the supports of ``a`` and ``b``.
    a, b : torch.Tensor of shapes (N,) and (M,)
        Nonnegative weights with the same total mass.
    eps : float
        Target regularisation :math:`\varepsilon`, in the units of the cost.
    cost_xx, cost_yy : torch.Tensor of shapes (N, N) and (M, M), optional
        Self costs; both or neither.
    scaling : float in (0, 1), default 0.25
        Ratio of successive :math:`\varepsilon` while annealing.
    anneal_above : float >= 0, default 64
        Anneal only when :math:`D / \varepsilon` exceeds it, and exceeds :math:`-\log` of the
        dtype's smallest normal number less 1 (about 86 in float32, 8.7 in float16), where
        :math:`e^{-C/\varepsilon}` would underflow. Below it the levels cost more than they save
        (``benchmarks/sinkhorn_schedule.py``). ``0``: always anneal (as before 2026-12-03).
    tol : float, default 1e-6
        Stop when, for every problem, the L2 norm of the marginal violation
        :math:`\lVert\gamma^\top\mathbf 1 - \beta\rVert_2` (the cross plan's rows
        are exact after its ``f`` update, as in :func:`ot.sinkhorn` with
        ``method="sinkhorn_log"``; a symmetric plan has the same violation on
        both sides) is below ``tol``.
    max_iter : int, default 1000
        Iterations in all, annealing included. A solve that has not met
        ``tol`` by then returns its last plans (POT's ``warn=False``).
    grad : {"envelope", "autodiff"}, default "envelope"
        ``"envelope"``: the iterations run without a graph and the plans are
        detached; the values :math:`\langle\gamma, C\rangle` carry the
        gradient :math:`\sum_{ij}\gamma_{ij}\nabla C_{ij}`, which is the exact
        gradient of :math:`\mathrm{OT}_\varepsilon` (envelope theorem).
        ``"autodiff"``: the iterations run on the graph (the gradient of the
        returned :math:`\langle\gamma, C\rangle` through the solver).

    Returns
    -------
    dict
        ``w_xy`` (and ``w_xx``, ``w_yy`` with the self costs): the transport
        costs :math:`\langle\gamma, C\rangle` (0-d tensors, the value
        :func:`ot.sinkhorn2` returns); ``plan_xy`` (and ``plan_xx``,
        ``plan_yy``); ``f``, ``g`` (and ``p_x``, ``p_y``): the potentials;
        ``n_iter``; ``marginal_error`` (float, the largest violation at the
        last check, ``inf`` when none ran at ``eps``); ``converged``.

    References
    ----------
    Feydy, J., Séjourné, T., Vialard, F.-X., Amari, S., Trouvé, A. & Peyré, G.
    (2019). Interpolating between optimal transport and MMD using Sinkhorn
    divergences. AISTATS.

    Schmitzer, B. (2019). Stabilized sparse scaling algorithms for entropy
    regularized transport problems. SIAM J. Sci. Comput. 41(3).

    Thibault, A., Chizat, L., Dossal, C. & Papadakis, N. (2017). Overrelaxed Sinkhorn-Knopp
    algorithm for regularized optimal transport. arXiv:1711.01851. Lehmann, T., von Renesse,
    M.-K., Sambale, A. & Uschmajew, A. (2022). A note on overrelaxation in the Sinkhorn algorithm.
    """
    anneal_above = check_nonnegative(anneal_above, "anneal_above")
    out, _ = _solve_terms(cost_xy, a, b, eps, cost_xx=cost_xx, cost_yy=cost_yy, scaling=scaling, tol=tol,
                          max_iter=max_iter, grad=grad, anneal_above=anneal_above)
    return out


def _solve_terms(cost_xy, a, b, eps: float, *, cost_xx, cost_yy, scaling: float, tol: float, max_iter: int,
                 grad: str, anneal_above: float = ANNEAL_ABOVE, self_plans: bool = True):
    """:func:`symmetric_sinkhorn`, and the pooled signed plan matrix ``[[-P_xx, P_xy], [P_xy^T, -P_yy]]``
    with its row sums when the numpy iterations built them (else None). ``self_plans=False``: no
    ``plan_xx``/``plan_yy`` where the pooled matrix holds them (the loss reads only its blocks)."""
    grad = grad if grad in _GRADS else _check_choice(grad, "grad", _GRADS)
    if (cost_xx is None) != (cost_yy is None):
        raise ValueError("cost_xx and cost_yy must be given together (the two self terms) or not at all")
    originals = [cost_xy] if cost_xx is None else [cost_xy, cost_xx, cost_yy]
    with torch.set_grad_enabled(grad == "autodiff" and torch.is_grad_enabled()):
        costs = [c.detach() for c in originals] if grad == "envelope" else originals
        out, plans, pooled = solve(costs, a, b, eps, scaling=scaling, anneal_above=anneal_above, tol=tol,
                                   max_iter=max_iter,
                                   on_numpy=_iterate_on_numpy(cost_xy, grad))
    for name, plan, cost in zip(("xy", "xx", "yy"), plans, originals):
        if name != "xy" and pooled is not None:  # plan is a block -P of the pooled matrix: an exact sign flip
            out[f"w_{name}"] = -(plan * cost).sum()
            if self_plans:
                out[f"plan_{name}"] = -plan
        else:
            out[f"plan_{name}"] = plan
            out[f"w_{name}"] = (plan * cost).sum()
    return out, pooled


def _check_weights(w, name: str, n: int, like: torch.Tensor) -> torch.Tensor:
    if w is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)
    if not isinstance(w, torch.Tensor):
        w = torch.as_tensor(w, dtype=like.dtype, device=like.device)
    if w.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (one weight per sample), got {tuple(w.shape)}")
    w = w.to(dtype=like.dtype, device=like.device)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or not float(w.sum()) > 0:
        raise ValueError(f"{name} must hold finite, nonnegative weights with a positive sum")
    return w


def sinkhorn_divergence(x, y, eps: float, a=None, b=None, *, debiased: bool = True, scaling: float = 0.25,
                        anneal_above: float = ANNEAL_ABOVE, tol: float = 1e-6, max_iter: int = 1000,
                        grad: str = "envelope", log: bool = False):
    r"""Sinkhorn divergence between two weighted point clouds (squared Euclidean cost).

    .. math:: S_\varepsilon(\alpha, \beta) = \mathrm{W}_\varepsilon(\alpha, \beta)
              - \tfrac12 \mathrm{W}_\varepsilon(\alpha, \alpha) - \tfrac12 \mathrm{W}_\varepsilon(\beta, \beta),
              \qquad \mathrm{W}_\varepsilon(\alpha, \beta) = \langle \gamma_\varepsilon, C \rangle,

    with :math:`C_{ij} = \lVert x_i - y_j\rVert^2` and :math:`\gamma_\varepsilon`
    the entropic plan of :math:`\mathrm{OT}_\varepsilon` (see
    :func:`symmetric_sinkhorn`, which solves the three problems together).
    Feydy et al. write :math:`S_\varepsilon` with the regularised values
    :math:`\mathrm{OT}_\varepsilon = \langle\gamma_\varepsilon, C\rangle +
    \varepsilon\mathrm{KL}(\gamma_\varepsilon\|\alpha\beta^\top)`; the terms here are the
    transport costs, the value of :func:`ot.sinkhorn2` and of
    :func:`ot.bregman.empirical_sinkhorn_divergence` (without its clamp at 0),
    so that the two agree. With ``grad="envelope"`` the gradient is that of
    Feydy et al.'s regularised divergence.

    Parameters
    ----------
    x, y : torch.Tensor of shapes (N, d) and (M, d)
        Supports; same dtype and device.
    eps : float
        Regularisation :math:`\varepsilon`, in squared-distance units.
    a, b : torch.Tensor of shapes (N,) and (M,), optional
        Nonnegative weights with the same total mass; uniform ``1/N``, ``1/M``
        by default.
    debiased : bool, default True
        Return :math:`S_\varepsilon`; ``False``: :math:`\mathrm{W}_\varepsilon(\alpha, \beta)` only.
    scaling, anneal_above, tol, max_iter, grad
        See :func:`symmetric_sinkhorn`.
    log : bool, default False
        Also return the solver's dict.

    Returns
    -------
    value : torch.Tensor (0-d)
    log : dict, only with ``log=True``

    Examples
    --------
    >>> x = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    >>> abs(float(sinkhorn_divergence(x, x, eps=0.5))) < 1e-4  # the cross term to tol, in float32
    True
    >>> float(sinkhorn_divergence(x, x + 1.0, eps=0.5)) > 0.9
    True
    """
    x, y = _check_tensor(x, "x"), _check_tensor(y, "y")
    check_same_dim(x, y, names=("x", "y"))
    if x.dtype != y.dtype or x.device != y.device:
        raise ValueError(f"x and y must share dtype and device, got {x.dtype} on {x.device} and {y.dtype} on {y.device}")
    eps = _check_positive(eps, "eps")
    if not (isinstance(scaling, (int, float)) and 0 < scaling < 1):
        raise ValueError(f"scaling must be a number in (0, 1), got {scaling!r}")
    anneal_above = check_nonnegative(anneal_above, "anneal_above")
    _check_positive(tol, "tol")
    check_positive_int(max_iter, "max_iter")
    if debiased not in (True, False):
        raise ValueError(f"debiased must be True or False, got {debiased!r}")
    a = _check_weights(a, "a", x.shape[0], x)
    b = _check_weights(b, "b", y.shape[0], x)
    if not math.isclose(float(a.sum()), float(b.sum()), rel_tol=1e-6):
        raise ValueError(f"a and b must have the same total mass, got {float(a.sum())} and {float(b.sum())}")
    value, res, _ = _divergence_of_points(x, y, a, b, eps, debiased=debiased, scaling=scaling,
                                       anneal_above=anneal_above, tol=tol,
                                       max_iter=max_iter, grad=grad)
    return (value, res) if log else value


def _sq_dist_blocks(x: torch.Tensor, y: torch.Tensor, debiased: bool = True) -> tuple:
    r"""The costs of the divergence, :math:`C_{xy}` and (``debiased``) :math:`C_{xx}`, :math:`C_{yy}`
    (else None), from :math:`\lVert x_i\rVert^2 + \lVert y_j\rVert^2 - 2 x_i^\top y_j` (clamped at 0)
    as in :func:`da._kernels.pairwise_sq_dists`: the three blocks of ``[x; y]``'s distance matrix
    without the fourth, each one fused product (``torch.addmm``)."""
    sq_x, sq_y = (x * x).sum(1), (y * y).sum(1)
    grad = torch.is_grad_enabled() and (x.requires_grad or y.requires_grad)

    def block(u, sq_u, v, sq_v, self_term):
        d2 = torch.addmm(sq_u[:, None] + sq_v[None, :], u, v.T, alpha=-2.0)
        if grad:  # out of place, diagonal kept: the graph of pairwise_sq_dists
            return d2.clamp_min(0.0)
        d2.clamp_min_(0.0)
        if self_term:
            d2.fill_diagonal_(0.0)
        return d2

    cost_xy = block(x, sq_x, y, sq_y, False)
    if not debiased:
        return cost_xy, None, None
    return cost_xy, block(x, sq_x, x, sq_x, True), block(y, sq_y, y, sq_y, True)


def _divergence_of_points(x, y, a, b, eps: float, *, debiased: bool, scaling: float, tol: float,
                          max_iter: int, grad: str, costs=None, anneal_above: float = ANNEAL_ABOVE,
                          normalize: bool = False, self_plans: bool = True):
    """:func:`sinkhorn_divergence` on checked inputs; ``costs``: their :func:`_sq_dist_blocks`, if known.

    Returns ``(value, res, scale)``. With ``normalize`` the value is divided by the mean squared
    distance ``scale`` (:func:`da._kernels.mean_sq_dist`, clamped at the dtype's tiny), which stays in
    the graph: its gradient is folded into the envelope's closed form (else ``scale`` is None).
    """
    n = x.shape[0]
    if costs is None:
        with torch.set_grad_enabled(grad == "autodiff" and torch.is_grad_enabled()):
            costs = _sq_dist_blocks(x, y, debiased)
    cost_xy, cost_xx, cost_yy = costs
    res, plans = _solve_terms(cost_xy, a, b, eps, scaling=scaling, anneal_above=anneal_above, tol=tol,
                              max_iter=max_iter, grad=grad, cost_xx=cost_xx, cost_yy=cost_yy,
                              self_plans=self_plans)
    value = res["w_xy"] - 0.5 * (res["w_xx"] + res["w_yy"]) if debiased else res["w_xy"]
    envelope = grad == "envelope" and (x.requires_grad or y.requires_grad) and torch.is_grad_enabled()
    scale = None
    if normalize:
        with torch.set_grad_enabled(not envelope and torch.is_grad_enabled()):
            scale = mean_sq_dist(x, y).clamp_min(torch.finfo(x.dtype).tiny)
    if envelope:
        if plans is None:  # the torch iterations: pool their plans
            plan = res["plan_xy"]
            self_x, self_y = ((-res["plan_xx"], -res["plan_yy"]) if debiased
                              else (plan.new_zeros(n, n), plan.new_zeros(plan.shape[1], plan.shape[1])))
            pooled = torch.cat([torch.cat([self_x, plan], 1), torch.cat([plan.T, self_y], 1)])
            plans = pooled, pooled.sum(1, keepdim=True)
        value = _EnvelopeTransportCost.apply(x, y, value.detach(), *plans, scale)
    elif scale is not None:
        value = value / scale.to(value.dtype)
    return value, res, scale


class _EnvelopeTransportCost(torch.autograd.Function):
    r"""The value :math:`\langle P, C_{xy}\rangle - \tfrac12\langle P_x, C_{xx}\rangle
    - \tfrac12\langle P_y, C_{yy}\rangle` for fixed plans, with its gradient in closed form.

    With :math:`C_{ij} = \lVert x_i - y_j\rVert^2`, row sums :math:`r = P\mathbf 1`, column sums
    :math:`c = P^\top\mathbf 1` and symmetric self plans,

    .. math:: \nabla_x = 2\big(r \odot x - P y\big) - 2\big(r_x \odot x - P_x x\big), \qquad
              \nabla_y = 2\big(c \odot y - P^\top x\big) - 2\big(r_y \odot y - P_y y\big).

    On the pooled points :math:`z = [x; y]`, with the pooled signed plans
    :math:`B = [[-P_x, P], [P^\top, -P_y]]` and their row sums :math:`d = B\mathbf 1` (given), this is one
    product: :math:`\nabla_z = 2\,(d \odot z - B z)`.

    With ``scale`` :math:`\bar D` (the mean squared distance, :func:`da._kernels.mean_sq_dist`) the value
    is :math:`S / \bar D` and the gradient :math:`\nabla S / \bar D - (S / \bar D^2)\,\nabla\bar D`, with
    :math:`\nabla_{x_i}\bar D = \tfrac2N (x_i - \bar y)` and :math:`\nabla_{y_j}\bar D = \tfrac2M (y_j - \bar x)`
    (none where :math:`\bar D` was clamped at the dtype's tiny): the gradient of ``value / mean_sq_dist(x, y)``
    on the graph, in one node.
    """

    @staticmethod
    def forward(ctx, x, y, value, plans, row_sums, scale=None):
        ctx.save_for_backward(x, y, plans, row_sums, value, scale)
        ctx.normalized = scale is not None
        return value.clone() if scale is None else value / scale.to(value.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, y, plans, row_sums, value, scale = ctx.saved_tensors
        x, y = x.detach(), y.detach()
        z = torch.cat([x, y])
        grad = torch.addmm(row_sums.to(z.dtype) * z, plans.to(z.dtype), z, alpha=-1.0)
        if not ctx.normalized:
            grad.mul_(2.0 * grad_out)
            return grad[:x.shape[0]], grad[x.shape[0]:], None, None, None, None
        scale = scale.to(z.dtype)
        grad.mul_(2.0 * grad_out / scale)
        if bool(scale > torch.finfo(z.dtype).tiny):  # the clamp's gradient is 0 where it binds
            c = 2.0 * grad_out * value.to(z.dtype) / (scale * scale)
            grad[:x.shape[0]].sub_((x - y.mean(0)) * (c / x.shape[0]))
            grad[x.shape[0]:].sub_((y - x.mean(0)) * (c / y.shape[0]))
        return grad[:x.shape[0]], grad[x.shape[0]:], None, None, None, None
