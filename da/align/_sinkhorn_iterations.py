"""The iterations behind :func:`da.align.symmetric_sinkhorn`: scaling updates on kernels with
eps-annealing and over-relaxation, and the log-domain fallback (see that function's docstring
for the maths). These run on torch tensors (any device, autodiff); detached CPU costs with positive
weights take the same updates on numpy arrays (:mod:`da.align._sinkhorn_numpy`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from da.align._sinkhorn_numpy import _Overrelaxation, _relax, numpy_iterations


def _norms(vectors) -> list[float]:
    """The L2 norm of each vector, in one host copy."""
    if len({v.shape for v in vectors}) == 1:
        return torch.linalg.vector_norm(torch.stack(vectors), dim=1).tolist()
    return torch.stack([torch.linalg.vector_norm(v) for v in vectors]).tolist()


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
    """Detached float CPU costs: the iterations run on numpy views of them (with positive weights)."""
    return grad == "envelope" and cost.device.type == "cpu" and cost.dtype in (torch.float32, torch.float64)


def _problems(costs, a, b) -> list[_Problem]:
    log_a, log_b = torch.log(a), torch.log(b)
    positive = bool((a > 0).all()) and bool((b > 0).all())
    specs = [("xy", a, b, log_a, log_b, False), ("xx", a, a, log_a, log_a, True),
             ("yy", b, b, log_b, log_b, True)]
    return [_Problem(name, c, wa, wb, sym, 0 * c[:, 0], 0 * c[0], la, lb, positive, -wa, -wb)
            for (name, wa, wb, la, lb, sym), c in zip(specs, costs)]


def _eps_schedule(diameter: float, eps: float, scaling: float, anneal_above: float = 0.0) -> list[float]:
    """``diameter * scaling**k`` for ``k = 0, 1, ...`` while above ``eps``, then ``eps``; only ``[eps]``
    when ``diameter <= anneal_above * eps`` (see :func:`da.align.symmetric_sinkhorn`)."""
    if not diameter > max(anneal_above, 1.0) * eps:
        return [eps]
    n_levels = math.ceil(math.log(diameter / eps) / math.log(1.0 / scaling))
    return [diameter * scaling ** k for k in range(n_levels)] + [eps]


def _kernel(p: _Problem, eps: float, floor: float) -> torch.Tensor:
    r""":math:`e^{(f_i + g_j - C_{ij})/\varepsilon}`, its exponent floored at ``floor`` (the log of the
    smallest normal number: entries below are negligible next to a row's largest, and subnormals are
    slow on CPUs)."""
    g = p.f if p.symmetric else p.g
    return torch.exp(((p.f.reshape(-1, 1) + g.reshape(1, -1) - p.cost) * (1.0 / eps)).clamp_min(floor))


def _scaled_iterations(problems: list[_Problem], schedule: list[float], tol: float, max_iter: int,
                       floor: float):
    """Scaling iterations on kernels rebuilt around the potentials at each ε (log-domain stabilised).

    The scalings are kept multiplied by their marginals (``ua = a u``, ``vb = b v``): one division
    per update. A problem whose violation is below ``tol`` is frozen at its measured plan. Returns
    the solver's summary, or None when a number over- or underflowed.
    """
    n_iter, errors = 0, [math.inf] * len(problems)
    for level, eps in enumerate(schedule):
        final = level == len(schedule) - 1
        kernels = [_kernel(p, eps, floor) for p in problems]
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
                    pending[i] = torch.sqrt(sc[0] / q * p.a)
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
                measured = _norms(checks)
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
        _absorb(problems, scalings, eps)
        if n_iter >= max_iter:
            break
    if not all(bool(torch.isfinite(p.plan).all()) for p in problems):
        return None
    error = max(errors)
    return _summary(problems, n_iter, error, error < tol)


def _absorb(problems: list[_Problem], scalings, eps: float) -> None:
    """Move the scalings into the potentials: ``f += eps log u`` (0 where a weight is 0)."""
    for p, (ua, vb) in zip(problems, scalings):
        log_u, log_v = torch.log(ua) - p.log_a, torch.log(vb) - p.log_b
        if not p.positive:  # -inf - -inf where a weight is 0
            log_u, log_v = torch.where(p.a > 0, log_u, 0.0), torch.where(p.b > 0, log_v, 0.0)
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


def solve(costs, a, b, eps: float, *, scaling: float, tol: float, max_iter: int, on_numpy: bool,
          anneal_above: float = 0.0):
    """Run the eps-annealed scaling iterations on ``costs`` (cross term, then the self terms), falling
    back to log-domain iterations when a scaling over- or underflows.

    Returns ``(summary, plans, pooled)``: the solver's summary, the plans (torch tensors, in the
    order of ``costs``) and, from the numpy iterations, ``(B, B 1)``: the pooled signed plan matrix
    ``B = [[-P_xx, P_xy], [P_xy^T, -P_yy]]`` and its row sums (else None); with ``pooled``, the self
    "plans" are B's blocks, ``-P_xx`` and ``-P_yy``.
    """
    if on_numpy:
        arrays, a_np, b_np = [c.numpy() for c in costs], a.detach().numpy(), b.detach().numpy()
        on_numpy = bool(a_np.min() > 0) and bool(b_np.min() > 0)  # False for a NaN, as (a > 0).all()
    if on_numpy:
        diameter = max(float(c.max()) for c in arrays)
    else:
        diameter = float(torch.stack([c.detach().max() for c in costs]).max())
    floor = math.log(torch.finfo(costs[0].dtype).tiny) + 1.0
    # one level at eps only where its first kernel, exp(-C / eps) >= exp(-diameter / eps), is normal
    schedule = _eps_schedule(diameter, eps, scaling, min(anneal_above, -floor))
    if on_numpy:
        res = numpy_iterations(arrays, a_np, b_np, schedule, tol, max_iter, floor)
        if res is not None:
            out, pooled, row_sums = res
            out = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in out.items()}
            pooled, n = torch.from_numpy(pooled), costs[0].shape[0]
            plans = [pooled[:n, n:]] + [pooled[:n, :n], pooled[n:, n:]][:len(costs) - 1]  # self blocks: -P
            return out, plans, (pooled, torch.from_numpy(row_sums))
        out = None
    else:
        problems = _problems(costs, a, b)
        out = _scaled_iterations(problems, schedule, tol, max_iter, floor)
    if out is None:  # a scaling over- or underflowed: the same iterations in the log domain
        problems = _problems(costs, a, b)
        out = _log_iterations(problems, schedule, tol, max_iter)
    return out, [p.plan for p in problems], None
