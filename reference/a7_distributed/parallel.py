"""Trusted references for a7_distributed, in torch float64 (never shown a student's code)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


def allreduce_sum(arrays: list[np.ndarray]) -> np.ndarray:
    """The elementwise sum over ranks (exact for integers; in long double for floats)."""
    stacked = np.stack([np.asarray(a) for a in arrays])
    if stacked.dtype.kind in "iu":
        return stacked.sum(axis=0)
    return stacked.astype(np.longdouble).sum(axis=0)


def sum_tolerance(arrays: list[np.ndarray]) -> np.ndarray:
    """The rounding a correct sum of these arrays may carry, elementwise, whatever the order:
    (n - 1) roundings of partial sums, each at most eps/2 of sum |x_i|, doubled for margin."""
    stacked = np.stack([np.asarray(a) for a in arrays])
    if stacked.dtype.kind in "iu":
        return np.zeros(stacked.shape[1:])
    eps = np.finfo(stacked.dtype).eps
    return (len(arrays) - 1) * eps * np.abs(stacked.astype(np.float64)).sum(axis=0) + np.finfo(stacked.dtype).tiny


def shard_sizes(n: int, parts: int) -> list[int]:
    """Contiguous shards as equal as possible, the larger first (torch.tensor_split)."""
    return [len(s) for s in torch.tensor_split(torch.arange(n), parts)]


def sgd_step(params: list[np.ndarray], X: np.ndarray, y: np.ndarray, lr: float, loss: Callable) -> list[np.ndarray]:
    """One SGD step on the whole batch: p - lr/N * grad(summed loss), in float64. loss(params, X, y)
    is the summed loss on torch tensors: the one the student's step is given (the checker passes
    it, so that the reference and the student minimise the same function)."""
    leaves = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y) if np.asarray(y).dtype.kind in "iu" else torch.tensor(y, dtype=torch.float64)
    grads = torch.autograd.grad(loss(leaves, Xt, yt), leaves)
    return [(p - lr / X.shape[0] * g).detach().numpy() for p, g in zip(leaves, grads)]
