"""Reference oracles for a2_regularization's batch and layer normalisation.

Forward values only (float64 torch); autograd supplies the backward.
"""

from __future__ import annotations

import torch

#: The contract's defaults.
BN_EPS, BN_MOMENTUM, LN_EPS = 1e-5, 0.9, 1e-5


def _running(bn_param: dict, d: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    zeros = torch.zeros(d, dtype=like.dtype)
    mean = bn_param.get("running_mean", zeros)
    var = bn_param.get("running_var", zeros)
    return torch.as_tensor(mean, dtype=like.dtype), torch.as_tensor(var, dtype=like.dtype)


def batchnorm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict) -> torch.Tensor:
    """Batch normalisation of x (N, D): per feature, with the batch's mean and biased variance in
    training, with bn_param's running statistics (default zeros) in test mode; eps inside the root."""
    eps = bn_param.get("eps", BN_EPS)
    if bn_param["mode"] == "train":
        mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
    else:
        mean, var = _running(bn_param, x.shape[1], x)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def batchnorm_running_stats(x: torch.Tensor, bn_param: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The running (mean, var) after one training step on x:
    ``momentum * running + (1 - momentum) * batch``, with the biased batch variance."""
    momentum = bn_param.get("momentum", BN_MOMENTUM)
    mean, var = _running(bn_param, x.shape[1], x)
    batch_mean, batch_var = x.mean(dim=0), x.var(dim=0, unbiased=False)
    return momentum * mean + (1 - momentum) * batch_mean, momentum * var + (1 - momentum) * batch_var


def layernorm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, ln_param: dict) -> torch.Tensor:
    """Layer normalisation of x (N, D): each row with its own mean and biased variance."""
    eps = ln_param.get("eps", LN_EPS)
    return torch.nn.functional.layer_norm(x, (x.shape[1],), gamma, beta, eps)
