"""da._dropout.Dropout: its CPU mask against numpy's MT19937 (an independent generator), and
bit-identity with torch.nn.Dropout where torch's bernoulli_ takes its default (non-MKL) path."""

import numpy as np
import pytest
import torch

from da._dropout import Dropout
from da.align._adversarial import _domain_discriminator
from da.transfer.models import mlp


def _numpy_uniforms(seed: int, n: int) -> np.ndarray:
    """torch.manual_seed(seed) then torch.rand(n, dtype=float64), computed by numpy alone.

    torch's CPU generator is MT19937 seeded like numpy's legacy RandomState; a float64 uniform
    takes two 32-bit outputs (hi, lo), keeps the low 53 bits of (hi << 32) | lo and scales by 2^-53.
    """
    raw = np.random.RandomState(seed).randint(0, 2 ** 32, size=2 * n, dtype=np.uint32).astype(np.uint64)
    bits = ((raw[0::2] << np.uint64(32)) | raw[1::2]) & np.uint64(2 ** 53 - 1)
    return bits.astype(np.float64) * 2.0 ** -53


def _bernoulli_takes_the_default_path() -> bool:
    """True where ATen's bernoulli_(p) draws one float64 uniform per element (not Intel's MKL stream)."""
    g = torch.Generator().manual_seed(7)
    a = torch.empty(64).bernoulli_(0.5, generator=g)
    g.manual_seed(7)
    return torch.equal(a, (torch.rand(64, dtype=torch.float64, generator=g) < 0.5).float())


@pytest.mark.parametrize("p", [0.5, 0.1, 0.8])
def test_mask_is_numpy_mt19937_uniforms_below_one_minus_p(p):
    x = torch.randn(33, 17, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 3.0
    torch.manual_seed(2024)
    y = Dropout(p)(x)
    keep = _numpy_uniforms(2024, x.numel()).reshape(x.shape) < 1.0 - p
    expected = np.where(keep, x.numpy() * (1.0 / (1.0 - p)), 0.0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-15, atol=0)
    assert 0.2 < keep.mean() < 0.95  # the mask is not degenerate for these p


@pytest.mark.skipif(not _bernoulli_takes_the_default_path(),
                    reason="this CPU's torch bernoulli_ uses MKL's stream (Intel), so nn.Dropout's masks differ")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("p", [0.5, 0.3, 0.9])
def test_same_output_gradient_and_rng_state_as_torch_dropout(dtype, p):
    x = torch.randn(257, 131, generator=torch.Generator().manual_seed(0)).to(dtype).requires_grad_()
    results = []
    for module in (torch.nn.Dropout(p), Dropout(p)):
        torch.manual_seed(11)
        y = module(x)
        (grad,) = torch.autograd.grad((y * 1.7).sum(), x)
        results.append((y.detach(), grad, torch.get_rng_state(), torch.rand(3)))
    (y0, g0, s0, r0), (y1, g1, s1, r1) = results
    assert y1.dtype == dtype
    assert torch.equal(y0, y1) and torch.equal(g0, g1)
    assert torch.equal(s0, s1) and torch.equal(r0, r1)  # the generator advanced by the same draws


@pytest.mark.skipif(not _bernoulli_takes_the_default_path(),
                    reason="this CPU's torch bernoulli_ uses MKL's stream (Intel), so nn.Dropout's masks differ")
def test_cdan_discriminator_and_mlp_train_as_with_torch_dropout():
    """The two users of Dropout (discriminators, mlp) give nn.Dropout's gradients bit for bit."""
    for build in (lambda: _domain_discriminator(12, (16,), 0.5), lambda: mlp(12, (16, 8), 3, dropout=0.3)[0]):
        grads = []
        for swap in (False, True):
            torch.manual_seed(0)
            net = build()
            ours = [(parent, name) for parent in net.modules() for name, child in parent.named_children()
                    if isinstance(child, Dropout)]
            assert ours
            if swap:
                for parent, name in ours:
                    setattr(parent, name, torch.nn.Dropout(getattr(parent, name).p))
            torch.manual_seed(5)
            net(torch.randn(40, 12)).square().sum().backward()
            grads.append([q.grad.clone() for q in net.parameters()])
        assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_eval_mode_zero_p_inplace_and_p_one():
    x = torch.randn(5, 4)
    module = Dropout(0.5).eval()
    assert module(x) is x or torch.equal(module(x), x)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    assert torch.equal(Dropout(0.0)(x), x) and torch.equal(torch.get_rng_state(), state)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
    y = x.clone()
    torch.manual_seed(3)
    Dropout(0.5, inplace=True)(y)
    torch.manual_seed(3)
    assert torch.equal(y, torch.nn.functional.dropout(x, 0.5, training=True))
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.5)
