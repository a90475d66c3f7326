"""Reference layers for a1_backprop: forward values only, autograd supplies the backward."""

import torch


def affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Affine map of x flattened per example: (N, d1..dk) -> (N, D) @ w (D, M) + b (M,)."""
    return x.reshape(x.shape[0], -1) @ w + b


def relu(x: torch.Tensor) -> torch.Tensor:
    """Elementwise max(0, x); torch.relu's derivative at exactly 0 is 0, as the contract says."""
    return torch.relu(x)


def leaky_relu(x: torch.Tensor, alpha: float = 0.01) -> torch.Tensor:
    """Elementwise x for x > 0 and alpha * x for x <= 0 (derivative alpha at exactly 0)."""
    # `x > 0` (not `x >= 0`) puts the tie on the alpha branch, which fixes the derivative at 0.
    return torch.where(x > 0, x, alpha * x)


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Elementwise alpha * (exp(x) - 1) for x < 0 and x otherwise."""
    # torch.where differentiates both branches; clamping keeps exp from overflowing to inf on
    # large positive x, whose zero-weighted inf gradient would otherwise turn into nan.
    # expm1 is exp(x) - 1 without the cancellation near 0.
    negative_part = alpha * torch.expm1(torch.clamp(x, max=0))
    return torch.where(x < 0, negative_part, x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Elementwise logistic 1 / (1 + exp(-x)); torch.sigmoid stays finite for any |x|."""
    return torch.sigmoid(x)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Elementwise hyperbolic tangent."""
    return torch.tanh(x)
