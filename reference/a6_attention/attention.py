"""Reference attention for a6_attention, in torch float64; autograd supplies the gradients.

`valid_lens` is None, (B,) or (B, Q): key positions at or beyond it are masked (weight exactly 0).
"""

import math

import torch


def key_mask(valid_lens, batch: int, queries: int, keys: int) -> torch.Tensor:
    """Boolean (B, Q, K): True where query i of batch b may attend to key j."""
    if valid_lens is None:
        return torch.ones(batch, queries, keys, dtype=torch.bool)
    lens = torch.as_tensor(valid_lens)
    lens = lens[:, None, None] if lens.dim() == 1 else lens[:, :, None]
    return (torch.arange(keys)[None, None, :] < lens).expand(batch, queries, keys)


def masked_softmax(x: torch.Tensor, valid_lens=None) -> torch.Tensor:
    """Softmax over the last axis of x (B, Q, K) with masked keys at exactly 0."""
    mask = key_mask(valid_lens, *x.shape)
    return torch.softmax(x.masked_fill(~mask, float("-inf")), dim=-1)


def dot_product_attention(q, k, v, valid_lens=None, scale: float | None = None) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(d)) v with masking; `scale` overrides 1/sqrt(d) (as in torch's sdpa)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return masked_softmax(q @ k.transpose(1, 2) * scale, valid_lens) @ v


def additive_attention(q, k, v, Wq, Wk, wv, valid_lens=None) -> torch.Tensor:
    """Bahdanau attention: score[b, i, j] = wv · tanh(q[b, i] Wq + k[b, j] Wk)."""
    features = torch.tanh((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])
    return masked_softmax(features @ wv, valid_lens) @ v


def multihead_attention(q, k, v, params, num_heads: int, valid_lens=None, scale: float | None = None) -> torch.Tensor:
    """Projections x @ W + b, heads split as (B, L, heads, E/heads), per-head scaled dot-product
    attention, heads concatenated in order, output projection."""
    B, Q, E = q.shape
    d = E // num_heads

    def split(x):
        return x.reshape(B, x.shape[1], num_heads, d).transpose(1, 2).reshape(B * num_heads, x.shape[1], d)

    qh = split(q @ params["Wq"] + params["bq"])
    kh = split(k @ params["Wk"] + params["bk"])
    vh = split(v @ params["Wv"] + params["bv"])
    lens = None if valid_lens is None else torch.repeat_interleave(torch.as_tensor(valid_lens), num_heads, dim=0)
    heads = dot_product_attention(qh, kh, vh, lens, scale)
    merged = heads.reshape(B, num_heads, Q, d).transpose(1, 2).reshape(B, Q, E)
    return merged @ params["Wo"] + params["bo"]


def positional_encoding(max_len: int, d: int) -> torch.Tensor:
    """P[i, 2j] = sin(i / 10000^(2j/d)), P[i, 2j+1] = cos(i / 10000^(2j/d)); shape (max_len, d)."""
    positions = torch.arange(max_len, dtype=torch.float64)[:, None]
    angles = positions / 10000.0 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).reshape(max_len, d)
