r"""An independent float64 numpy reference of the authors' shallow DANN (Ganin et al. 2016, JMLR, §5.1).

Written from the update rule of the authors' released ``DANN.py``
(GRAAL-Research/domain_adversarial_neural_network), with no torch and no ``da``:
it is what ``experiments/repro/dann_moons.py`` and ``tests/transfer/test_dann_moons_reference.py``
compare the library's trainer with.

Model: hidden layer :math:`h = \sigma(W x + b)` (sigmoid), label output
:math:`\mathrm{softmax}(V h + c)`, domain regressor :math:`o = \sigma(u^\top h + d)`
(source = 1, target = 0). One step takes one source example :math:`(x_s, y_s)` and
one target example :math:`x_t` and, with all gradients taken at the current
parameters, moves

.. math::

    (W, b, V, c) &\leftarrow (W, b, V, c) - \mu\,\nabla\Big[\mathrm{CE}(x_s, y_s)
        + \lambda\,\big(\log o(x_s) + \log(1 - o(x_t))\big)\Big], \\
    (u, d) &\leftarrow (u, d) + \mu\,\lambda\,\nabla\big(\log o(x_s) + \log(1 - o(x_t))\big),

i.e. the domain regressor ascends the domain log-likelihood **summed** over the
two examples, scaled by :math:`\lambda` (its learning rate is :math:`\mu\lambda`),
and the features descend it (a reversal of coefficient :math:`\lambda`). With
``adversarial=False`` the features ignore the domain term (the authors' "NN").

The authors' protocol (:func:`authors_protocol`): ``np.random.seed(seed)``, then
Glorot-uniform :math:`W` then :math:`V` (``eps * (2 * rand(out, in) - 1)``,
``eps = sqrt(6 / (in + out))``), zero biases and a zero domain regressor; the
source is visited **in its stored order** every epoch (no shuffling) and each
step draws its target example **with replacement** (``np.random.randint``);
``maxiter`` epochs of ``len(Xs)`` steps; no model selection.
"""

from __future__ import annotations

import numpy as np

__all__ = ["glorot_init", "authors_protocol", "train", "predict"]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def glorot_init(n_in: int, n_hidden: int, n_classes: int, rs: np.random.RandomState) -> dict:
    """The authors' initial parameters, drawn from ``rs`` (W first, then V)."""
    def uniform(n_out, n_inp):
        eps = np.sqrt(6.0 / (n_inp + n_out))
        return eps * (2 * rs.rand(n_out, n_inp) - 1.0)

    W = uniform(n_hidden, n_in)
    V = uniform(n_classes, n_hidden)
    return {"W": W, "b": np.zeros(n_hidden), "V": V, "c": np.zeros(n_classes),
            "u": np.zeros(n_hidden), "d": 0.0}


def train(params: dict, Xs, ys, Xt, source_idx, target_idx, *, lr: float = 0.05, lam: float = 6.0,
          adversarial: bool = True) -> dict:
    """Sample-wise SGD from ``params`` (a copy is trained): step ``k`` uses ``Xs[source_idx[k]]``
    and ``Xt[target_idx[k]]``. Returns the trained parameters (float64)."""
    P = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    W, b, V, c, u = P["W"], P["b"], P["V"], P["c"], P["u"]
    d = float(P["d"])
    Xs, Xt = np.asarray(Xs, np.float64), np.asarray(Xt, np.float64)
    n_classes = V.shape[0]
    for i, j in zip(source_idx, target_idx):
        xs, xt = Xs[i], Xt[j]
        hs = _sigmoid(W @ xs + b)
        z = V @ hs + c
        out = np.exp(z - z.max())
        out /= out.sum()
        g_c = out - np.eye(n_classes)[ys[i]]           # d CE / d (V h + c)
        g_V = np.outer(g_c, hs)
        g_b = (V.T @ g_c) * hs * (1 - hs)
        g_W = np.outer(g_b, xs)
        ht = _sigmoid(W @ xt + b)
        os_, ot = _sigmoid(u @ hs + d), _sigmoid(u @ ht + d)
        # ascent direction of lam * (log o(xs) + log(1 - o(xt))) for the domain regressor
        a_s, a_t = lam * (1 - os_), -lam * ot
        g_d = a_s + a_t
        g_u = a_s * hs + a_t * ht
        if adversarial:  # the features descend the same log-likelihood
            gs, gt = a_s * u * hs * (1 - hs), a_t * u * ht * (1 - ht)
            g_b = g_b + gs + gt
            g_W = g_W + np.outer(gs, xs) + np.outer(gt, xt)
        W -= lr * g_W
        b -= lr * g_b
        V -= lr * g_V
        c -= lr * g_c
        u += lr * g_u
        d += lr * g_d
    P["d"] = d
    return P


def predict(params: dict, X) -> np.ndarray:
    """Predicted labels of the rows of ``X``."""
    h = _sigmoid(np.asarray(X, np.float64) @ params["W"].T + params["b"])
    return np.argmax(h @ params["V"].T + params["c"], axis=1)


def authors_protocol(Xs, ys, Xt, seed: int, *, epochs: int = 500, n_hidden: int = 15, lr: float = 0.05,
                     lam: float = 6.0, adversarial: bool = True):
    """The authors' run: seeded init, in-order source, target drawn with replacement.

    Returns ``(init, source_idx, target_idx)``, the inputs of :func:`train`, so that
    the same run can be replayed by another implementation.
    """
    rs = np.random.RandomState(seed)
    n_classes = int(np.max(ys)) + 1
    init = glorot_init(np.shape(Xs)[1], n_hidden, n_classes, rs)
    n = len(Xs)
    source_idx = np.tile(np.arange(n), epochs)
    target_idx = np.array([rs.randint(len(Xt)) for _ in range(n * epochs)])
    return init, source_idx, target_idx
