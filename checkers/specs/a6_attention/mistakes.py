"""Known mistakes of a6_attention: the hint texts (named, so that the tests can find them) and
the models of the results they give."""

from __future__ import annotations

from functools import partial

import numpy as np

import dlgrade.reference.a6_attention.attention as ref
from dlgrade.checkers.declare import evaluate, Mistake


# Hints (named, so that the tests can find them).
EXACT_ZERO = ("Masked entries must be EXACTLY 0: a large negative number (-1e6, -1e9) added to or put in place of "
              "masked scores leaks weight when scores are large; use np.where(mask, x, -np.inf) before exp "
              "(or multiply the exponentials by the mask).")
WRONG_MASK = ("Mask key j when j >= valid_lens[b] (shape (B,)) or j >= valid_lens[b, i] (shape (B, Q), one length "
              "per query).")
LAST_AXIS = "Normalise over the keys, the last axis (axis=-1), not over the queries."
PER_QUERY = ("valid_lens of shape (B, Q) gives each query its own length: mask key j for query i of batch b "
             "when j >= valid_lens[b, i] (use valid_lens[:, :, None], not valid_lens[:, None, None]).")
NO_SCALE = "Scale the scores by 1/sqrt(d), d the size of the queries and keys (of one head)."
HEAD_SIZE = "In multi-head attention the scale is 1/sqrt(E / num_heads), the size of one head, not of E."
INTERLEAVED = ("Split heads with x.reshape(B, L, num_heads, E // num_heads) (head h is columns h*d..h*d+d-1), "
               "not (B, L, d, num_heads), and merge them back the same way.")
SWAPPED = "Even columns are sin, odd columns cos: P[:, 0::2] = sin, P[:, 1::2] = cos."
INTERLEAVE_PE = "The columns come in (sin, cos) pairs, interleaved (P[:, 0::2], P[:, 1::2]), not sin in one half and cos in the other."
EXPONENT = "The frequency of pair j is 1/10000^(2j/d) with 2j the even column index (np.arange(0, d, 2) / d)."
ROWS_APART = ("Subtract each row's own maximum (over the keys, axis=-1, keepdims=True) before exp, not one maximum "
              "of the whole batch: a row of scores far below another's then underflows to 0/0 = NaN.")


# ---------------------------------------------------------------------------------------------
# Known mistakes


def _with_scale(reference, scale_of):
    def model(case, right, dout):
        return evaluate(partial(reference, scale=scale_of(case)), case.args).output
    return model


def _interleaved_heads(case, right, dout):
    """Heads split as (B, L, d, heads) and merged the same way: the right layout with permuted columns."""
    params, h = case.args["params"], case.args["num_heads"]
    e = params["Wq"].shape[0]
    perm = np.arange(e).reshape(e // h, h).T.reshape(-1)   # head i takes columns i, i + h, ...
    permuted = {n: p[perm] if n == "Wo" else p if n == "bo" else p[..., perm] for n, p in params.items()}
    return evaluate(ref.multihead_attention, {**case.args, "params": permuted}).output


def _softmax_over_queries(case, right, dout):
    if case.args["valid_lens"] is not None:
        raise ValueError("modelled without a mask only")
    x = case.args["x"]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _pe_layout(kind):
    def model(case, right, dout):
        sin, cos = right[:, 0::2], right[:, 1::2]
        if kind == "swapped":
            return np.stack([cos, sin], axis=-1).reshape(right.shape)
        if kind == "halves":
            return np.concatenate([sin, cos], axis=1)
        max_len, d = case.args["max_len"], case.args["d"]
        angles = np.arange(max_len)[:, None] / 10000.0 ** (np.arange(0, 2 * d, 4) / d)
        return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(max_len, d)
    return model


_scale_mistakes = [Mistake(NO_SCALE, "output", _with_scale(ref.dot_product_attention, lambda case: 1.0)),
                   Mistake(NO_SCALE, "output", _with_scale(ref.dot_product_attention,
                                                           lambda case: 1.0 / case.args["q"].shape[-1]))]


# Known mistakes of each exercise, by the function they are shown for

positional_encoding_mistakes = [Mistake(SWAPPED, "output", _pe_layout("swapped")),
                                Mistake(INTERLEAVE_PE, "output", _pe_layout("halves")),
                                Mistake(EXPONENT, "output", _pe_layout("exponent"))]
masked_softmax_forward_mistakes = [Mistake(LAST_AXIS, "output", _softmax_over_queries)]
masked_softmax_backward_mistakes = [Mistake("The softmax backward is out * (dout - sum(out * dout, axis=-1, keepdims=True)).",
                                            "gradients", lambda case, right, dout: {"x": evaluate(
                                                ref.masked_softmax, case.args).output * dout})]
multihead_attention_forward_mistakes = [Mistake(NO_SCALE, "output", _with_scale(ref.multihead_attention, lambda case: 1.0)),
                                        Mistake(HEAD_SIZE, "output", _with_scale(ref.multihead_attention,
                                                                                 lambda case: 1.0 / np.sqrt(case.args["q"].shape[-1]))),
                                        Mistake(INTERLEAVED, "output", _interleaved_heads)]
