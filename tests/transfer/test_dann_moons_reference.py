"""The trainer's shallow DANN on the two moons equals a float64 numpy reference of the authors' code
(experiments/repro/dann_moons_numpy.py; Ganin et al. 2016, JMLR, section 5.1) step by step, from the
same initial weights and the same examples; the reference's update is checked by finite differences."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from da.align import DANNLoss
from da.data import Part
from da.transfer import FeaturizerHead, finetune, mlp

from tests._repro import load_repro


ref = load_repro("dann_moons_numpy")
script = load_repro("dann_moons")


class _RowRecorder(torch.nn.Module):
    """Inputs carry their row index in a last column: strip it, and record it in training forwards."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.rows = inner, []

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            self.rows.append(x[:, -1].long().tolist())
        return self.inner(x[:, :-1])


def _with_row_index(part: Part) -> Part:
    return Part(np.c_[part.X, np.arange(len(part))].astype(np.float32), part.y)


def _params(model, dann=None) -> dict:
    lin, head = model.featurizer.inner[1][0], model.head
    out = {"W": lin.weight, "b": lin.bias, "V": head.weight, "c": head.bias}
    if dann is not None:
        out.update(u=dann.discriminator[-1].weight[0], d=dann.discriminator[-1].bias[0])
    return {k: v.detach().double().numpy() for k, v in out.items()}


def _trainer_run(adversarial: bool, epochs: int, seed: int = 0):
    """The script's protocol through finetune, recording the source and target rows of each step."""
    split = script.moons_split(seed)
    split = replace(split, **{k: _with_row_index(getattr(split, k)) for k in (
        "source_train", "source_val", "source_test", "target_train", "target_val", "target_test")})
    featurizer, head = mlp(2, (15,), 2, activation="sigmoid")
    model = FeaturizerHead(_RowRecorder(featurizer), head)
    script._authors_init(model, seed)
    init = _params(model)
    losses, dann = None, None
    if adversarial:
        dann = DANNLoss(15, hidden=(), schedule="constant", lambda_=1.0)
        torch.nn.init.zeros_(dann.discriminator[-1].weight)
        torch.nn.init.zeros_(dann.discriminator[-1].bias)
        losses = [("dann", dann, 2 * script.LAMBDA)]
    finetune(model, split, losses, epochs=epochs, batch_size=1, batch_size_target=1, source_sampling="stored",
             target_sampling="replacement", optimizer="sgd", momentum=0.0, lr=0.05, selection="last",
             log_every=0, checkpoint=False, device="cpu", seed=seed)
    return init, np.array(model.featurizer.rows), _params(model, dann)


def test_the_scripts_initial_weights_are_the_authors_for_the_seed():
    featurizer, head = mlp(2, (15,), 2, activation="sigmoid")
    model = FeaturizerHead(_RowRecorder(featurizer), head)
    script._authors_init(model, 3)
    init = _params(model)
    authors = ref.glorot_init(2, 15, 2, np.random.RandomState(3))
    for k in ("W", "V"):
        np.testing.assert_allclose(init[k], authors[k], rtol=1e-6)  # float32 copies of the float64 draws
    assert not init["b"].any() and not init["c"].any()


@pytest.mark.parametrize("adversarial", [True, False])
def test_trainer_equals_the_numpy_reference_over_300_steps(adversarial):
    init, rows, ours = _trainer_run(adversarial, epochs=2)
    assert np.array_equal(rows[:, 0], np.tile(np.arange(150), 2))  # the source in its stored order
    if adversarial:  # one target example per step, drawn with replacement (repeats within an epoch)
        assert rows.shape == (300, 2) and len(np.unique(rows[:150, 1])) < 150
        target_idx = rows[:, 1]
        # the rows the script's "reference on our draws" replays are the ones the trainer used
        assert np.array_equal(target_idx, script.trainer_target_rows(0, 2))
    else:  # no alignment, no target stream; the reference's domain regressor then touches nothing
        assert rows.shape == (300, 1)
        target_idx = np.zeros(300, dtype=int)
    data = script.moons_split(0, dtype=np.float64)
    init = {**init, "u": np.zeros(15), "d": 0.0}
    expected = ref.train(init, data.source_train.X, data.source_train.y, data.target_train.X, rows[:, 0],
                         target_idx, lr=0.05, lam=script.LAMBDA, adversarial=adversarial)
    moved = 0.0
    for k, v in ours.items():  # float32 against float64: observed differences ~6e-7
        np.testing.assert_allclose(v, expected[k], atol=1e-5, err_msg=k)
        moved = max(moved, float(np.abs(expected[k] - init[k]).max()))
    assert moved > 0.1  # 300 steps moved the weights well beyond the tolerance


def _objective(P, xs, ys, xt, lam, adversarial):
    """CE(x_s, y_s) + lam * (log o(x_s) + log(1 - o(x_t))): what the features descend."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    hs, ht = sig(P["W"] @ xs + P["b"]), sig(P["W"] @ xt + P["b"])
    z = P["V"] @ hs + P["c"]
    ce = np.log(np.exp(z).sum()) - z[ys]
    loglik = np.log(sig(P["u"] @ hs + P["d"])) + np.log(1 - sig(P["u"] @ ht + P["d"]))
    return ce + lam * loglik * adversarial, lam * loglik


def _fd_grad(f, P, k, eps=1e-6):
    g = np.zeros_like(np.asarray(P[k], dtype=float))
    for i in np.ndindex(g.shape):
        up, dn = {**P, k: np.array(P[k], dtype=float)}, {**P, k: np.array(P[k], dtype=float)}
        up[k][i] += eps
        dn[k][i] -= eps
        g[i] = (f(up) - f(dn)) / (2 * eps)
    return g


@pytest.mark.parametrize("adversarial", [True, False])
def test_reference_step_is_the_gradient_of_the_stated_objective(adversarial):
    rng = np.random.default_rng(0)
    P = {"W": rng.normal(size=(4, 2)), "b": rng.normal(size=4), "V": rng.normal(size=(3, 4)),
         "c": rng.normal(size=3), "u": rng.normal(size=4), "d": 0.3}
    Xs, Xt, ys, lr, lam = rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), np.array([2, 1]), 0.05, 6.0
    new = ref.train(P, Xs, ys, Xt, [1], [0], lr=lr, lam=lam, adversarial=adversarial)
    args = (Xs[1], ys[1], Xt[0], lam, adversarial)
    for k in ("W", "b", "V", "c"):  # the network descends CE (+ lam * log-likelihood when adversarial)
        g = _fd_grad(lambda Q: _objective(Q, *args)[0], P, k)
        np.testing.assert_allclose(new[k], P[k] - lr * g, atol=1e-8, err_msg=k)
    for k in ("u", "d"):  # the domain regressor ascends lam * log-likelihood
        g = _fd_grad(lambda Q: _objective(Q, *args)[1], P, k)
        np.testing.assert_allclose(new[k], P[k] + lr * g, atol=1e-8, err_msg=k)
