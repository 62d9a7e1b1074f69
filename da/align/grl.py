r"""Gradient reversal layer (Ganin & Lempitsky, 2015).

.. math:: R_\lambda(x) = x, \qquad \frac{\partial R_\lambda}{\partial x} = -\lambda I

Placed between a feature extractor and a domain discriminator, one backward
pass trains the discriminator to *separate* the domains while pushing the
features to *confuse* it, i.e. the min-max game of DANN without alternating
updates.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

__all__ = ["grad_reverse", "GradientReversal"]


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lambda_):
        ctx.lambda_ = lambda_
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * -ctx.lambda_, None


def _check_lambda(lambda_) -> float:
    if isinstance(lambda_, bool) or not isinstance(lambda_, numbers.Real) or not math.isfinite(lambda_):
        raise ValueError(f"lambda_ must be a finite number, got {lambda_!r}")
    return float(lambda_)


def grad_reverse(x: torch.Tensor, lambda_: float = 1.0) -> torch.Tensor:
    r"""Identity in the forward pass; multiplies the gradient by :math:`-\lambda` backward.

    Parameters
    ----------
    x : torch.Tensor
    lambda_ : float, default 1
        Reversal strength :math:`\lambda`.

    Returns
    -------
    torch.Tensor
        A view of ``x``.

    References
    ----------
    Ganin, Y. & Lempitsky, V. (2015). Unsupervised domain adaptation by
    backpropagation. ICML.

    Examples
    --------
    >>> x = torch.ones(2, requires_grad=True)
    >>> grad_reverse(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000])
    """
    return _GradReverse.apply(x, _check_lambda(lambda_))


class GradientReversal(nn.Module):
    r"""Module form of :func:`grad_reverse` with a fixed :math:`\lambda`.

    Parameters
    ----------
    lambda_ : float, default 1
    """

    def __init__(self, lambda_: float = 1.0):
        super().__init__()
        self.lambda_ = _check_lambda(lambda_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lambda_)

    def extra_repr(self) -> str:
        return f"lambda_={self.lambda_}"
