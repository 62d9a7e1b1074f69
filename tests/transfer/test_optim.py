"""make_optimizer: torch's foreach implementation, bit-identical on the CPU to the per-tensor loop;
_clip_grad_norm: bit-identical to torch.nn.utils.clip_grad_norm_."""

import pytest
import torch
from torch import nn

from da.transfer.optim import _clip_grad_norm, make_optimizer
from da.transfer.train_config import TrainConfig

_CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def _train(make, steps=30):
    """Parameters after ``steps`` steps of a seeded MLP (two groups, one with its own lr)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = make([{"params": list(net[0].parameters())},
                {"params": list(net[2].parameters()), "lr": 3e-3}])
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(32, 6, generator=g), torch.randint(0, 3, (32,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return opt, [p.detach() for p in net.parameters()]


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_foreach_optimizer_equals_the_per_tensor_loop_bit_for_bit(name, weight_decay):
    config = TrainConfig(optimizer=name, lr=1e-2, weight_decay=weight_decay, nesterov=name == "sgd")
    opt, got = _train(lambda groups: make_optimizer(config, groups))
    assert type(opt) is _CLASSES[name]
    assert all(g["foreach"] is True for g in opt.param_groups)
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 3e-3]
    kw = dict(lr=1e-2, weight_decay=weight_decay, foreach=False)
    if name == "sgd":
        kw.update(momentum=0.9, nesterov=True)
    _, want = _train(lambda groups: _CLASSES[name](groups, **kw))
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert not torch.equal(got[0], _train(lambda groups: _CLASSES[name](groups, lr=0.0, foreach=False))[1][0])


def test_unknown_optimizer_is_a_value_error():
    config = TrainConfig()
    object.__setattr__(config, "optimizer", "lbfgs")
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam, adamw, got 'lbfgs'"):
        make_optimizer(config, [{"params": [nn.Parameter(torch.zeros(2))]}])


@pytest.mark.parametrize("rel", [1e6, 2.0, 1.5, 1.0000001, 0.5, 1e-5])
@pytest.mark.parametrize("poison", [None, float("nan"), float("inf")])
def test_clip_grad_norm_equals_torch_clip_grad_norm_bit_for_bit(rel, poison):
    """max_norm = rel x the gradients' norm: far above it (skipped), just above or below it (torch's
    scaling by 1.0 or by c < 1), far below; with a NaN or an inf gradient, and with a parameter that
    has no gradient."""
    g = torch.Generator().manual_seed(2)
    shapes = [(16, 6), (16,), (3, 16), (3,), (4, 4)]
    grads = [torch.randn(s, generator=g, dtype=torch.float64 if i == 4 else torch.float32) * (i + 1)
             for i, s in enumerate(shapes)]
    max_norm = rel * float(torch.linalg.vector_norm(torch.cat([x.reshape(-1) for x in grads[:-1]])))
    if poison is not None:
        grads[1][3] = poison
    out = []
    for clip in (torch.nn.utils.clip_grad_norm_, _clip_grad_norm):
        params = [nn.Parameter(torch.zeros(s, dtype=gr.dtype)) for s, gr in zip(shapes, grads)]
        for p, gr in zip(params[:-1], grads):
            p.grad = gr.clone()
        params[-1].grad = None  # no gradient: left alone by both
        clip(params, max_norm)
        out.append([p.grad for p in params])
    for a, b in zip(*out):
        assert (a is None and b is None) or torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0))
        assert a is None or torch.equal(a.isnan(), b.isnan())
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(x) for x in grads[:-1]]))
    if poison is None and max_norm < float(total):  # it did bind: the norm is now max_norm
        clipped = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(x) for x in out[1][:-1]]))
        assert float(clipped) == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_with_mixed_dtypes_is_torch_clip_grad_norm():
    g = torch.Generator().manual_seed(3)
    grads = [torch.randn(5, 4, generator=g) * 3, torch.randn(7, generator=g, dtype=torch.float64) * 3]
    out = []
    for clip in (torch.nn.utils.clip_grad_norm_, _clip_grad_norm):
        params = [nn.Parameter(torch.zeros_like(x)) for x in grads]
        for p, x in zip(params, grads):
            p.grad = x.clone()
        clip(params, 1.0)
        out.append([p.grad for p in params])
    assert all(torch.equal(a, b) for a, b in zip(*out))
    assert float(torch.linalg.vector_norm(out[1][0])) < 1.0  # it did bind
