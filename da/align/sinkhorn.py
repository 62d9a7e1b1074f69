r"""Sinkhorn divergence in torch: symmetric self-term updates and :math:`\varepsilon`-scaling.

POT solves the three entropic problems of the divergence one by one with the
alternating Sinkhorn update. The two self terms converge slowly that way;
the symmetric (averaged-potential) update of Feydy et al. (2019) converges in
a few iterations, and annealing :math:`\varepsilon` from the data diameter
warm-starts all three. This module implements that solver (log-stabilised),
for any device and floating dtype. POT stays the reference: the tests
compare it with :func:`ot.sinkhorn2` and
:func:`ot.bregman.empirical_sinkhorn_divergence`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from da._kernels import pairwise_sq_dists
from da._validation import check_positive_int, check_same_dim
from da._validation import check_option as _check_choice, check_positive as _check_positive, check_tensor as _check_tensor

__all__ = ["sinkhorn_divergence", "symmetric_sinkhorn"]

_GRADS = ("envelope", "autodiff")


class _TorchOps:
    """The array functions the scaling iterations use, on torch tensors (any device, autodiff)."""

    sqrt, log, exp, where = torch.sqrt, torch.log, torch.exp, torch.where

    @staticmethod
    def clamp_min(x, value):
        return x.clamp_min(value)

    @staticmethod
    def norms(vectors) -> list[float]:
        """The L2 norm of each vector, in one host copy."""
        if len({v.shape for v in vectors}) == 1:
            return torch.linalg.vector_norm(torch.stack(vectors), dim=1).tolist()
        return torch.stack([torch.linalg.vector_norm(v) for v in vectors]).tolist()

    @staticmethod
    def all_finite(x) -> bool:
        return bool(torch.isfinite(x).all())


class _NumpyOps:
    """The same on numpy arrays: for detached CPU tensors, where a call on a vector of a few hundred
    entries costs about a tenth of torch's dispatch (the iterations are many such calls)."""

    sqrt, exp, where, clamp_min = np.sqrt, np.exp, np.where, np.maximum

    @staticmethod
    def log(x):
        with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = -inf: a zero weight, masked after
            return np.log(x)

    @staticmethod
    def norms(vectors) -> list[float]:
        return [float(np.linalg.norm(v)) for v in vectors]

    @staticmethod
    def all_finite(x) -> bool:
        return bool(np.isfinite(x).all())


@dataclass
class _Problem:
    """One entropic problem: cost, marginals, potentials (``g`` is ``f`` for a self term) and plan."""

    name: str
    cost: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    symmetric: bool
    f: torch.Tensor
    g: torch.Tensor
    log_a: torch.Tensor
    log_b: torch.Tensor
    positive: bool  # every weight > 0
    neg_a: torch.Tensor
    neg_b: torch.Tensor
    plan: torch.Tensor | None = None


def _iterate_on_numpy(cost: torch.Tensor, grad: str) -> bool:
    """Detached float CPU costs: the iterations run on numpy views of them."""
    return grad == "envelope" and cost.device.type == "cpu" and cost.dtype in (torch.float32, torch.float64)


def _problems(costs, a, b, xp) -> list[_Problem]:
    log_a, log_b = xp.log(a), xp.log(b)
    positive = bool((a > 0).all()) and bool((b > 0).all())
    specs = [("xy", a, b, log_a, log_b, False), ("xx", a, a, log_a, log_a, True),
             ("yy", b, b, log_b, log_b, True)]
    return [_Problem(name, c, wa, wb, sym, 0 * c[:, 0], 0 * c[0], la, lb, positive, -wa, -wb)
            for (name, wa, wb, la, lb, sym), c in zip(specs, costs)]


def _eps_schedule(diameter: float, eps: float, scaling: float) -> list[float]:
    """``diameter * scaling**k`` for ``k = 0, 1, ...`` while above ``eps``, then ``eps``."""
    if not diameter > eps:
        return [eps]
    n_levels = math.ceil(math.log(diameter / eps) / math.log(1.0 / scaling))
    return [diameter * scaling ** k for k in range(n_levels)] + [eps]


def _kernel(p: _Problem, eps: float, floor: float, xp) -> torch.Tensor:
    r""":math:`e^{(f_i + g_j - C_{ij})/\varepsilon}`, its exponent floored at ``floor`` (the log of the
    smallest normal number: entries below are negligible next to a row's largest, and subnormals are
    slow on CPUs)."""
    g = p.f if p.symmetric else p.g
    return xp.exp(xp.clamp_min((p.f.reshape(-1, 1) + g.reshape(1, -1) - p.cost) * (1.0 / eps), floor))


def _scaled_iterations(problems: list[_Problem], schedule: list[float], tol: float, max_iter: int,
                       floor: float, xp):
    """Scaling iterations on kernels rebuilt around the potentials at each ε (log-domain stabilised).

    The scalings are kept multiplied by their marginals (``ua = a u``, ``vb = b v``): one division
    per update. A problem whose violation is below ``tol`` is frozen at its measured plan. Returns
    the solver's summary, or None when a number over- or underflowed.
    """
    n_iter, errors = 0, [math.inf] * len(problems)
    for level, eps in enumerate(schedule):
        final = level == len(schedule) - 1
        kernels = [_kernel(p, eps, floor, xp) for p in problems]
        transposed = [K.T for K in kernels]
        scalings = [[p.a, p.b] for p in problems]  # u = v = 1 around the absorbed potentials
        active = list(range(len(problems)))
        relaxation = _Overrelaxation(enabled=final and problems[0].positive)
        while active and n_iter < max_iter:
            n_iter += 1
            omega = relaxation.omega
            pending, checks, owners = {}, [], []
            for i in active:
                p, K, sc = problems[i], kernels[i], scalings[i]
                if p.symmetric:  # log u <- (log u - log K(a u)) / 2
                    q = K @ sc[0]
                    checks.append(sc[0] * q + p.neg_a)  # row (= column) marginal violation
                    owners.append(i)
                    pending[i] = xp.sqrt(sc[0] / q * p.a)
                else:
                    k_v = K @ sc[1]
                    sc[0] = _relax(sc[0], p.a / k_v, omega)
                    kt_u = transposed[i] @ sc[0]
                    # violations of the plan (new u, old v): its columns, and its rows when over-relaxed
                    checks.append(sc[1] * kt_u + p.neg_b)
                    owners.append(i)
                    if omega != 1.0:
                        checks.append(sc[0] * k_v + p.neg_a)
                        owners.append(i)
                    pending[i] = _relax(sc[1], p.b / kt_u, omega)
            if final:
                measured = xp.norms(checks)
                if not all(math.isfinite(e) for e in measured):
                    return None
                for i in list(active):
                    errors[i] = max(e for j, e in zip(owners, measured) if j == i)
                    if not problems[i].symmetric:
                        relaxation.update(errors[i])
                    if errors[i] < tol:  # frozen at the plan just measured
                        active.remove(i)
                        pending.pop(i)
            for i, new in pending.items():
                if problems[i].symmetric:
                    scalings[i] = [new, new]
                else:
                    scalings[i][1] = new
            if not final:
                break
        if final or n_iter >= max_iter:
            for p, K, (ua, vb) in zip(problems, kernels, scalings):
                p.plan = K * ua.reshape(-1, 1) * vb.reshape(1, -1)
        _absorb(problems, scalings, eps, xp)
        if n_iter >= max_iter:
            break
    if not all(xp.all_finite(p.plan) for p in problems):
        return None
    error = max(errors)
    return _summary(problems, n_iter, error, error < tol)


def _relax(old, new, omega):
    """``log old + omega (log new - log old)`` on scalings."""
    return new if omega == 1.0 else old ** (1.0 - omega) * new ** omega


class _Overrelaxation:
    r"""Adaptive over-relaxation factor :math:`\omega` of the cross problem's alternating updates.

    Near the fixed point the alternating update contracts the error by a rate
    :math:`\lambda = \mu^2`. Relaxed by :math:`\omega` its rate :math:`\rho` obeys Young's relation
    :math:`(\rho + \omega - 1)^2 = \rho\,\omega^2\mu^2` (two blocks), minimised by
    :math:`\omega^* = 2 / (1 + \sqrt{1 - \mu^2})` (Thibault et al. 2017; Lehmann et al. 2021).
    Every ``every`` iterations :math:`\mu^2` is re-estimated from the observed :math:`\rho`; a
    growing error resets :math:`\omega` to 1 for good.
    """

    every, max_omega = 3, 1.8

    def __init__(self, enabled: bool):
        self.omega, self.enabled, self.history = 1.0, enabled, []

    def update(self, error: float) -> None:
        self.history.append(error)
        if not self.enabled or len(self.history) <= self.every or len(self.history) % self.every:
            return
        rho = (error / self.history[-1 - self.every]) ** (1.0 / self.every)
        if not 0.0 < rho < 1.0:
            self.omega, self.enabled = 1.0, False
            return
        mu2 = min(((rho + self.omega - 1.0) / (self.omega * math.sqrt(rho))) ** 2, 0.9999)
        self.omega = min(2.0 / (1.0 + math.sqrt(1.0 - mu2)), self.max_omega)


def _absorb(problems: list[_Problem], scalings, eps: float, xp) -> None:
    """Move the scalings into the potentials: ``f += eps log u`` (0 where a weight is 0)."""
    for p, (ua, vb) in zip(problems, scalings):
        if p.positive:
            log_u, log_v = xp.log(ua) - p.log_a, xp.log(vb) - p.log_b
        else:
            with np.errstate(invalid="ignore"):  # -inf - -inf where a weight is 0, masked below
                log_u, log_v = xp.log(ua) - p.log_a, xp.log(vb) - p.log_b
            log_u, log_v = xp.where(p.a > 0, log_u, 0.0), xp.where(p.b > 0, log_v, 0.0)
        p.f = p.f + eps * log_u
        p.g = p.f if p.symmetric else p.g + eps * log_v


def _softmin(eps: float, cost: torch.Tensor, h: torch.Tensor, w: torch.Tensor, dim: int) -> torch.Tensor:
    r""":math:`-\varepsilon\log\sum_j w_j e^{(h_j - C_{ij})/\varepsilon}`, over ``dim`` (1: rows, 0: columns)."""
    z = (h / eps + w.log()).unsqueeze(1 - dim) - cost / eps
    return -eps * torch.logsumexp(z, dim=dim)


def _marginal_error(w: torch.Tensor, h_old: torch.Tensor, h_new: torch.Tensor, eps: float) -> torch.Tensor:
    r""":math:`\lVert w\,(e^{(h_\mathrm{old} - h_\mathrm{new})/\varepsilon} - 1)\rVert_2`: the marginal violation
    of the plan built from ``h_old``, on the side whose softmin is ``h_new``."""
    ratio = torch.where(w > 0, torch.expm1((h_old - h_new) / eps), torch.zeros_like(w))
    return torch.linalg.vector_norm(w * ratio)


def _log_iterations(problems: list[_Problem], schedule: list[float], tol: float, max_iter: int) -> dict:
    """The same updates on the potentials, in the log domain (every step a log-sum-exp)."""
    error, converged, eps = math.inf, False, schedule[0]
    for n_iter in range(1, max_iter + 1):
        eps = schedule[min(n_iter, len(schedule)) - 1]
        updates, errors = [], []
        for p in problems:
            if p.symmetric:
                t = _softmin(eps, p.cost, p.f, p.a, dim=1)
                errors.append(_marginal_error(p.a, p.f, t, eps))
                updates.append(0.5 * (p.f + t))
            else:
                f = _softmin(eps, p.cost, p.g, p.b, dim=1)
                g = _softmin(eps, p.cost, f, p.a, dim=0)
                errors.append(_marginal_error(p.b, p.g, g, eps))
                updates.append((f, g))
        if n_iter >= len(schedule):
            error = float(torch.stack(errors).max())
            if error < tol:
                for p, upd in zip(problems, updates):
                    if not p.symmetric:
                        p.f = upd[0]
                converged = True
                break
        for p, upd in zip(problems, updates):
            p.f, p.g = (upd, upd) if p.symmetric else upd
    for p in problems:
        p.plan = ((p.f[:, None] + p.g[None, :] - p.cost) / eps + p.a.log()[:, None] + p.b.log()[None, :]).exp()
    return _summary(problems, n_iter, error, converged)


def _summary(problems: list[_Problem], n_iter: int, error: float, converged: bool) -> dict:
    out = {"n_iter": n_iter, "marginal_error": error, "converged": converged}
    for p in problems:
        if p.symmetric:
            out[f"p_{p.name[0]}"] = p.f
        else:
            out.update(f=p.f, g=p.g)
    return out


def symmetric_sinkhorn(cost_xy, a, b, eps: float, *, cost_xx=None, cost_yy=None, scaling: float = 0.25,
                       tol: float = 1e-6, max_iter: int = 1000, grad: str = "envelope") -> dict:
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
      iterations at ``eps`` until every marginal violation is below ``tol``.

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
    iterations above are run instead. On the CPU (``grad="envelope"``) the loop runs on numpy
    views of the detached costs: the work is many calls on short vectors.

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

    Thibault, A., Chizat, L., Dossal, C. & Papadakis, N. (2017). Overrelaxed
    Sinkhorn-Knopp algorithm for regularized optimal transport. arXiv:1711.01851.

    Lehmann, T., von Renesse, M.-K., Sambale, A. & Uschmajew, A. (2022). A note
    on overrelaxation in the Sinkhorn algorithm. Optim. Lett. 16.
    """

    _check_choice(grad, "grad", _GRADS)
    if (cost_xx is None) != (cost_yy is None):
        raise ValueError("cost_xx and cost_yy must be given together (the two self terms) or not at all")
    originals = [cost_xy] if cost_xx is None else [cost_xy, cost_xx, cost_yy]
    with torch.set_grad_enabled(grad == "autodiff" and torch.is_grad_enabled()):
        costs = [c.detach() for c in originals] if grad == "envelope" else originals
        diameter = float(torch.stack([c.detach().max() for c in costs]).max())
        schedule = _eps_schedule(diameter, eps, scaling)
        floor = math.log(torch.finfo(cost_xy.dtype).tiny) + 1.0
        on_numpy = _iterate_on_numpy(cost_xy, grad)
        xp = _NumpyOps if on_numpy else _TorchOps
        arrays = ([c.numpy() for c in costs], a.detach().numpy(), b.detach().numpy()) if on_numpy else (costs, a, b)
        problems = _problems(*arrays, xp)
        out = _scaled_iterations(problems, schedule, tol, max_iter, floor, xp)
        if out is None:  # a scaling over- or underflowed: the same iterations in the log domain
            problems = _problems(costs, a, b, _TorchOps)
            out = _log_iterations(problems, schedule, tol, max_iter)
        elif on_numpy:
            out = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in out.items()}
            for p in problems:
                p.plan = torch.from_numpy(p.plan)
    for problem, cost in zip(problems, originals):
        out[f"plan_{problem.name}"] = problem.plan
        out[f"w_{problem.name}"] = (problem.plan * cost).sum()
    return out

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
                        tol: float = 1e-6, max_iter: int = 1000, grad: str = "envelope",
                        log: bool = False):
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
    scaling, tol, max_iter, grad
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
    _check_positive(tol, "tol")
    check_positive_int(max_iter, "max_iter")
    if debiased not in (True, False):
        raise ValueError(f"debiased must be True or False, got {debiased!r}")
    a = _check_weights(a, "a", x.shape[0], x)
    b = _check_weights(b, "b", y.shape[0], x)
    if not math.isclose(float(a.sum()), float(b.sum()), rel_tol=1e-6):
        raise ValueError(f"a and b must have the same total mass, got {float(a.sum())} and {float(b.sum())}")
    value, res = _divergence_of_points(x, y, a, b, eps, debiased=debiased, scaling=scaling, tol=tol,
                                       max_iter=max_iter, grad=grad)
    return (value, res) if log else value


def _pooled_sq_dists(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared distances of ``[x; y]`` to itself: the blocks are the three costs of the divergence."""
    return pairwise_sq_dists(torch.cat([x, y]))


def _divergence_of_points(x, y, a, b, eps: float, *, debiased: bool, scaling: float, tol: float,
                          max_iter: int, grad: str, pooled=None):
    """:func:`sinkhorn_divergence` on checked inputs; ``pooled``: their :func:`_pooled_sq_dists`, if known."""
    n = x.shape[0]
    if grad == "autodiff":
        pooled = _pooled_sq_dists(x, y)
    elif pooled is None:
        with torch.no_grad():
            pooled = _pooled_sq_dists(x, y)
    self_costs = dict(cost_xx=pooled[:n, :n], cost_yy=pooled[n:, n:]) if debiased else {}
    res = symmetric_sinkhorn(pooled[:n, n:], a, b, eps, scaling=scaling, tol=tol, max_iter=max_iter,
                             grad=grad, **self_costs)
    value = res["w_xy"] - 0.5 * (res["w_xx"] + res["w_yy"]) if debiased else res["w_xy"]
    if grad == "envelope" and (x.requires_grad or y.requires_grad) and torch.is_grad_enabled():
        plans = (res["plan_xy"], res.get("plan_xx"), res.get("plan_yy"))
        value = _EnvelopeTransportCost.apply(x, y, value.detach(), *plans)
    return value, res


class _EnvelopeTransportCost(torch.autograd.Function):
    r"""The value :math:`\langle P, C_{xy}\rangle - \tfrac12\langle P_x, C_{xx}\rangle
    - \tfrac12\langle P_y, C_{yy}\rangle` for fixed plans, with its gradient in closed form.

    With :math:`C_{ij} = \lVert x_i - y_j\rVert^2`, row sums :math:`r = P\mathbf 1`, column sums
    :math:`c = P^\top\mathbf 1` and symmetric self plans,

    .. math:: \nabla_x = 2\big(r \odot x - P y\big) - 2\big(r_x \odot x - P_x x\big), \qquad
              \nabla_y = 2\big(c \odot y - P^\top x\big) - 2\big(r_y \odot y - P_y y\big),

    four products of the plans with the features, against six through three distance matrices.
    """

    @staticmethod
    def forward(ctx, x, y, value, plan_xy, plan_xx, plan_yy):
        ctx.save_for_backward(x, y, plan_xy, plan_xx, plan_yy)
        return value.clone()

    @staticmethod
    def backward(ctx, grad_out):
        x, y, plan, plan_x, plan_y = ctx.saved_tensors
        plan, xd, yd = plan.to(x.dtype), x.detach(), y.detach()
        grad_x = plan.sum(1, keepdim=True) * xd - plan @ yd
        grad_y = plan.sum(0).unsqueeze(1) * yd - plan.T @ xd
        if plan_x is not None:
            plan_x, plan_y = plan_x.to(x.dtype), plan_y.to(y.dtype)
            grad_x = grad_x - (plan_x.sum(1, keepdim=True) * xd - plan_x @ xd)
            grad_y = grad_y - (plan_y.sum(1, keepdim=True) * yd - plan_y @ yd)
        scale = 2.0 * grad_out
        return scale * grad_x, scale * grad_y, None, None, None, None
