"""Attention layers for assignment a6_attention.

Shapes: queries ``q`` (B, Q, d), keys ``k`` (B, K, d), values ``v`` (B, K, dv).
``valid_lens`` is None (nothing masked), an integer array (B,) (one length per batch element) or
(B, Q) (one length per query), each >= 1: key positions ``j >= valid_len`` are masked and get
weight EXACTLY 0 (not a tiny number: never add or substitute a large negative constant; use
``np.where`` with ``-np.inf`` or mask after the exponential). valid_lens is not differentiable.

Conventions for every function in this file:

- a forward returns ``(out, cache)``; its backward takes ``(dout, cache)`` and returns the
  gradients of the forward's float inputs, in order, each with exactly its input's shape;
- inputs are never modified; return new arrays;
- a float32 input gives float32 arrays back;
- use numpy only.
"""

import numpy as np


def _key_mask(valid_lens, batch, queries, keys):
    """Boolean (B, Q, K): True where query i of batch b may attend to key j."""
    if valid_lens is None:
        return np.ones((batch, queries, keys), dtype=bool)
    lens = np.asarray(valid_lens)
    lens = lens[:, None, None] if lens.ndim == 1 else lens[:, :, None]
    return np.broadcast_to(np.arange(keys)[None, None, :] < lens, (batch, queries, keys))


def masked_softmax_forward(x, valid_lens):
    """Softmax over the last axis (the keys) with masking.

    ``out[b, i, j] = exp(x[b, i, j]) / sum_{j' valid} exp(x[b, i, j'])`` for valid j, and exactly 0
    for masked j (j >= valid_lens[b] or j >= valid_lens[b, i]). Must be numerically stable:
    exact and warning-free for scores up to 1e5, and masked entries stay exactly 0 whatever
    their scores (even 1e12 against valid scores of -1e12).

    Args:
        x: scores, shape ``(B, Q, K)``.
        valid_lens: None, or integers of shape ``(B,)`` or ``(B, Q)``, each >= 1.

    Returns:
        A tuple ``(out, cache)``: out has shape ``(B, Q, K)``; each row sums to 1.
    """
    ### BEGIN SOLUTION
    mask = _key_mask(valid_lens, *x.shape)
    scores = np.where(mask, x, np.array(-np.inf, dtype=x.dtype))
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    out = e / e.sum(axis=-1, keepdims=True)
    return out, (out,)
    ### END SOLUTION


def masked_softmax_backward(dout, cache):
    """Backward pass of ``masked_softmax_forward``.

    Args:
        dout: upstream gradient, shape ``(B, Q, K)``.
        cache: from ``masked_softmax_forward``.

    Returns:
        dx: gradient with respect to x, shape ``(B, Q, K)`` (exactly 0 at masked entries).
    """
    ### BEGIN SOLUTION
    (out,) = cache
    return out * (dout - (dout * out).sum(axis=-1, keepdims=True))
    ### END SOLUTION


def dot_product_attention_forward(q, k, v, valid_lens=None):
    """Scaled dot-product attention: ``softmax(q kᵀ / sqrt(d)) v``, masked over the keys.

    Args:
        q: queries ``(B, Q, d)``; k: keys ``(B, K, d)``; v: values ``(B, K, dv)``.
        valid_lens: None, ``(B,)`` or ``(B, Q)`` integers (see the module docstring).

    Returns:
        A tuple ``(out, cache)``: out ``(B, Q, dv)``.
    """
    ### BEGIN SOLUTION
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = (q @ k.transpose(0, 2, 1)) * q.dtype.type(scale)
    weights, _ = masked_softmax_forward(scores, valid_lens)
    return weights @ v, (q, k, v, weights, scale)
    ### END SOLUTION


def dot_product_attention_backward(dout, cache):
    """Backward pass of ``dot_product_attention_forward``.

    Args:
        dout: upstream gradient ``(B, Q, dv)``.
        cache: from ``dot_product_attention_forward``.

    Returns:
        A tuple ``(dq, dk, dv)`` shaped like q, k and v.
    """
    ### BEGIN SOLUTION
    q, k, v, weights, scale = cache
    dv = weights.transpose(0, 2, 1) @ dout
    dscores = masked_softmax_backward(dout @ v.transpose(0, 2, 1), (weights,)) * q.dtype.type(scale)
    return dscores @ k, dscores.transpose(0, 2, 1) @ q, dv
    ### END SOLUTION


def additive_attention_forward(q, k, v, Wq, Wk, wv, valid_lens=None):
    """Additive (Bahdanau) attention: ``score[b, i, j] = wv · tanh(q[b, i] @ Wq + k[b, j] @ Wk)``,
    masked softmax over j, then the weighted sum of the values.

    Args:
        q: queries ``(B, Q, dq)``; k: keys ``(B, K, dk)`` (dq and dk may differ); v: ``(B, K, dv)``.
        Wq: ``(dq, h)``; Wk: ``(dk, h)``; wv: ``(h,)``.
        valid_lens: None, ``(B,)`` or ``(B, Q)`` integers.

    Returns:
        A tuple ``(out, cache)``: out ``(B, Q, dv)``.
    """
    ### BEGIN SOLUTION
    features = np.tanh((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])   # (B, Q, K, h)
    weights, _ = masked_softmax_forward(features @ wv, valid_lens)
    return weights @ v, (q, k, v, Wq, Wk, wv, features, weights)
    ### END SOLUTION


def additive_attention_backward(dout, cache):
    """Backward pass of ``additive_attention_forward``.

    Returns:
        A tuple ``(dq, dk, dv, dWq, dWk, dwv)`` shaped like the forward's inputs.
    """
    ### BEGIN SOLUTION
    q, k, v, Wq, Wk, wv, features, weights = cache
    dv = weights.transpose(0, 2, 1) @ dout
    dscores = masked_softmax_backward(dout @ v.transpose(0, 2, 1), (weights,))
    dwv = np.einsum("bqk,bqkh->h", dscores, features)
    dpre = dscores[..., None] * wv * (1 - features ** 2)                    # (B, Q, K, h)
    dqh, dkh = dpre.sum(axis=2), dpre.sum(axis=1)
    dq, dk = dqh @ Wq.T, dkh @ Wk.T
    dWq = np.einsum("bqd,bqh->dh", q, dqh)
    dWk = np.einsum("bkd,bkh->dh", k, dkh)
    return dq, dk, dv, dWq, dWk, dwv
    ### END SOLUTION


def multihead_attention_forward(q, k, v, params, num_heads, valid_lens=None):
    """Multi-head attention.

    Projections ``Q = q @ Wq + bq``, ``K = k @ Wk + bk``, ``V = v @ Wv + bv`` (each ``(B, L, E)``);
    each is split into ``num_heads`` heads of size ``d = E // num_heads`` by reshaping
    ``(B, L, E) -> (B, L, num_heads, d)`` (head h is columns ``h*d .. h*d+d-1``); every head runs
    scaled dot-product attention (scale 1/sqrt(d), the same valid_lens for every head); the heads
    are concatenated back in order to ``(B, Q, E)`` and projected: ``out = concat @ Wo + bo``.

    Args:
        q: ``(B, Q, E)``; k, v: ``(B, K, E)``.
        params: dict with ``Wq, Wk, Wv, Wo`` of shape ``(E, E)`` and ``bq, bk, bv, bo`` of shape ``(E,)``.
        num_heads: divides E.
        valid_lens: None, ``(B,)`` or ``(B, Q)`` integers.

    Returns:
        A tuple ``(out, cache)``: out ``(B, Q, E)``.
    """
    ### BEGIN SOLUTION
    B, Q, E = q.shape
    d = E // num_heads

    def split(x):
        return x.reshape(B, x.shape[1], num_heads, d).transpose(0, 2, 1, 3).reshape(B * num_heads, x.shape[1], d)

    qh = split(q @ params["Wq"] + params["bq"])
    kh = split(k @ params["Wk"] + params["bk"])
    vh = split(v @ params["Wv"] + params["bv"])
    lens = None if valid_lens is None else np.repeat(np.asarray(valid_lens), num_heads, axis=0)
    heads, attention_cache = dot_product_attention_forward(qh, kh, vh, lens)
    merged = heads.reshape(B, num_heads, Q, d).transpose(0, 2, 1, 3).reshape(B, Q, E)
    out = merged @ params["Wo"] + params["bo"]
    return out, (q, k, v, params, num_heads, merged, attention_cache)
    ### END SOLUTION


def multihead_attention_backward(dout, cache):
    """Backward pass of ``multihead_attention_forward``.

    Returns:
        A tuple ``(dq, dk, dv, dparams)``: dq, dk, dv shaped like q, k, v; dparams a dict with
        exactly the keys of params, each gradient shaped like its parameter.
    """
    ### BEGIN SOLUTION
    q, k, v, params, num_heads, merged, attention_cache = cache
    B, Q, E = q.shape
    d = E // num_heads
    dparams = {"Wo": np.einsum("bqe,bqf->ef", merged, dout), "bo": dout.sum(axis=(0, 1))}
    dmerged = dout @ params["Wo"].T
    dheads = dmerged.reshape(B, Q, num_heads, d).transpose(0, 2, 1, 3).reshape(B * num_heads, Q, d)
    dqh, dkh, dvh = dot_product_attention_backward(dheads, attention_cache)
    grads = []
    for name, x, dxh in (("q", q, dqh), ("k", k, dkh), ("v", v, dvh)):
        dproj = dxh.reshape(B, num_heads, x.shape[1], d).transpose(0, 2, 1, 3).reshape(B, x.shape[1], E)
        dparams["W" + name] = np.einsum("ble,blf->ef", x, dproj)
        dparams["b" + name] = dproj.sum(axis=(0, 1))
        grads.append(dproj @ params["W" + name].T)
    return grads[0], grads[1], grads[2], dparams
    ### END SOLUTION


def positional_encoding(max_len, d):
    """Sinusoidal positional encoding (Vaswani et al.).

    ``P[i, 2j] = sin(i / 10000^(2j/d))`` and ``P[i, 2j+1] = cos(i / 10000^(2j/d))``: the columns
    come in (sin, cos) pairs, one frequency per pair.

    Args:
        max_len: number of positions (rows).
        d: encoding size, even.

    Returns:
        P: float64 array of shape ``(max_len, d)``.
    """
    ### BEGIN SOLUTION
    angles = np.arange(max_len)[:, None] / 10000.0 ** (np.arange(0, d, 2) / d)
    P = np.empty((max_len, d))
    P[:, 0::2] = np.sin(angles)
    P[:, 1::2] = np.cos(angles)
    return P
    ### END SOLUTION
