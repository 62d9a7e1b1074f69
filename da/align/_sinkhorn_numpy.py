"""The scaling iterations of :func:`da.align.symmetric_sinkhorn` on numpy arrays: detached CPU costs
with positive weights, the case of every training step.

The updates are those of :func:`da.align._sinkhorn_iterations._scaled_iterations` (see
:func:`da.align.symmetric_sinkhorn` for the maths), written for problems of a few hundred points
solved in about ten iterations, where the time goes to calls rather than to arithmetic: a numpy
call on a vector of a few hundred entries costs about a microsecond (torch's dispatch about ten),
so the kernels are rebuilt in place in buffers allocated once per solve, the two self terms are
updated as one stack when ``N = M``, and the plans are written straight into one pooled, signed
``(N + M, N + M)`` matrix ``[[-P_xx, P_xy], [P_xy^T, -P_yy]]`` (the blocks of ``[x; y]``'s distance
matrix), which the envelope gradient multiplies once (:class:`da.align.sinkhorn._EnvelopeTransportCost`).
"""

from __future__ import annotations

import math

import numpy as np


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


def _relax(old, new, omega):
    """``log old + omega (log new - log old)`` on scalings."""
    return new if omega == 1.0 else old ** (1.0 - omega) * new ** omega


def _norm(v) -> float:
    return float(np.sqrt(v @ v))  # = np.linalg.norm(v), without its argument handling


def _kernel_into(out, f, g, cost, eps: float, floor: float) -> None:
    r""":math:`e^{(f_i + g_j - C_{ij})/\varepsilon}` written into ``out`` (``f``, ``g`` shaped to broadcast:
    ``(n, 1)`` and ``(1, m)``, or stacked), its exponent floored at ``floor``."""
    np.add(f, g, out=out)
    out -= cost
    out *= 1.0 / eps
    if out.min() < floor:  # a check costs half the clamp, which is rarely needed
        np.maximum(out, floor, out=out)
    np.exp(out, out=out)


class _SelfTerms:
    """Self terms of one size, stacked: ``k`` costs ``(k, n, n)``, their weights, potentials and
    scalings ``(k, n)``, and the blocks of the pooled plan matrix their plans go to."""

    def __init__(self, costs, weights, blocks, index):
        self.cost, self.w = np.stack(costs), np.stack(weights)
        self.log_w, self.f = np.log(self.w), np.zeros_like(self.w)
        self.kernel, self.blocks, self.index = np.empty_like(self.cost), blocks, index

    def step(self, final: bool, active: list[bool], errors: list[float], tol: float):
        r"""One symmetric update, :math:`\log u \leftarrow (\log u - \log K(a u)) / 2`, of the
        terms still ``active``; at ``eps`` also their marginal violations (into ``errors``, freezing
        those below ``tol``). False when a violation is not finite."""
        q = np.matmul(self.kernel, self.u[:, :, None])[:, :, 0]
        new = np.sqrt(self.u / q * self.w)
        if final:  # the row (= column) marginal violations of the plans (old u)
            check = self.u * q - self.w
            for j, e in enumerate(np.sqrt((check * check).sum(1)).tolist()):
                if not math.isfinite(e):
                    return False
                if active[j]:
                    errors[self.index[j]] = e
                    active[j] = e >= tol  # frozen at the plan just measured
        self.u = new if all(active) else np.where(np.array(active)[:, None], new, self.u)
        return True


def numpy_iterations(costs, a, b, schedule: list[float], tol: float, max_iter: int, floor: float):
    """The eps-annealed scaling iterations on numpy ``costs`` (``[C_xy]`` or ``[C_xy, C_xx, C_yy]``)
    with positive weights ``a``, ``b``.

    Returns ``(summary, plans, row_sums)``: the solver's summary (``n_iter``, ``marginal_error``,
    ``converged``, the potentials ``f``, ``g`` and ``p_x``, ``p_y``), the pooled signed plan matrix
    ``[[-P_xx, P_xy], [P_xy^T, -P_yy]]`` (zero self blocks without self costs) and its row sums
    ``(N + M, 1)``; or None when a number over- or underflowed (the caller then iterates in the log
    domain).
    """
    with np.errstate(all="ignore"):  # an overflow shows as a non-finite error or potential: None
        return _iterations(costs, a, b, schedule, tol, max_iter, floor)


def _iterations(costs, a, b, schedule, tol, max_iter, floor):
    """The loop of :func:`numpy_iterations` (numpy warnings silenced)."""
    n, m = costs[0].shape
    plans = np.zeros((n + m, n + m), costs[0].dtype)
    cross_plan = plans[:n, n:]
    selves = []  # the self terms, stacked when N = M
    if len(costs) == 3:
        specs = [(costs[1:], [a, b], [plans[:n, :n], plans[n:, n:]], [1, 2])] if n == m else \
            [([costs[1]], [a], [plans[:n, :n]], [1]), ([costs[2]], [b], [plans[n:, n:]], [2])]
        selves = [_SelfTerms(*spec) for spec in specs]
    log_a, log_b = np.log(a), np.log(b)
    f, g = np.zeros(n, costs[0].dtype), np.zeros(m, costs[0].dtype)
    kernel = np.empty_like(costs[0])
    n_iter, errors = 0, [math.inf] * len(costs)
    for level, eps in enumerate(schedule):
        final = level == len(schedule) - 1
        if level == 0:  # zero potentials: the exponent -C / eps is in [-D / eps, 0], normal (solve's schedule)
            for K, cost in [(kernel, costs[0])] + [(s.kernel, s.cost) for s in selves]:
                np.exp(np.multiply(cost, -1.0 / eps, out=K), out=K)
        else:
            _kernel_into(kernel, f[:, None], g[None, :], costs[0], eps, floor)
            for s in selves:
                _kernel_into(s.kernel, s.f[:, :, None], s.f[:, None, :], s.cost, eps, floor)
        for s in selves:
            s.u, s.active = s.w, [True] * len(s.index)  # the scalings times their weights
        u, v, cross_active = a, b, True
        relaxation = _Overrelaxation(enabled=final)
        while (cross_active or any(any(s.active) for s in selves)) and n_iter < max_iter:
            n_iter += 1
            for s in selves:
                if any(s.active) and not s.step(final, s.active, errors, tol):
                    return None
            if not cross_active:
                continue
            omega = relaxation.omega
            k_v = kernel @ v
            u = _relax(u, a / k_v, omega)
            kt_u = kernel.T @ u
            if final:  # the plan (new u, old v): its columns, and its rows when over-relaxed
                errors[0] = _norm(v * kt_u - b)
                if omega != 1.0:
                    errors[0] = max(errors[0], _norm(u * k_v - a))
                if not math.isfinite(errors[0]):
                    return None
                relaxation.update(errors[0])
                cross_active = errors[0] >= tol  # frozen at the plan just measured
            if cross_active or not final:
                v = _relax(v, b / kt_u, omega)
            if not final:
                break
        if final or n_iter >= max_iter:
            np.multiply(kernel, u[:, None], out=cross_plan)
            cross_plan *= v[None, :]
            for s in selves:
                for K, su, block in zip(s.kernel, s.u, s.blocks):  # -P (an exact sign flip)
                    np.multiply(K, np.negative(su)[:, None], out=block)
                    block *= su[None, :]
        f, g = f + eps * (np.log(u) - log_a), g + eps * (np.log(v) - log_b)  # f += eps log u
        for s in selves:
            s.f = s.f + eps * (np.log(s.u) - s.log_w)
        if not all(math.isfinite(float(h.sum())) for h in (f, g, *(s.f for s in selves))):
            return None
        if n_iter >= max_iter:
            break
    plans[n:, :n] = cross_plan.T
    row_sums = plans.sum(1, keepdims=True)
    if not math.isfinite(float(row_sums.sum())):  # an inf or NaN entry makes the sum inf or NaN
        return None
    error = max(errors)
    summary = {"n_iter": n_iter, "marginal_error": error, "converged": error < tol, "f": f, "g": g}
    if selves:
        potentials = [p for s in selves for p in s.f]
        summary.update(p_x=potentials[0], p_y=potentials[1])
    return summary, plans, row_sums
