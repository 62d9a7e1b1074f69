"""Gradient reversal and progress schedules against their formulas (math.exp, explicit -lambda)."""

import math

import pytest
import torch

from da.align import GradientReversal, ganin_lambda, ganin_lr_factor, grad_reverse, make_schedule, progress


@pytest.mark.parametrize("lam", [1.0, 0.37, 0.0, 2.5])
def test_grad_reverse_gradient_is_exactly_minus_lambda_times_identity(lam):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, requires_grad=True)
    w = torch.randn(4, 3, generator=g)
    (torch.sin(x) * w).sum().backward()
    plain = x.grad.clone()
    x.grad = None
    out = grad_reverse(x, lam)
    torch.testing.assert_close(out, x, rtol=0, atol=0)  # identity forward
    (torch.sin(out) * w).sum().backward()
    assert torch.equal(x.grad, -lam * plain)
    x.grad = None
    (torch.sin(GradientReversal(lam)(x)) * w).sum().backward()
    assert torch.equal(x.grad, -lam * plain)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_ganin_lambda_matches_formula_with_math_exp(p):
    assert ganin_lambda(p) == pytest.approx(2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0, abs=1e-15)
    assert ganin_lambda(p, gamma=3.0) == pytest.approx(2.0 / (1.0 + math.exp(-3.0 * p)) - 1.0, abs=1e-15)


def test_ganin_lambda_endpoints_from_formula():
    assert ganin_lambda(0.0) == 0.0
    assert ganin_lambda(1.0) == pytest.approx(0.9999092042625951, abs=1e-15)
    assert ganin_lambda(0.5) == pytest.approx(0.9866142981514303, abs=1e-15)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_ganin_lr_factor_matches_formula(p):
    assert ganin_lr_factor(p) == pytest.approx((1.0 + 10.0 * p) ** -0.75, abs=1e-15)
    assert ganin_lr_factor(p, alpha=5.0, beta=0.5) == pytest.approx(1.0 / math.sqrt(1.0 + 5.0 * p))


def test_make_schedule_accepts_names_numbers_and_callables():
    assert make_schedule("ganin")(0.5) == ganin_lambda(0.5)
    assert make_schedule("ganin", lambda_=0.3, gamma=5.0)(0.2) == pytest.approx(0.3 * ganin_lambda(0.2, 5.0))
    assert make_schedule("constant", lambda_=0.7)(0.9) == 0.7
    assert make_schedule(0.25)(0.0) == 0.25
    assert make_schedule(lambda p: 1 - p)(0.25) == 0.75


def test_progress_is_step_over_horizon():
    assert progress(0, 10) == 0.0
    assert progress(5, 10) == 0.5
    assert progress(10, 10) == 1.0


@pytest.mark.parametrize("call", [
    lambda: progress(1, 0),  # horizon 0
    lambda: progress(11, 10),
    lambda: progress(-1, 10),
    lambda: ganin_lambda(1.5),
    lambda: ganin_lambda(-0.1),
    lambda: ganin_lambda(float("nan")),
    lambda: ganin_lr_factor(2.0),
    lambda: make_schedule("ganin")(1.01),
    lambda: make_schedule("constant")(-0.5),
    lambda: make_schedule(lambda p: float("inf"))(0.5),
    lambda: make_schedule(float("nan")),
    lambda: make_schedule(None),
    lambda: grad_reverse(torch.ones(2), float("inf")),
])
def test_bad_progress_horizon_or_schedule_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_bad_schedule_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'ganin', 'constant'"):
        make_schedule("linear")


@pytest.mark.parametrize("call, name", [
    (lambda: ganin_lambda(0.5, gamma=0.0), "gamma"),
    (lambda: ganin_lambda(0.5, gamma=True), "gamma"),
    (lambda: make_schedule("ganin", gamma=float("inf")), "gamma"),
    (lambda: ganin_lr_factor(0.5, alpha=-1.0), "alpha"),
    (lambda: ganin_lr_factor(0.5, beta=float("nan")), "beta"),
])
def test_bad_schedule_parameter_raises_value_error_naming_it(call, name):
    with pytest.raises(ValueError, match=f"^{name} must be a finite"):
        call()
