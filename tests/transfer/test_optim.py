"""make_optimizer: torch's foreach implementation, bit-identical on the CPU to the per-tensor loop."""

import pytest
import torch
from torch import nn

from da.transfer.optim import make_optimizer
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
