"""Checks of the trusted a2_regularization oracles: autograd against finite differences, values
against torch's own layers, and the initialisers' distributions against torch.nn.init."""

from __future__ import annotations

import math

import pytest
import torch

from dlgrade.reference.a2_regularization.dropout import dropout
from dlgrade.reference.a2_regularization.init import compute_fans, initializer_distribution
from dlgrade.reference.a2_regularization.normalization import batchnorm, batchnorm_running_stats, layernorm

SEED = 1234


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


def _randn(gen, *shape, scale=1.0):
    return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_batchnorm_gradients_match_finite_differences(mode):
    gen = _gen()
    bn_param = {"mode": mode, "eps": 1e-3, "running_mean": _randn(gen, 4), "running_var": 1 + _randn(gen, 4).abs()}
    inputs = tuple(t.requires_grad_() for t in (_randn(gen, 5, 4, scale=2.0), _randn(gen, 4), _randn(gen, 4)))
    assert torch.autograd.gradcheck(lambda x, g, b: batchnorm(x, g, b, bn_param), inputs)


def test_layernorm_gradients_match_finite_differences():
    gen = _gen()
    inputs = tuple(t.requires_grad_() for t in (_randn(gen, 3, 5, scale=2.0), _randn(gen, 5), _randn(gen, 5)))
    assert torch.autograd.gradcheck(lambda x, g, b: layernorm(x, g, b, {}), inputs)


def test_batchnorm_matches_torch_and_the_contracts_running_statistics():
    gen = _gen()
    x, gamma, beta = _randn(gen, 6, 3, scale=2.0), _randn(gen, 3), _randn(gen, 3)
    mean, var = _randn(gen, 3), 1 + _randn(gen, 3).abs()
    # torch's momentum is the weight of the NEW value; its running variance is the unbiased one.
    want = torch.nn.functional.batch_norm(x, mean.clone(), var.clone(), gamma, beta, training=True, momentum=0.2, eps=1e-4)
    bn_param = {"mode": "train", "eps": 1e-4, "momentum": 0.8, "running_mean": mean, "running_var": var}
    assert torch.allclose(batchnorm(x, gamma, beta, bn_param), want)
    new_mean, new_var = batchnorm_running_stats(x, bn_param)
    assert torch.allclose(new_mean, 0.8 * mean + 0.2 * x.mean(0))
    assert torch.allclose(new_var, 0.8 * var + 0.2 * x.var(0, unbiased=False))
    test = batchnorm(x, gamma, beta, {**bn_param, "mode": "test"})
    assert torch.allclose(test, torch.nn.functional.batch_norm(x, mean, var, gamma, beta, training=False, eps=1e-4))
    zeros = batchnorm_running_stats(x, {"mode": "train"})  # defaults: momentum 0.9, zero running statistics
    assert torch.allclose(zeros[0], 0.1 * x.mean(0)) and torch.allclose(zeros[1], 0.1 * x.var(0, unbiased=False))


def test_layernorm_normalises_each_example():
    x = _randn(_gen(), 4, 6, scale=3.0)
    out = layernorm(x, torch.ones(6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64), {"eps": 0.0})
    assert torch.allclose(out.mean(1), torch.zeros(4, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(out.var(1, unbiased=False), torch.ones(4, dtype=torch.float64))


def test_dropout_scales_the_kept_units_and_is_the_identity_in_test_mode():
    x = _randn(_gen(), 3, 4).requires_grad_()
    mask = (torch.arange(12).reshape(3, 4) % 3 == 0).double()
    out = dropout(x, mask, 0.25)
    assert torch.equal(out, x * mask * 4)
    (dx,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(dx, mask * 4)
    assert torch.equal(dropout(x, mask, 0.25, "test"), x)


@pytest.mark.parametrize("shape", [(16, 3, 3, 5), (8, 2, 1, 1), (5, 7, 2, 3)])
def test_conv_fans_match_torch(shape):
    assert compute_fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_dense_fans_are_torchs_for_the_transposed_weight():
    assert compute_fans((7, 3)) == (7, 3) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(3, 7))


@pytest.mark.parametrize("name, torch_init", [
    ("xavier_uniform", torch.nn.init.xavier_uniform_),
    ("xavier_normal", torch.nn.init.xavier_normal_),
    ("kaiming_uniform", lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")),
    ("kaiming_normal", lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")),
])
def test_initialiser_distributions_match_torch(name, torch_init):
    shape = (64, 32, 3, 3)  # a convolution: the fans agree with torch's
    torch.manual_seed(SEED)
    w = torch_init(torch.empty(shape, dtype=torch.float64))
    variance, bound = initializer_distribution(name, shape)
    # 18 432 draws: the sample variance is within 5% with overwhelming probability (fixed seed).
    assert math.isclose(float(w.pow(2).mean()), variance, rel_tol=0.05)
    if bound is not None:
        assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound
