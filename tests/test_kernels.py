"""da._kernels.mean_sq_dist against a float64 double loop, and its gradient against autograd on the dense mean."""

import numpy as np
import torch

from da._kernels import mean_sq_dist, pairwise_sq_dists


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
