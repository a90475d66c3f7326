"""Checks of the trusted a4_cnn oracles: autograd against finite differences, hand-computed values,
and the receptive field and conv cost against their textbook formulas."""

from __future__ import annotations

import math

import pytest
import torch

from dlgrade.reference.a4_cnn.conv import (avg_pool, conv, conv_cost, global_avg_pool, max_pool, receptive_field,
                           spatial_batchnorm, spatial_batchnorm_running_stats, spatial_groupnorm)

SEED = 4


def _randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _distinct(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """A permutation of well-separated values: no ties for max pooling, far beyond gradcheck's step."""
    size = math.prod(shape)
    return (torch.randperm(size, generator=gen).to(torch.float64) * 0.1).reshape(shape)


def _conv_case(gen):
    x, w, b = _randn(gen, 2, 3, 5, 4), _randn(gen, 2, 3, 3, 2), _randn(gen, 2)
    return (lambda x, w, b: conv(x, w, b, {"stride": 2, "pad": 1})), (x, w, b)


def _pool_case(pool):
    def build(gen):
        return (lambda x: pool(x, {"pool_height": 2, "pool_width": 3, "stride": 1})), (_distinct(gen, 2, 2, 4, 5),)
    return build


def _bn_case(gen):
    return (lambda x, g, b: spatial_batchnorm(x, g, b, {"mode": "train"})), (_randn(gen, 3, 2, 2, 3), _randn(gen, 2), _randn(gen, 2))


def _gn_case(gen):
    return ((lambda x, g, b: spatial_groupnorm(x, g, b, 2, {})),
            (_randn(gen, 2, 4, 2, 3), _randn(gen, 1, 4, 1, 1), _randn(gen, 1, 4, 1, 1)))


@pytest.mark.parametrize("build", [_conv_case, _pool_case(max_pool), _pool_case(avg_pool), _bn_case, _gn_case,
                                   lambda gen: (global_avg_pool, (_randn(gen, 2, 3, 2, 4),))],
                         ids=["conv", "max_pool", "avg_pool", "spatial_batchnorm", "spatial_groupnorm", "global_avg_pool"])
def test_autograd_matches_finite_differences(build):
    fn, inputs = build(torch.Generator().manual_seed(SEED))
    leaves = tuple(t.detach().clone().requires_grad_(True) for t in inputs)
    assert torch.autograd.gradcheck(fn, leaves)


def test_conv_is_cross_correlation_with_padding_on_both_sides():
    x = torch.arange(9, dtype=torch.float64).reshape(1, 1, 3, 3)
    w = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]], dtype=torch.float64)   # picks the window's top-left
    out = conv(x, w, torch.zeros(1, dtype=torch.float64), {"stride": 1, "pad": 1})
    assert out.shape == (1, 1, 4, 4)
    assert out[0, 0, 0, 0] == 0 and out[0, 0, 1, 1] == x[0, 0, 0, 0] and out[0, 0, 3, 3] == x[0, 0, 2, 2]


def test_max_pool_gradient_accumulates_where_windows_overlap():
    x = torch.tensor([[[[0.0, 1.0, 0.5], [0.2, 9.0, 0.3], [0.1, 0.4, 0.6]]]], dtype=torch.float64, requires_grad=True)
    max_pool(x, {"pool_height": 2, "pool_width": 2, "stride": 1}).sum().backward()
    assert x.grad[0, 0, 1, 1] == 4 and x.grad.sum() == 4


def test_running_statistics_use_the_biased_variance():
    x = torch.tensor([1.0, 3.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    mean, var = spatial_batchnorm_running_stats(x, {"mode": "train", "momentum": 0.5})
    assert mean.item() == 1.0 and var.item() == 0.5


def test_spatial_batchnorm_test_mode_uses_running_stats():
    x = torch.ones(1, 2, 1, 1, dtype=torch.float64)
    out = spatial_batchnorm(x, torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64),
                            {"mode": "test", "eps": 0.0, "running_mean": torch.tensor([0.0, 1.0], dtype=torch.float64),
                             "running_var": torch.tensor([4.0, 1.0], dtype=torch.float64)})
    assert out.flatten().tolist() == [0.5, 0.0]


def test_groupnorm_groups_are_consecutive_channels():
    x = torch.tensor([1.0, 3.0, 10.0, 30.0], dtype=torch.float64).reshape(1, 4, 1, 1)
    out = spatial_groupnorm(x, torch.ones(1, 4, 1, 1, dtype=torch.float64), torch.zeros(1, 4, 1, 1, dtype=torch.float64),
                            2, {"eps": 0.0})
    assert out.flatten().tolist() == [-1.0, 1.0, -1.0, 1.0]


@pytest.mark.parametrize("layers", [[(3, 1)], [(3, 1), (3, 1)], [(2, 2), (2, 2), (2, 2)], [(7, 2), (3, 2), (3, 1)],
                                    [(1, 2), (2, 1)], [(5, 4), (1, 3), (4, 2), (2, 1)]])
def test_receptive_field_is_the_textbook_formula(layers):
    size, jump = 1, 1
    for kernel, stride in layers:
        size, jump = size + (kernel - 1) * jump, jump * stride
    assert receptive_field(layers) == size


@pytest.mark.parametrize("in_shape, w_shape, stride, pad", [((3, 32, 32), (16, 3, 3, 3), 1, 1),
                                                          ((1, 7, 5), (4, 1, 3, 2), 2, 0), ((5, 8, 9), (2, 5, 4, 4), 3, 2)])
def test_conv_cost_is_the_textbook_count(in_shape, w_shape, stride, pad):
    c, h, w = in_shape
    f, _, kh, kw = w_shape
    out_h, out_w = 1 + (h + 2 * pad - kh) // stride, 1 + (w + 2 * pad - kw) // stride
    cost = conv_cost(in_shape, w_shape, stride, pad)
    assert cost == {"out_shape": (f, out_h, out_w), "params": f * c * kh * kw + f, "macs": f * c * kh * kw * out_h * out_w}
    assert all(type(v) is int for v in (*cost["out_shape"], cost["params"], cost["macs"]))
