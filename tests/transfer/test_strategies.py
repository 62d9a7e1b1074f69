"""Transfer strategies: what is frozen, re-initialised, at which LR; L2-SP against its formula."""

import pytest
import torch

from da.transfer import (FeaturizerHead, L2SPRegularizer, Strategy, discriminative_lr, finetune,
                         full_finetune, head_reinit, l2sp, linear_probe, mlp, partial)
from da.transfer.strategies import get_strategy


def _model(seed=0):
    return FeaturizerHead(*mlp(4, (16, 8), 3, seed=seed))


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_linear_probe_trains_only_the_head(split, fast):
    m = _model()
    before = _state(m)
    finetune(m, split, strategy=linear_probe(reinit=False), **fast)
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("featurizer"))
    assert not torch.equal(before["head.weight"], after["head.weight"])


def test_partial_freezes_first_blocks_and_patterns(split, fast):
    m = _model()
    before = _state(m)
    finetune(m, split, strategy=partial(blocks=1), **fast)
    after = m.state_dict()
    assert torch.equal(before["featurizer.1.0.weight"], after["featurizer.1.0.weight"])
    assert not torch.equal(before["featurizer.2.0.weight"], after["featurizer.2.0.weight"])
    m = _model()
    before = _state(m)
    finetune(m, split, strategy=partial(patterns="*.bias"), **fast)
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.endswith("bias"))
    with pytest.raises(ValueError, match="match no parameter"):
        Strategy(freeze_patterns=("nothing*",)).prepare(_model(), 1e-3)
    with pytest.raises(ValueError, match="only 2 blocks"):
        partial(blocks=3).prepare(_model(), 1e-3)


def test_head_reinit_resets_head_deterministically():
    a, b = _model(), _model()
    head0 = a.head.weight.clone()
    head_reinit().prepare(a, 1e-3, seed=5)
    head_reinit().prepare(b, 1e-3, seed=5)
    assert not torch.equal(a.head.weight, head0)
    assert torch.equal(a.head.weight, b.head.weight)


def test_discriminative_lr_groups():
    groups, reg, _ = discriminative_lr(0.1).prepare(_model(), 1e-2)
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == {"backbone": pytest.approx(1e-3), "head": pytest.approx(1e-2)}
    assert reg is None
    groups, _, _ = full_finetune().prepare(_model(), 1e-2)
    assert {g["lr"] for g in groups} == {1e-2}


def test_l2sp_matches_formula():
    m = _model()
    groups, reg, _ = l2sp(alpha=0.3, beta=0.7, reinit=True).prepare(m, 1e-3)
    assert isinstance(reg, L2SPRegularizer)
    w0 = {k: v.clone() for k, v in m.featurizer.state_dict().items()}
    assert float(reg().detach()) == pytest.approx(0.5 * 0.7 * sum(float((p.detach() ** 2).sum()) for p in m.head.parameters()))
    with torch.no_grad():
        for p in m.featurizer.parameters():
            p.add_(0.1)
    sp = sum(float(((p - w0[k]) ** 2).sum()) for k, p in m.featurizer.state_dict().items())
    new = sum(float((p.detach() ** 2).sum()) for p in m.head.parameters())
    assert float(reg().detach()) == pytest.approx(0.5 * 0.3 * sp + 0.5 * 0.7 * new, rel=1e-5)


def test_l2sp_term_is_logged_and_keeps_weights_close(split, fast):
    free, tied = _model(), _model()
    w0 = torch.cat([p.detach().flatten().clone() for p in free.featurizer.parameters()])
    finetune(free, split, **fast)
    res = finetune(tied, split, strategy=l2sp(alpha=10.0, beta=0.0), **fast)
    assert "loss/l2sp" in res.history[0]
    dist = lambda m: float(torch.linalg.norm(  # noqa: E731
        torch.cat([p.detach().flatten() for p in m.featurizer.parameters()]) - w0))
    assert dist(tied) < dist(free)


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("half")
