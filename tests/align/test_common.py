"""The shared call contract of every loss: dtype, scalar output, unequal batches, validation, seeding.

References: the input's own dtype/device, and the argument names the house style promises in messages.
"""

import numpy as np
import pytest
import torch

from da.align import (CDANLoss, CORALLoss, DANNLoss, InformationMaximizationLoss, JDOTLoss, MMDLoss,
                      SinkhornLoss, SlicedWassersteinLoss)

D, C = 4, 3


def _all_losses():
    return {
        "mmd": lambda: MMDLoss(),
        "mmd_biased": lambda: MMDLoss(estimator="biased"),
        "mmd_linear": lambda: MMDLoss(estimator="linear"),
        "jmmd": lambda: MMDLoss(joint=True),
        "coral": lambda: CORALLoss(),
        "sinkhorn": lambda: SinkhornLoss(reg=0.5),
        "sinkhorn_auto": lambda: SinkhornLoss(reg=0.5, scale="median", method="auto"),
        "sliced": lambda: SlicedWassersteinLoss(n_projections=16),
        "jdot": lambda: JDOTLoss(),
        "jdot_sinkhorn": lambda: JDOTLoss(solver="sinkhorn", reg=0.5),
        "dann": lambda: DANNLoss(D, hidden=(8,)),
        "cdan": lambda: CDANLoss(D, C, hidden=(8,)),
        "cdan_e_random": lambda: CDANLoss(D, C, hidden=(8,), randomized=True, random_dim=16, entropy=True),
        "infomax": lambda: InformationMaximizationLoss(n_classes=C),
    }


#: the input each loss's gradient must reach: the features, except for the losses of the target predictions alone
GRAD_INPUT = {"infomax": "logits_t"}


LOSSES = _all_losses()


def _inputs(n, m, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(fs=torch.randn(n, D, generator=g, dtype=dtype, requires_grad=True),
                ft=(torch.randn(m, D, generator=g, dtype=dtype) + 0.5).requires_grad_(),
                logits_s=torch.randn(n, C, generator=g, dtype=dtype),
                logits_t=torch.randn(m, C, generator=g, dtype=dtype, requires_grad=True),
                ys=torch.randint(0, C, (n,), generator=g), p=0.5)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scalar_in_input_dtype_and_device_with_unequal_batches(name, dtype):
    loss = LOSSES[name]().to(dtype)
    kw = _inputs(10, 7, dtype)
    fs, ft = kw.pop("fs"), kw.pop("ft")
    value = loss(fs, ft, **kw)
    assert value.shape == () and value.dtype == dtype and value.device == fs.device
    assert bool(torch.isfinite(value))
    value.backward()
    x = fs if GRAD_INPUT.get(name, "fs") == "fs" else kw[GRAD_INPUT[name]]
    assert x.grad is not None and bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().sum()) > 0
    assert loss.last_stats_ and all(type(v) is float for v in loss.last_stats_.values())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_same_seed_same_value(name):
    kw = _inputs(8, 6, torch.float64, seed=3)
    a = LOSSES[name]().to(torch.float64)(**kw)
    b = LOSSES[name]().to(torch.float64)(**kw)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_accepts_the_shared_keywords(name):
    """All keywords are accepted even when a loss ignores them; p is validated by the adversarial losses."""
    kw = _inputs(6, 6, torch.float32)
    LOSSES[name]()(kw["fs"], kw["ft"], logits_s=kw["logits_s"], logits_t=kw["logits_t"], ys=kw["ys"], p=1.0)


def _bad_cases():
    f32 = torch.float32
    x, y = torch.randn(6, D), torch.randn(5, D)
    nan = x.clone()
    nan[2, 1] = float("nan")
    inf = y.clone()
    inf[0, 0] = float("inf")
    return [
        ("fs and ft have different feature dimensions", x, torch.randn(5, D + 1)),
        ("fs must be 2-D", torch.randn(6), y),
        ("ft must be 2-D", x, torch.randn(5, D, 1)),
        ("fs contains NaN", nan, y),
        ("ft contains NaN or inf", x, inf),
        ("fs must have a floating dtype", torch.ones(6, D, dtype=torch.int64), y),
        ("fs must be a torch.Tensor", np.zeros((6, D), dtype=np.float32), y),
        ("fs and ft must share dtype", x, y.to(torch.float64)),
        ("ft is empty|ft needs at least", x, torch.randn(0, D, dtype=f32)),
    ]


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("match,fs,ft", _bad_cases())
def test_bad_features_raise_value_error_naming_the_argument(name, match, fs, ft):
    n = fs.shape[0] if fs.ndim else 0
    m = ft.shape[0] if ft.ndim else 0
    kw = dict(logits_s=torch.randn(n, C), logits_t=torch.randn(m, C), ys=torch.zeros(n, dtype=torch.long), p=0.5)
    with pytest.raises(ValueError, match=match):
        LOSSES[name]()(fs, ft, **kw)


def test_finite_features_whose_sum_overflows_are_accepted():
    """The finiteness check sums first; an overflowing sum of finite entries must still pass."""
    from da._validation import check_features as _check_features

    big = torch.full((4, D), 3e38)  # every entry finite in float32, the sum is inf
    fs, ft = _check_features(big, -big)
    assert fs is big
    bad = big.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="ft contains NaN or inf"):
        _check_features(big, bad)


@pytest.mark.parametrize("loss", [MMDLoss(), MMDLoss(estimator="linear"), CORALLoss()])
def test_batches_below_two_raise_where_two_are_needed(loss):
    with pytest.raises(ValueError, match="fs needs at least 2"):
        loss(torch.randn(1, D), torch.randn(5, D))
    with pytest.raises(ValueError, match="ft needs at least 2"):
        loss(torch.randn(5, D), torch.randn(1, D))


def test_biased_mmd_accepts_single_samples():
    assert MMDLoss(estimator="biased", bandwidth=1.0)(torch.zeros(1, D), torch.ones(1, D)).shape == ()


@pytest.mark.parametrize("loss,kwargs,match", [
    (MMDLoss(joint=True), dict(logits_s=torch.randn(6, C)), "logits_t is required"),
    (MMDLoss(joint=True), dict(logits_t=torch.randn(5, C)), "logits_s is required"),
    (MMDLoss(joint=True), dict(logits_s=torch.randn(6, C), logits_t=torch.randn(5, C + 1)), "numbers of classes"),
    (JDOTLoss(), dict(logits_t=torch.randn(5, C)), "ys is required"),
    (JDOTLoss(), dict(ys=torch.zeros(6, dtype=torch.long)), "logits_t is required"),
    (CDANLoss(D, C, hidden=(4,)), dict(logits_t=torch.randn(5, C), p=0.5), "logits_s is required"),
    (DANNLoss(D, hidden=(4,)), dict(p=1.5), "p .training progress. must be a number in"),
    (DANNLoss(D, hidden=(4,)), dict(), "p .training progress. is required"),
])
def test_missing_or_bad_side_inputs_raise_value_error(loss, kwargs, match):
    with pytest.raises(ValueError, match=match):
        loss(torch.randn(6, D), torch.randn(5, D), **kwargs)


def test_wrong_width_for_adversarial_losses():
    with pytest.raises(ValueError, match="in_features=4"):
        DANNLoss(D, hidden=(4,), schedule=1.0)(torch.randn(6, D + 1), torch.randn(5, D + 1))


@pytest.mark.parametrize("make,match", [
    (lambda: MMDLoss(estimator="quadratic"), "estimator must be one of 'unbiased', 'biased', 'linear'"),
    (lambda: MMDLoss(bandwidth=0.0), "bandwidth"),
    (lambda: MMDLoss(bandwidth=float("nan")), "bandwidth"),
    (lambda: MMDLoss(multipliers=()), "multipliers"),
    (lambda: MMDLoss(multipliers=(1, -2)), r"multipliers\[1\]"),
    (lambda: MMDLoss(joint="yes"), "joint"),
    (lambda: JDOTLoss(solver="lp"), "solver must be one of 'emd', 'sinkhorn'"),
    (lambda: JDOTLoss(alpha=-1), "alpha"),
    (lambda: JDOTLoss(reg=0), "reg"),
    (lambda: SinkhornLoss(reg=-0.1), "reg"),
    (lambda: SinkhornLoss(scale="min"), "scale must be one of 'median', 'mean', 'max'"),
    (lambda: SinkhornLoss(method="sinkhorn"), "method must be one of 'sinkhorn_log', 'auto'"),
    (lambda: SlicedWassersteinLoss(n_projections=0), "n_projections"),
    (lambda: SlicedWassersteinLoss(seed="a"), "seed"),
    (lambda: SlicedWassersteinLoss(p=0), "p must be"),
    (lambda: DANNLoss(D, schedule="cosine"), "schedule must be one of 'ganin', 'constant'"),
    (lambda: DANNLoss(0), "in_features"),
    (lambda: DANNLoss(D, hidden=(4, 0)), r"hidden\[1\]"),
    (lambda: DANNLoss(D, dropout=1.0), "dropout"),
    (lambda: DANNLoss(D, seed=1.5), "seed"),
    (lambda: CDANLoss(D, 0), "n_classes"),
    (lambda: CDANLoss(D, C, randomized="auto"), "randomized"),
    (lambda: CDANLoss(D, C, schedule="step"), "schedule must be one of"),
])
def test_bad_parameters_raise_value_error_listing_valid_values(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_constructors_store_parameters_unchanged():
    mults = [0.5, 1, 2]
    loss = MMDLoss(bandwidth=2, multipliers=mults, estimator="linear")
    assert loss.bandwidth == 2 and loss.multipliers is mults and loss.estimator == "linear"
    dann = DANNLoss(D, hidden=[8], schedule="constant", lambda_=0.5)
    assert dann.hidden == [8] and dann.schedule == "constant" and dann.lambda_ == 0.5
