"""da._kernels.mean_sq_dist against a float64 double loop, and its gradient against autograd on the dense mean;
lower_median against torch.median and a sorted list."""

import numpy as np
import pytest
import torch

from da._kernels import lower_median, mean_sq_dist, pairwise_sq_dists


def test_mean_sq_dist_equals_the_double_loop_and_the_dense_mean_in_value_and_gradient():
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(7, 3, generator=g, dtype=torch.float64) * 2 + 1).requires_grad_()
    y = (torch.randn(4, 3, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    a, b = x.detach().numpy(), y.detach().numpy()
    loop = sum(float(((a[i] - b[j]) ** 2).sum()) for i in range(7) for j in range(4)) / 28
    value = mean_sq_dist(x, y)
    np.testing.assert_allclose(float(value.detach()), loop, rtol=1e-13)
    value.backward()
    x2, y2 = x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()
    pairwise_sq_dists(x2, y2).mean().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(y.grad.numpy(), y2.grad.numpy(), rtol=1e-11, atol=1e-14)
    assert mean_sq_dist(x.detach().float(), y.detach().float()).dtype == torch.float32


def test_mean_sq_dist_is_not_cached_between_calls():
    """Each call computes from the tensors it is given (a cache keyed on tensors would hold their graphs)."""
    x, y = torch.zeros(3, 2), torch.ones(3, 2)
    assert float(mean_sq_dist(x, y)) == 2.0
    x += 1
    assert float(mean_sq_dist(x, y)) == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 2, 7, 16384, 16385])
def test_lower_median_is_torch_median_bit_for_bit(dtype, n):
    """np.partition's pick is torch.median's element (the lower middle for an even count), ties included."""
    g = torch.Generator().manual_seed(n)
    t = torch.randn(n, generator=g, dtype=dtype)
    for values in (t, t.round(decimals=1), t.reshape(1, -1).expand(3, -1).T):  # distinct, tied, non-contiguous
        got, want = lower_median(values), torch.median(values)
        assert got.shape == () and got.dtype == dtype
        assert torch.equal(got, want)
        # an independent reference: the ((n - 1) // 2)-th order statistic of a float64 sort
        assert float(got) == sorted(values.reshape(-1).tolist())[(values.numel() - 1) // 2]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_lower_median_keeps_torch_semantics_for_nan_and_inf(bad):
    t = torch.arange(10, dtype=torch.float32)
    t[3] = bad
    got, want = lower_median(t), torch.median(t)
    assert torch.equal(got, want) or (bool(got.isnan()) and bool(want.isnan()))


def test_lower_median_falls_back_to_torch_for_other_dtypes_and_empty_input():
    t = torch.tensor([3, 1, 2, 5], dtype=torch.int64)
    assert torch.equal(lower_median(t), torch.median(t))
    h = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float16)
    assert torch.equal(lower_median(h), torch.median(h))
    assert torch.median(torch.empty(0)).isnan() and lower_median(torch.empty(0)).isnan()
