"""DANNLoss and CDANLoss against the same computation written out without gradient reversal."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from da.align import CDANLoss, DANNLoss, ganin_lambda


def _feats(n=6, m=9, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    fs = torch.randn(n, d, generator=g, dtype=dtype, requires_grad=True)
    ft = (torch.randn(m, d, generator=g, dtype=dtype) + 1.0).requires_grad_()
    return fs, ft


def _plain_bce(disc, x, n):
    """Balanced BCE with logits, no reversal: 1/2 (mean_s BCE(D, 1) + mean_t BCE(D, 0))."""
    z = disc(x).squeeze(-1)
    return 0.5 * (F.binary_cross_entropy_with_logits(z[:n], torch.ones_like(z[:n]))
                  + F.binary_cross_entropy_with_logits(z[n:], torch.zeros_like(z[n:])))


def test_dann_discriminator_ends_in_one_raw_logit():
    loss = DANNLoss(5, hidden=(16, 8))
    last = list(loss.discriminator.children())[-1]
    assert isinstance(last, nn.Linear) and last.out_features == 1
    assert not any(isinstance(mod, (nn.Sigmoid, nn.Softmax, nn.LogSoftmax)) for mod in loss.discriminator.modules())
    fs, _ = _feats()
    disc = loss.to(torch.float64).discriminator
    out = disc(fs)
    assert out.shape == (6, 1)
    torch.testing.assert_close(out, last(disc[:-1](fs)), rtol=0, atol=0)  # nothing after the last Linear


def test_dann_value_and_gradients_match_plain_bce_with_reversed_feature_gradient():
    """Discriminator gradient = that of the plain BCE; feature gradient = -lambda times it."""
    fs, ft = _feats()
    loss = DANNLoss(5, hidden=(16,)).to(torch.float64)
    p = 0.3
    lam = 2.0 / (1.0 + math.exp(-10 * p)) - 1.0
    value = loss(fs, ft, p=p)
    value.backward()
    grads = [q.grad.clone() for q in loss.discriminator.parameters()]
    gfs, gft = fs.grad.clone(), ft.grad.clone()
    loss.zero_grad()
    fs.grad = ft.grad = None
    ref = _plain_bce(loss.discriminator, torch.cat([fs, ft]), 6)
    ref.backward()
    torch.testing.assert_close(value, ref)
    for a, b in zip(grads, loss.discriminator.parameters()):
        torch.testing.assert_close(a, b.grad)
    torch.testing.assert_close(gfs, -lam * fs.grad)
    torch.testing.assert_close(gft, -lam * ft.grad)
    assert float(gfs.abs().sum()) > 0 and float(gft.abs().sum()) > 0
    assert loss.last_stats_["lambda"] == pytest.approx(lam)
    assert loss.last_stats_["disc_loss"] == pytest.approx(ref.item())


def test_dann_sgd_step_on_features_raises_discriminator_bce():
    """Regression: with the discriminator fixed, one step along the reversed gradient confuses it."""
    fs, ft = _feats(n=16, m=16, seed=3)
    loss = DANNLoss(5, hidden=(32,), schedule="constant").to(torch.float64)
    before = _plain_bce(loss.discriminator, torch.cat([fs, ft]), 16).item()
    loss(fs, ft).backward()
    assert float(fs.grad.norm()) > 0 and float(ft.grad.norm()) > 0
    with torch.no_grad():
        fs2, ft2 = fs - 0.1 * fs.grad, ft - 0.1 * ft.grad
    after = _plain_bce(loss.discriminator, torch.cat([fs2, ft2]), 16).item()
    assert after > before


def test_dann_disc_accuracy_counts_positive_source_and_negative_target_logits():
    fs, ft = _feats()
    loss = DANNLoss(5, hidden=(16,), schedule=1.0).to(torch.float64)
    loss(fs, ft)
    with torch.no_grad():
        z = loss.discriminator(torch.cat([fs, ft])).squeeze(-1)
    acc_s = (z[:6] > 0).double().mean().item()
    acc_t = (z[6:] < 0).double().mean().item()
    assert loss.last_stats_["disc_acc_s"] == pytest.approx(acc_s)
    assert loss.last_stats_["disc_acc_t"] == pytest.approx(acc_t)
    assert loss.last_stats_["disc_acc"] == pytest.approx((acc_s + acc_t) / 2)
    assert all(type(v) is float for v in loss.last_stats_.values())


def test_dann_progress_from_set_progress_or_keyword_and_schedules():
    fs, ft = _feats()
    loss = DANNLoss(5, hidden=(8,)).to(torch.float64)
    with pytest.raises(ValueError, match="p .training progress. is required"):
        loss(fs, ft)
    loss.set_progress(0.5)
    loss(fs, ft)
    assert loss.last_stats_["lambda"] == pytest.approx(ganin_lambda(0.5))
    loss(fs, ft, p=1.0)  # the keyword wins over the stored progress
    assert loss.last_stats_["lambda"] == pytest.approx(ganin_lambda(1.0))
    const = DANNLoss(5, hidden=(8,), schedule="constant", lambda_=0.2).to(torch.float64)
    const(fs, ft)
    assert const.last_stats_["lambda"] == 0.2
    custom = DANNLoss(5, hidden=(8,), schedule=lambda p: p * p).to(torch.float64)
    custom(fs, ft, p=0.5)
    assert custom.last_stats_["lambda"] == 0.25
    with pytest.raises(ValueError):
        loss(fs, ft, p=1.5)
    with pytest.raises(ValueError):
        loss.set_progress(-0.1)


def test_dann_same_seed_same_discriminator_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    a, b = DANNLoss(5, hidden=(8,), seed=4), DANNLoss(5, hidden=(8,), seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = DANNLoss(5, hidden=(8,), seed=5)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_dann_dtype_or_device_mismatch_with_discriminator_is_value_error():
    fs, ft = _feats()
    with pytest.raises(ValueError, match="loss.to"):
        DANNLoss(5, hidden=(8,))(fs, ft, p=0.5)  # float64 features, float32 discriminator


# ----------------------------------------------------------------------------- CDAN

def _logits(n, m, c, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=dtype).mul_(2).requires_grad_(),
            torch.randn(m, c, generator=g, dtype=dtype).mul_(2).requires_grad_())


def test_cdan_multilinear_map_matches_reference_bmm_outer_product():
    """Reference: CDAN's bmm(softmax.unsqueeze(2), feature.unsqueeze(1)).view(-1, C*d), then plain BCE."""
    fs, ft = _feats()
    ls, lt = _logits(6, 9, 3)
    loss = CDANLoss(5, 3, hidden=(16,), schedule="constant").to(torch.float64)
    assert not loss._use_random
    value = loss(fs, ft, logits_s=ls, logits_t=lt)
    f = torch.cat([fs, ft])
    g = torch.softmax(torch.cat([ls, lt]), 1).detach()
    op = torch.bmm(g.unsqueeze(2), f.unsqueeze(1)).view(-1, 3 * 5)
    torch.testing.assert_close(value, _plain_bce(loss.discriminator, op, 6))


def test_cdan_randomized_map_matches_reference_random_layer():
    """Reference: (f R_f) * (g R_g) / sqrt(d_r), the random layer of the CDAN code."""
    fs, ft = _feats()
    ls, lt = _logits(6, 9, 3)
    loss = CDANLoss(5, 3, hidden=(16,), randomized=True, random_dim=64, schedule="constant").to(torch.float64)
    value = loss(fs, ft, logits_s=ls, logits_t=lt)
    f = torch.cat([fs, ft])
    g = torch.softmax(torch.cat([ls, lt]), 1).detach()
    rf, rg = loss.random_matrix_f, loss.random_matrix_g
    assert rf.shape == (5, 64) and rg.shape == (3, 64) and rf.dtype == torch.float64
    op = (f @ rf) * (g @ rg) / math.sqrt(64)
    torch.testing.assert_close(value, _plain_bce(loss.discriminator, op, 6))


def test_cdan_randomizes_automatically_above_4096_dims():
    assert not CDANLoss(64, 64, hidden=(4,))._use_random  # 4096
    assert CDANLoss(65, 64, hidden=(4,))._use_random
    assert not CDANLoss(65, 64, hidden=(4,), randomized=False)._use_random


def test_cdan_entropy_weights_match_formula():
    """Reference: w = 1 + exp(-H(g)), normalised per domain, on the per-sample BCE."""
    fs, ft = _feats()
    ls, lt = _logits(6, 9, 3, seed=7)
    loss = CDANLoss(5, 3, hidden=(16,), entropy=True, schedule="constant").to(torch.float64)
    value = loss(fs, ft, logits_s=ls, logits_t=lt)
    f = torch.cat([fs, ft])
    g = torch.softmax(torch.cat([ls, lt]), 1).detach()
    h = -(g * torch.log(g)).sum(1)
    w = 1 + torch.exp(-h)
    z = loss.discriminator(torch.bmm(g.unsqueeze(2), f.unsqueeze(1)).flatten(1)).squeeze(-1)
    bce = F.binary_cross_entropy_with_logits(z, torch.cat([torch.ones(6), torch.zeros(9)]).double(),
                                             reduction="none")
    ref = 0.5 * ((w[:6] * bce[:6]).sum() / w[:6].sum() + (w[6:] * bce[6:]).sum() / w[6:].sum())
    torch.testing.assert_close(value, ref)


def test_cdan_detaches_softmax_and_reverses_feature_gradient():
    fs, ft = _feats()
    ls, lt = _logits(6, 9, 3)
    loss = CDANLoss(5, 3, hidden=(16,), entropy=True).to(torch.float64)
    loss(fs, ft, logits_s=ls, logits_t=lt, p=0.7).backward()
    assert ls.grad is None and lt.grad is None
    assert float(fs.grad.abs().sum()) > 0 and float(ft.grad.abs().sum()) > 0
    assert loss.last_stats_["lambda"] == pytest.approx(ganin_lambda(0.7))


def test_cdan_requires_logits():
    fs, ft = _feats()
    ls, lt = _logits(6, 9, 3)
    loss = CDANLoss(5, 3, hidden=(8,), schedule="constant").to(torch.float64)
    with pytest.raises(ValueError, match="logits_t is required"):
        loss(fs, ft, logits_s=ls)
    with pytest.raises(ValueError, match="logits_s is required"):
        loss(fs, ft, logits_t=lt)
    with pytest.raises(ValueError, match="n_classes"):
        loss(fs, ft, logits_s=ls[:, :2], logits_t=lt[:, :2])
    with pytest.raises(ValueError, match="rows"):
        loss(fs, ft, logits_s=ls[:5], logits_t=lt)


def test_cdan_same_seed_same_random_matrices_and_values():
    fs, ft = _feats()
    ls, lt = _logits(6, 9, 3)
    a = CDANLoss(5, 3, hidden=(8,), randomized=True, random_dim=32, seed=1).to(torch.float64)
    b = CDANLoss(5, 3, hidden=(8,), randomized=True, random_dim=32, seed=1).to(torch.float64)
    assert torch.equal(a.random_matrix_f, b.random_matrix_f)
    assert torch.equal(a(fs, ft, logits_s=ls, logits_t=lt, p=0.5), b(fs, ft, logits_s=ls, logits_t=lt, p=0.5))
