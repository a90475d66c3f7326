"""Checks of the trusted a6_attention oracles: autograd against finite differences, exact masking,
and multi-head attention against torch's own implementation."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlgrade.reference.a6_attention.attention import (additive_attention, dot_product_attention, masked_softmax, multihead_attention,
                                 positional_encoding)

GEN = torch.Generator().manual_seed(1234)
LENS = [None, torch.tensor([1, 3]), torch.tensor([[1, 3, 2], [3, 2, 1]])]


def _randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float64, requires_grad=True)


def _params(e):
    return {**{f"W{n}": _randn(e, e) for n in "qkvo"}, **{f"b{n}": _randn(e) for n in "qkvo"}}


@pytest.mark.parametrize("lens", LENS, ids=["none", "batch", "query"])
def test_autograd_matches_finite_differences(lens):
    q, k, v = _randn(2, 3, 4), _randn(2, 3, 4), _randn(2, 3, 2)
    assert torch.autograd.gradcheck(lambda x: masked_softmax(x, lens), (_randn(2, 3, 3),))
    assert torch.autograd.gradcheck(lambda *a: dot_product_attention(*a, lens), (q, k, v))
    Wq, Wk, wv = _randn(4, 5), _randn(4, 5), _randn(5)
    assert torch.autograd.gradcheck(lambda *a: additive_attention(*a, lens), (q, k, v, Wq, Wk, wv))
    params = _params(4)
    names = list(params)
    assert torch.autograd.gradcheck(
        lambda q, k, v, *p: multihead_attention(q, k, v, dict(zip(names, p)), 2, lens),
        (q, k, _randn(2, 3, 4), *params.values()))


def test_masked_entries_are_exactly_zero_even_at_huge_scores():
    x = torch.tensor([[[-1e12, 1e12, 1e12], [5.0, -3.0, 1e300]]], dtype=torch.float64, requires_grad=True)
    out = masked_softmax(x, torch.tensor([[1, 2]]))
    assert out[0, 0].tolist() == [1.0, 0.0, 0.0]
    assert out[0, 1, 2] == 0 and torch.isclose(out[0, 1].sum(), torch.tensor(1.0, dtype=torch.float64))
    (out * torch.randn(1, 2, 3, generator=GEN, dtype=torch.float64)).sum().backward()
    assert x.grad[0, 0, 1:].tolist() == [0.0, 0.0] and x.grad[0, 1, 2] == 0


def test_dot_product_attention_matches_torch_sdpa():
    q, k, v = _randn(2, 3, 4), _randn(2, 5, 4), _randn(2, 5, 3)
    lens = torch.tensor([[1, 5, 3], [2, 2, 4]])
    allowed = torch.arange(5)[None, None, :] < lens[:, :, None]
    torch.testing.assert_close(dot_product_attention(q, k, v, lens),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))


@pytest.mark.parametrize("lens", LENS[1:], ids=["batch", "query"])
def test_multihead_matches_torch_multi_head_attention_forward(lens):
    B, Q, K, E, heads = 2, 3, 3, 6, 3
    q, k, v, p = _randn(B, Q, E), _randn(B, K, E), _randn(B, K, E), _params(E)
    # torch: (L, B, E) inputs, weights applied as x @ W.T, a boolean mask that is True where NOT allowed.
    allowed = torch.arange(K)[None, None, :] < (lens[:, None, None] if lens.dim() == 1 else lens[:, :, None])
    blocked = (~allowed.expand(B, Q, K)).repeat_interleave(heads, dim=0)
    out, _ = F.multi_head_attention_forward(
        q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), E, heads,
        in_proj_weight=torch.cat([p["Wq"].T, p["Wk"].T, p["Wv"].T]), in_proj_bias=torch.cat([p["bq"], p["bk"], p["bv"]]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0, out_proj_weight=p["Wo"].T, out_proj_bias=p["bo"],
        training=False, need_weights=False, attn_mask=blocked)
    torch.testing.assert_close(multihead_attention(q, k, v, p, heads, lens), out.transpose(0, 1))


def test_positional_encoding_values():
    P = positional_encoding(5, 6)
    assert P.shape == (5, 6)
    assert P[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert math.isclose(P[3, 2], math.sin(3 / 10000 ** (2 / 6))) and math.isclose(P[4, 5], math.cos(4 / 10000 ** (4 / 6)))
