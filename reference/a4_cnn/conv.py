"""Reference oracles for a4_cnn: torch float64 through torch.nn.functional; autograd gives the backward.

The layer oracles take the contract's arguments (param dicts included) as tensors and plain values.
`receptive_field` and `conv_cost` are computed independently of the closed-form formulas the
students use: the receptive field by pulling a one-pixel impulse back through a stack of
convolutions, the cost by running a convolution and counting what it holds and produces.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: The contract's defaults for the normalisation layers.
EPS = 1e-5
MOMENTUM = 0.9


def conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict) -> torch.Tensor:
    """Cross-correlation of x (N, C, H, W) with w (F, C, HH, WW) plus b (F,), zero padding `pad` on
    every side, step `stride` in both directions."""
    return F.conv2d(x, w, b, stride=conv_param["stride"], padding=conv_param["pad"])


def _window(pool_param: dict) -> tuple[int, int]:
    return pool_param["pool_height"], pool_param["pool_width"]


def max_pool(x: torch.Tensor, pool_param: dict) -> torch.Tensor:
    """Maximum over each pool_height x pool_width window, windows `stride` apart, no padding.
    Where windows overlap, torch's backward adds the gradients that reach the same element."""
    return F.max_pool2d(x, _window(pool_param), stride=pool_param["stride"])


def avg_pool(x: torch.Tensor, pool_param: dict) -> torch.Tensor:
    """Mean over each pool_height x pool_width window, windows `stride` apart, no padding."""
    return F.avg_pool2d(x, _window(pool_param), stride=pool_param["stride"])


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """Mean over the spatial axes: (N, C, H, W) -> (N, C)."""
    return x.mean(dim=(2, 3))


def spatial_batchnorm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict) -> torch.Tensor:
    """Batch normalisation per channel over N, H and W: batch statistics (biased variance) in
    'train' mode, bn_param's running statistics (default zeros) in 'test' mode."""
    channels = x.shape[1]
    eps = bn_param.get("eps", EPS)
    if bn_param["mode"] == "train":
        # By hand rather than F.batch_norm, which refuses one value per channel (N = H = W = 1).
        var, mean = torch.var_mean(x, dim=(0, 2, 3), keepdim=True, correction=0)
        return gamma[:, None, None] * (x - mean) / torch.sqrt(var + eps) + beta[:, None, None]
    zeros = torch.zeros(channels, dtype=x.dtype)
    running_mean = torch.as_tensor(bn_param.get("running_mean", zeros), dtype=x.dtype)
    running_var = torch.as_tensor(bn_param.get("running_var", zeros), dtype=x.dtype)
    return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)


def spatial_batchnorm_running_stats(x: torch.Tensor, bn_param: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The running mean and variance a 'train' forward leaves in bn_param:
    momentum * running + (1 - momentum) * batch statistic, with the biased batch variance
    (torch's own batch_norm would average the unbiased one, which the contract does not)."""
    zeros = torch.zeros(x.shape[1], dtype=x.dtype)
    momentum = bn_param.get("momentum", MOMENTUM)
    var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
    running_mean = torch.as_tensor(bn_param.get("running_mean", zeros), dtype=x.dtype)
    running_var = torch.as_tensor(bn_param.get("running_var", zeros), dtype=x.dtype)
    return momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * var


def spatial_groupnorm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, G: int, gn_param: dict) -> torch.Tensor:
    """Group normalisation: per example, the C channels in G groups of C // G consecutive channels,
    statistics over each group's channels and H, W; gamma and beta have shape (1, C, 1, 1)."""
    n, channels, h, w = x.shape
    # By hand rather than F.group_norm, which refuses a group of one value (C = G, H = W = 1).
    grouped = x.reshape(n, G, channels // G, h, w)
    var, mean = torch.var_mean(grouped, dim=(2, 3, 4), keepdim=True, correction=0)
    x_hat = ((grouped - mean) / torch.sqrt(var + gn_param.get("eps", EPS))).reshape(x.shape)
    return gamma * x_hat + beta


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """How many input pixels, first to last, one output unit of a stack of convolutions sees.

    layers: (kernel, stride) from the input to the output. A 1-D input long enough for every
    layer goes through convolutions with all-ones kernels; the gradient of one output unit with
    respect to the input is non-zero exactly where that unit looks, so the extent of the non-zero
    entries is the receptive field.
    """
    length = math.prod(s for _, s in layers) * sum(k for k, _ in layers) + sum(k for k, _ in layers) + 1
    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    out = x
    for kernel, stride in layers:
        out = F.conv1d(out, torch.ones(1, 1, kernel, dtype=torch.float64), stride=stride)
    (grad,) = torch.autograd.grad(out[0, 0, 0], x)
    seen = torch.nonzero(grad[0, 0]).flatten()
    return int(seen[-1] - seen[0] + 1)


def conv_cost(in_shape: tuple[int, int, int], w_shape: tuple[int, int, int, int], stride: int, pad: int) -> dict:
    """Output shape (F, H', W'), parameter count (weights and biases) and multiply-accumulates of
    one example through a convolution, read off a torch Conv2d run on an input of that shape."""
    filters, channels, kernel_h, kernel_w = w_shape
    layer = torch.nn.Conv2d(channels, filters, (kernel_h, kernel_w), stride=stride, padding=pad, dtype=torch.float64)
    with torch.no_grad():
        out = layer(torch.zeros(1, *in_shape, dtype=torch.float64))[0]
    params = sum(p.numel() for p in layer.parameters())
    # Each output element is one dot product of the filter's C * HH * WW weights with a window.
    macs = out.numel() * layer.weight[0].numel()
    return {"out_shape": tuple(int(d) for d in out.shape), "params": int(params), "macs": int(macs)}
