"""The scaling iterations of :func:`da.align.symmetric_sinkhorn` on numpy arrays: detached CPU costs
with positive weights, the case of every training step.

The updates are those of :func:`da.align._sinkhorn_iterations._scaled_iterations` (see
:func:`da.align.symmetric_sinkhorn` for the maths), written for problems of a few hundred points
solved in about ten iterations, where the time goes to calls rather than to arithmetic: a numpy
call on a vector of a few hundred entries costs about a microsecond (torch's dispatch about ten),
so the kernels are rebuilt in place in buffers allocated once per solve, and the plans are written
straight into one pooled ``(N + M, N + M)`` matrix, the blocks of ``[x; y]``'s distance matrix, which
the envelope gradient multiplies once (:class:`da.align.sinkhorn._EnvelopeTransportCost`).
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
    r""":math:`e^{(f_i + g_j - C_{ij})/\varepsilon}` written into ``out``, its exponent floored at ``floor``."""
    np.add(f[:, None], g[None, :], out=out)
    out -= cost
    out *= 1.0 / eps
    np.maximum(out, floor, out=out)
    np.exp(out, out=out)


def numpy_iterations(costs, a, b, schedule: list[float], tol: float, max_iter: int, floor: float):
    with np.errstate(all="ignore"):  # an overflow shows as a non-finite error or potential: None
        return _iterations(costs, a, b, schedule, tol, max_iter, floor)


def _iterations(costs, a, b, schedule, tol, max_iter, floor):
    """The eps-annealed scaling iterations on numpy ``costs`` (``[C_xy]`` or ``[C_xy, C_xx, C_yy]``)
    with positive weights ``a``, ``b``.

    Returns ``(summary, plans)``: the solver's summary (``n_iter``, ``marginal_error``,
    ``converged``, the potentials ``f``, ``g`` and ``p_x``, ``p_y``) and the pooled plan matrix
    ``[[P_xx, P_xy], [P_xy^T, P_yy]]`` (zero self blocks without self costs); or None when a number
    over- or underflowed (the caller then iterates in the log domain).
    """
    n, m = costs[0].shape
    plans = np.zeros((n + m, n + m), costs[0].dtype)
    blocks = [plans[:n, n:]] + ([plans[:n, :n], plans[n:, n:]] if len(costs) == 3 else [])
    rows = [a, a, b][:len(costs)]  # the row weights of each problem (a self term's columns too)
    log_rows, log_b = [np.log(w) for w in rows], np.log(b)
    f = [np.zeros(c.shape[0], c.dtype) for c in costs]  # a self term's potential is its own g
    g = np.zeros(m, costs[0].dtype)
    kernels = [np.empty_like(c) for c in costs]
    n_iter, errors = 0, [math.inf] * len(costs)
    for level, eps in enumerate(schedule):
        final = level == len(schedule) - 1
        for i, (K, cost) in enumerate(zip(kernels, costs)):
            _kernel_into(K, f[i], g if i == 0 else f[i], cost, eps, floor)
        u = list(rows)  # the scalings times their weights, around the absorbed potentials
        v = b
        active = set(range(len(costs)))
        relaxation = _Overrelaxation(enabled=final)
        while active and n_iter < max_iter:
            n_iter += 1
            omega = relaxation.omega
            new_u, measured = {}, {}
            for i in active:
                K = kernels[i]
                if i:  # self term: log u <- (log u - log K(a u)) / 2
                    q = K @ u[i]
                    if final:  # its row (= column) marginal violation
                        measured[i] = _norm(u[i] * q - rows[i])
                    new_u[i] = np.sqrt(u[i] / q * rows[i])
                    continue
                k_v = K @ v
                u[0] = _relax(u[0], a / k_v, omega)
                kt_u = K.T @ u[0]
                if final:  # the plan (new u, old v): its columns, and its rows when over-relaxed
                    measured[0] = _norm(v * kt_u - b)
                    if omega != 1.0:
                        measured[0] = max(measured[0], _norm(u[0] * k_v - a))
                new_v = _relax(v, b / kt_u, omega)
            if final:
                if not all(math.isfinite(e) for e in measured.values()):
                    return None
                for i, e in measured.items():
                    errors[i] = e
                    if i == 0:
                        relaxation.update(e)
                    if e < tol:  # frozen at the plan just measured
                        active.discard(i)
                        new_u.pop(i, None)
            for i, new in new_u.items():
                u[i] = new
            if 0 in active or not final:
                v = new_v
            if not final:
                break
        if final or n_iter >= max_iter:
            for i, (K, block) in enumerate(zip(kernels, blocks)):
                np.multiply(K, u[i][:, None], out=block)
                block *= (v if i == 0 else u[i])[None, :]
        for i in range(len(costs)):  # move the scalings into the potentials: f += eps log u
            f[i] = f[i] + eps * (np.log(u[i]) - log_rows[i])
        g = g + eps * (np.log(v) - log_b)
        if not all(math.isfinite(float(h.sum())) for h in (*f, g)):
            return None
        if n_iter >= max_iter:
            break
    if not math.isfinite(float(plans.sum())):  # nonnegative entries: a finite sum, all finite
        return None
    plans[n:, :n] = blocks[0].T  # the cross plan's transpose, for the pooled gradient
    error = max(errors)
    summary = {"n_iter": n_iter, "marginal_error": error, "converged": error < tol, "f": f[0], "g": g}
    if len(costs) == 3:
        summary.update(p_x=f[1], p_y=f[2])
    return summary, plans
