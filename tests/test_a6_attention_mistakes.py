"""Planted mistakes ("mutants") in the a6_attention solutions: the checker must catch every one.

The harness is `tests/mutants.py`; each mutant names the properties it must fail and the hint it
must show. Correct variants written differently (d2l-style masking with -inf, einsum heads) must pass.
"""

from __future__ import annotations

import pytest

from helpers import copy_solutions, manifest_exercises
from mutants import M, Mutant, edit, check_planted
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.release import release

A6 = "a6_attention"
ASSIGNMENT = A6  # this file's mutant table, for the coverage tests of tests/test_mutants.py
EXACT_ZERO = "Masked entries must be EXACTLY 0"
LAST_AXIS = "Normalise over the keys, the last axis"
PER_QUERY = "gives each query its own length"
NO_SCALE = "Scale the scores by 1/sqrt(d)"
HEAD_SIZE = "the size of one head, not of E"
INTERLEAVED = "Split heads with x.reshape(B, L, num_heads"
COPY = "Work on a copy"
KEEP_DTYPE = "Keep the input's dtype"
NOT_GLOBALS = "not in globals"

MUTANTS = [
    # --------------------------------------------------------------------- masked_softmax_forward
    M("masked_softmax_forward", "minus_1e9", "large_negative",
      edit("masked_softmax_forward", "np.array(-np.inf, dtype=x.dtype)", "-1e9"),
      ["masked_entries_exactly_zero_at_large_scores"], hint=EXACT_ZERO),
    M("masked_softmax_forward", "wrong_axis", "wrong_axis",
      edit("masked_softmax_forward", "scores.max(axis=-1, keepdims=True)", "scores.max(axis=1, keepdims=True)",
           ("e.sum(axis=-1, keepdims=True)", "e.sum(axis=1, keepdims=True)")),
      ["matches_reference", "masked_entries_exactly_zero"], hint=LAST_AXIS),
    M("masked_softmax_forward", "per_batch_only", "per_query_as_batch",
      edit("masked_softmax_forward", "mask = _key_mask(valid_lens, *x.shape)",
           "lens = None if valid_lens is None else np.asarray(valid_lens).reshape(len(x), -1)[:, 0]\n"
           "    mask = _key_mask(lens, *x.shape)"),
      ["masked_entries_exactly_zero", "per_query_valid_lens"], hint=(PER_QUERY, "Mask key j when j >= valid_lens")),
    M("masked_softmax_forward", "no_shift", "overflow",
      edit("masked_softmax_forward", "np.exp(scores - scores.max(axis=-1, keepdims=True))", "np.exp(scores)"),
      ["stable_at_large_inputs"]),
    M("masked_softmax_forward", "in_place", "mutates_input", """
        _solution_masked_softmax_forward = masked_softmax_forward
        def masked_softmax_forward(x, valid_lens):
            out, cache = _solution_masked_softmax_forward(x, valid_lens)
            x[...] = 0
            return out, cache
        """, ["inputs_unchanged"], hint=COPY),
    M("masked_softmax_forward", "float64_mask", "float32_upcast", """
        _solution_masked_softmax_forward = masked_softmax_forward
        def masked_softmax_forward(x, valid_lens):
            out, cache = _solution_masked_softmax_forward(x.astype(float), valid_lens)
            return out, cache
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("masked_softmax_forward", "crash_on_none", "crash", """
        def masked_softmax_forward(x, valid_lens):
            mask = np.arange(x.shape[-1]) < np.asarray(valid_lens)[:, None, None]
            s = np.where(mask, x, -np.inf)
            e = np.exp(s - s.max(axis=-1, keepdims=True))
            out = e / e.sum(axis=-1, keepdims=True)
            return out, (out,)
        """, ["runs_on_valid_inputs"]),
    M("masked_softmax_forward", "keepdims_sum", "wrong_shape", """
        _solution_masked_softmax_forward = masked_softmax_forward
        def masked_softmax_forward(x, valid_lens):
            out, cache = _solution_masked_softmax_forward(x, valid_lens)
            return out[..., None], cache
        """, ["output_shape_and_dtype"]),

    # -------------------------------------------------------------------- masked_softmax_backward
    M("masked_softmax_backward", "no_sum_term", "drops_term", """
        def masked_softmax_backward(dout, cache):
            (out,) = cache
            return out * dout
        """, ["vjp_matches_reference"], hint="out * (dout - sum(out * dout"),
    M("masked_softmax_backward", "unmasked_recomputed", "ignores_mask", """
        def masked_softmax_forward(x, valid_lens):
            mask = _key_mask(valid_lens, *x.shape)
            s = np.where(mask, x, -np.inf)
            e = np.exp(s - s.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True), (x,)
        def masked_softmax_backward(dout, cache):
            (x,) = cache
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            p = e / e.sum(axis=-1, keepdims=True)        # the mask is forgotten here
            return p * (dout - (dout * p).sum(axis=-1, keepdims=True))
        """, ["vjp_matches_reference", "masked_gradient_exactly_zero"], hint=EXACT_ZERO),
    M("masked_softmax_backward", "dout_in_place", "mutates_dout", """
        def masked_softmax_backward(dout, cache):
            (out,) = cache
            dout -= (dout * out).sum(axis=-1, keepdims=True)
            dout *= out
            return dout
        """, ["inputs_unchanged", "gradients_are_fresh_arrays"]),
    M("masked_softmax_backward", "global_cache", "global_cache", """
        _last = None
        _solution_masked_softmax_forward = masked_softmax_forward
        def masked_softmax_forward(x, valid_lens):
            global _last
            out, cache = _solution_masked_softmax_forward(x, valid_lens)
            _last = cache
            return out, cache
        def masked_softmax_backward(dout, cache):
            (out,) = _last
            return out * (dout - (dout * out).sum(axis=-1, keepdims=True))
        """, ["caches_are_independent"], hint=NOT_GLOBALS),
    M("masked_softmax_backward", "float64", "float32_upcast",
      edit("masked_softmax_backward", "(out,) = cache", "(out,) = cache\n    out = out.astype(np.float64)"),
      ["preserves_float32"]),
    M("masked_softmax_backward", "transposed", "wrong_shape", """
        def masked_softmax_backward(dout, cache):
            (out,) = cache
            return (out * (dout - (dout * out).sum(axis=-1, keepdims=True))).transpose(0, 2, 1)
        """, ["gradient_shapes"]),
    M("masked_softmax_backward", "crash", "crash", """
        def masked_softmax_backward(dout, cache):
            out = cache
            return out * dout.T
        """, ["runs_on_valid_inputs"]),

    # -------------------------------------------------------------- dot_product_attention_forward
    M("dot_product_attention_forward", "no_scale", "scaling", """
        def dot_product_attention_forward(q, k, v, valid_lens=None):
            w, _ = masked_softmax_forward(q @ k.transpose(0, 2, 1), valid_lens)
            return w @ v, (q, k, v, w, 1.0)
        """, ["matches_reference"], hint=NO_SCALE),
    M("dot_product_attention_forward", "divide_by_d", "scaling", """
        def dot_product_attention_forward(q, k, v, valid_lens=None):
            w, _ = masked_softmax_forward(q @ k.transpose(0, 2, 1) / q.shape[-1], valid_lens)
            return w @ v, (q, k, v, w, 1.0)
        """, ["matches_reference"], hint=NO_SCALE),
    M("dot_product_attention_forward", "added_minus_1e9", "large_negative", """
        def dot_product_attention_forward(q, k, v, valid_lens=None):
            s = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
            s = s + np.where(_key_mask(valid_lens, *s.shape), 0.0, -1e9)
            e = np.exp(s - s.max(axis=-1, keepdims=True))
            w = e / e.sum(axis=-1, keepdims=True)
            return w @ v, (q, k, v, w, 1 / np.sqrt(q.shape[-1]))
        """, ["masked_keys_ignored_at_large_scores"], hint=EXACT_ZERO),
    M("dot_product_attention_forward", "causal", "position_dependent", """
        def dot_product_attention_forward(q, k, v, valid_lens=None):
            s = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
            causal = np.arange(s.shape[2])[None, :] <= np.arange(s.shape[1])[:, None]
            s = np.where(causal & _key_mask(valid_lens, *s.shape), s, -np.inf)
            e = np.exp(s - s.max(axis=-1, keepdims=True))
            w = e / e.sum(axis=-1, keepdims=True)
            return w @ v, (q, k, v, w, 1 / np.sqrt(q.shape[-1]))
        """, ["matches_reference", "queries_permute_outputs", "keys_values_permutation_invariant"]),
    M("dot_product_attention_forward", "off_by_one", "mask_off_by_one", """
        def dot_product_attention_forward(q, k, v, valid_lens=None):
            lens = None if valid_lens is None else np.asarray(valid_lens) + 1
            w, _ = masked_softmax_forward(q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1]), lens)
            return w @ v, (q, k, v, w, 1 / np.sqrt(q.shape[-1]))
        """, ["matches_reference", "masked_keys_ignored", "per_query_valid_lens"]),

    # ------------------------------------------------------------- dot_product_attention_backward
    M("dot_product_attention_backward", "dk_unscaled", "scaling", """
        def dot_product_attention_backward(dout, cache):
            q, k, v, w, scale = cache
            dv = w.transpose(0, 2, 1) @ dout
            ds = masked_softmax_backward(dout @ v.transpose(0, 2, 1), (w,))
            return ds @ k * scale, ds.transpose(0, 2, 1) @ q, dv
        """, ["vjp_matches_reference"]),
    M("dot_product_attention_backward", "unmasked_weights", "ignores_mask", """
        def dot_product_attention_backward(dout, cache):
            q, k, v, w, scale = cache
            s = q @ k.transpose(0, 2, 1) * scale
            e = np.exp(s - s.max(axis=-1, keepdims=True))
            w = e / e.sum(axis=-1, keepdims=True)          # recomputed without the mask
            dv = w.transpose(0, 2, 1) @ dout
            ds = masked_softmax_backward(dout @ v.transpose(0, 2, 1), (w,)) * scale
            return ds @ k, ds.transpose(0, 2, 1) @ q, dv
        """, ["vjp_matches_reference", "masked_gradient_exactly_zero"], hint=EXACT_ZERO),
    M("dot_product_attention_backward", "order", "wrong_order", """
        _solution_dot_product_attention_backward = dot_product_attention_backward
        def dot_product_attention_backward(dout, cache):
            dq, dk, dv = _solution_dot_product_attention_backward(dout, cache)
            return dq, dv, dk
        """, ["gradient_shapes", "vjp_matches_reference"]),

    # ----------------------------------------------------------------- additive_attention_forward
    M("additive_attention_forward", "no_mask", "ignores_mask", """
        def additive_attention_forward(q, k, v, Wq, Wk, wv, valid_lens=None):
            f = np.tanh((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])
            w, _ = masked_softmax_forward(f @ wv, None)
            return w @ v, (q, k, v, Wq, Wk, wv, f, w)
        """, ["matches_reference", "masked_keys_ignored", "masked_keys_ignored_at_large_scores"]),
    M("additive_attention_forward", "relu", "wrong_nonlinearity", """
        def additive_attention_forward(q, k, v, Wq, Wk, wv, valid_lens=None):
            f = np.maximum((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :], 0)
            w, _ = masked_softmax_forward(f @ wv, valid_lens)
            return w @ v, (q, k, v, Wq, Wk, wv, f, w)
        """, ["matches_reference"]),
    M("additive_attention_forward", "cumsum_over_queries", "mixes_queries", """
        def additive_attention_forward(q, k, v, Wq, Wk, wv, valid_lens=None):
            qm = np.cumsum(q, axis=1)            # earlier queries leak into later ones
            f = np.tanh((qm @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])
            w, _ = masked_softmax_forward(f @ wv, valid_lens)
            return w @ v, (q, k, v, Wq, Wk, wv, f, w)
        """, ["matches_reference", "queries_permute_outputs"]),
    M("additive_attention_forward", "position_bias", "position_dependent", """
        def additive_attention_forward(q, k, v, Wq, Wk, wv, valid_lens=None):
            f = np.tanh((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])
            s = f @ wv + 0.3 * np.arange(k.shape[1])
            w, _ = masked_softmax_forward(s, valid_lens)
            return w @ v, (q, k, v, Wq, Wk, wv, f, w)
        """, ["matches_reference", "keys_values_permutation_invariant"]),

    # ---------------------------------------------------------------- additive_attention_backward
    M("additive_attention_backward", "tanh_derivative", "wrong_derivative", """
        _solution_additive_attention_backward = additive_attention_backward
        def additive_attention_backward(dout, cache):
            q, k, v, Wq, Wk, wv, f, w = cache
            return _solution_additive_attention_backward(dout, (q, k, v, Wq, Wk, wv, np.zeros_like(f) + f * 0.5, w))
        """, ["vjp_matches_reference"]),
    M("additive_attention_backward", "dwv_keepdims", "wrong_shape", """
        _solution_additive_attention_backward = additive_attention_backward
        def additive_attention_backward(dout, cache):
            g = list(_solution_additive_attention_backward(dout, cache))
            g[5] = g[5][None, :]
            return tuple(g)
        """, ["gradient_shapes"]),
    M("additive_attention_backward", "dv_plus_one", "ignores_mask", """
        _solution_additive_attention_backward = additive_attention_backward
        def additive_attention_backward(dout, cache):
            g = list(_solution_additive_attention_backward(dout, cache))
            g[2] = g[2] + 1e-3
            return tuple(g)
        """, ["vjp_matches_reference", "masked_gradient_exactly_zero"]),
    M("additive_attention_backward", "forgets_dwv", "crash", """
        _solution_additive_attention_backward = additive_attention_backward
        def additive_attention_backward(dout, cache):
            return _solution_additive_attention_backward(dout, cache)[:5]
        """, ["runs_on_valid_inputs"]),

    # ---------------------------------------------------------------- multihead_attention_forward
    M("multihead_attention_forward", "scale_by_E", "scaling", """
        _solution_multihead_attention_forward = multihead_attention_forward
        def multihead_attention_forward(q, k, v, params, num_heads, valid_lens=None):
            E = q.shape[-1]
            h = num_heads
            s = np.sqrt(E // h) / np.sqrt(E)      # turns the per-head 1/sqrt(d) into 1/sqrt(E)
            p = dict(params, Wq=params["Wq"] * s, bq=params["bq"] * s)
            return _solution_multihead_attention_forward(q, k, v, p, num_heads, valid_lens)
        """, ["matches_reference"], hint=HEAD_SIZE),
    M("multihead_attention_forward", "no_scale", "scaling", """
        _solution_multihead_attention_forward = multihead_attention_forward
        def multihead_attention_forward(q, k, v, params, num_heads, valid_lens=None):
            s = np.sqrt(q.shape[-1] // num_heads)
            p = dict(params, Wq=params["Wq"] * s, bq=params["bq"] * s)
            return _solution_multihead_attention_forward(q, k, v, p, num_heads, valid_lens)
        """, ["matches_reference"], hint=NO_SCALE),
    M("multihead_attention_forward", "interleaved", "head_layout", """
        def multihead_attention_forward(q, k, v, params, num_heads, valid_lens=None):
            B, Q, E = q.shape
            d = E // num_heads
            def split(x):
                return x.reshape(B, x.shape[1], d, num_heads).transpose(0, 3, 1, 2).reshape(B * num_heads, x.shape[1], d)
            qh, kh, vh = (split(x @ params["W" + n] + params["b" + n]) for x, n in ((q, "q"), (k, "k"), (v, "v")))
            lens = None if valid_lens is None else np.repeat(np.asarray(valid_lens), num_heads, axis=0)
            heads, c = dot_product_attention_forward(qh, kh, vh, lens)
            merged = heads.reshape(B, num_heads, Q, d).transpose(0, 2, 3, 1).reshape(B, Q, E)
            return merged @ params["Wo"] + params["bo"], c
        """, ["matches_reference"], hint=INTERLEAVED),
    M("multihead_attention_forward", "lens_tiled", "mask_per_head", """
        _solution_multihead_attention_forward = multihead_attention_forward
        def multihead_attention_forward(q, k, v, params, num_heads, valid_lens=None):
            if valid_lens is not None:
                B = len(q)
                lens = np.tile(np.asarray(valid_lens), (num_heads,) + (1,) * (np.ndim(valid_lens) - 1))[:B]
                lens = lens[::-1].copy() if B > 1 else lens
                valid_lens = lens
            return _solution_multihead_attention_forward(q, k, v, params, num_heads, valid_lens)
        """, ["matches_reference", "masked_keys_ignored"]),
    M("multihead_attention_forward", "params_in_place", "mutates_input", """
        _solution_multihead_attention_forward = multihead_attention_forward
        def multihead_attention_forward(q, k, v, params, num_heads, valid_lens=None):
            params["bq"] += 0.0
            params["extra"] = 1.0
            return _solution_multihead_attention_forward(q, k, v, params, num_heads, valid_lens)
        """, ["inputs_unchanged"], hint=COPY),

    # --------------------------------------------------------------- multihead_attention_backward
    M("multihead_attention_backward", "missing_bo", "missing_key", """
        _solution_multihead_attention_backward = multihead_attention_backward
        def multihead_attention_backward(dout, cache):
            dq, dk, dv, dp = _solution_multihead_attention_backward(dout, cache)
            del dp["bo"]
            return dq, dk, dv, dp
        """, ["gradient_shapes", "vjp_matches_reference"]),
    M("multihead_attention_backward", "dWo_transposed", "transposed", """
        _solution_multihead_attention_backward = multihead_attention_backward
        def multihead_attention_backward(dout, cache):
            dq, dk, dv, dp = _solution_multihead_attention_backward(dout, cache)
            dp["Wo"] = dp["Wo"].T.copy()
            return dq, dk, dv, dp
        """, ["vjp_matches_reference"]),
    M("multihead_attention_backward", "dv_leaks", "ignores_mask", """
        _solution_multihead_attention_backward = multihead_attention_backward
        def multihead_attention_backward(dout, cache):
            dq, dk, dv, dp = _solution_multihead_attention_backward(dout, cache)
            return dq, dk, dv + 1e-12, dp
        """, ["masked_gradient_exactly_zero"]),

    # ----------------------------------------------------------------------- positional_encoding
    M("positional_encoding", "swapped", "swapped", """
        _solution_positional_encoding = positional_encoding
        def positional_encoding(max_len, d):
            P = _solution_positional_encoding(max_len, d)
            return P.reshape(max_len, d // 2, 2)[..., ::-1].reshape(max_len, d).copy()
        """, ["matches_reference", "sin_cos_pairs"], hint="Even columns are sin"),
    M("positional_encoding", "halves", "layout", """
        _solution_positional_encoding = positional_encoding
        def positional_encoding(max_len, d):
            P = _solution_positional_encoding(max_len, d)
            return np.concatenate([P[:, 0::2], P[:, 1::2]], axis=1)
        """, ["matches_reference", "sin_cos_pairs", "fixed_rotation"], hint="not sin in one half"),
    M("positional_encoding", "exponent", "frequency", """
        def positional_encoding(max_len, d):
            angles = np.arange(max_len)[:, None] / 10000.0 ** (2 * np.arange(0, d, 2) / d)
            P = np.empty((max_len, d))
            P[:, 0::2], P[:, 1::2] = np.sin(angles), np.cos(angles)
            return P
        """, ["matches_reference"], hint="The frequency of pair j"),
    M("positional_encoding", "squared_position", "position", """
        def positional_encoding(max_len, d):
            angles = (np.arange(max_len)[:, None] ** 2) / 10000.0 ** (np.arange(0, d, 2) / d)
            P = np.empty((max_len, d))
            P[:, 0::2], P[:, 1::2] = np.sin(angles), np.cos(angles)
            return P
        """, ["matches_reference", "fixed_rotation"]),
    M("positional_encoding", "float32", "wrong_dtype", """
        _solution_positional_encoding = positional_encoding
        def positional_encoding(max_len, d):
            return _solution_positional_encoding(max_len, d).astype(np.float32)
        """, ["output_shape_and_dtype"]),
    M("positional_encoding", "odd_crash", "crash", """
        def positional_encoding(max_len, d):
            raise ValueError("only d = 4")
        """, ["runs_on_valid_inputs"]),
]

# Issue 13: softmax over scores whose rows sit at very different scales side by side. A softmax
# shifted by the maximum of the whole batch gives 0/0 = NaN for rows far below the largest.
ROWS = "Subtract each row's own maximum"
_BATCH_MAX_SOFTMAX = edit("masked_softmax_forward", "e = np.exp(scores - scores.max(axis=-1, keepdims=True))",
                          "e = np.exp(scores - scores.max())   # the whole batch's maximum")
MUTANTS += [
    M("masked_softmax_forward", "batch_max_shift", "overflow", _BATCH_MAX_SOFTMAX, ["stable_at_large_inputs"],
      hint=ROWS, focused=True),
    M("masked_softmax_forward", "shift_by_row_mean", "overflow",
      edit("masked_softmax_forward", "e = np.exp(scores - scores.max(axis=-1, keepdims=True))",
           "e = np.exp(scores - x.mean(axis=-1, keepdims=True))   # finite until gaps reach ~700"),
      ["stable_at_extreme_inputs"], focused=True),
    M("dot_product_attention_forward", "batch_max_shift", "overflow", """
        def dot_product_attention_forward(q, k, v, valid_lens=None):
            scale = 1.0 / np.sqrt(q.shape[-1])
            scores = np.where(_key_mask(valid_lens, q.shape[0], q.shape[1], k.shape[1]),
                              (q @ k.transpose(0, 2, 1)) * scale, -np.inf)
            e = np.exp(scores - scores.max())
            weights = e / e.sum(axis=-1, keepdims=True)
            return weights @ v, (q, k, v, weights, scale)
        """, ["stable_at_large_inputs"], hint=ROWS, focused=True),
    # The attention layers call masked_softmax_forward: its batch-wide shift breaks each of them.
    M("additive_attention_forward", "batch_max_softmax", "overflow", _BATCH_MAX_SOFTMAX, ["stable_at_large_inputs"],
      hint=ROWS, focused=True),
    M("multihead_attention_forward", "batch_max_softmax", "overflow", _BATCH_MAX_SOFTMAX, ["stable_at_large_inputs"],
      hint=ROWS, focused=True),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant: Mutant, tmp_path):
    check_planted(A6, mutant, tmp_path)


# Correct solutions written differently: d2l-style masking (-inf put in place before exp, then a
# row maximum over the visible keys) and multi-head attention with einsum instead of reshapes.
D2L_STYLE = """
def masked_softmax_forward(x, valid_lens):
    shape = x.shape
    if valid_lens is None:
        s = x
    else:
        lens = np.asarray(valid_lens)
        lens = np.repeat(lens, shape[1]) if lens.ndim == 1 else lens.reshape(-1)
        flat = x.reshape(-1, shape[-1]).copy()
        flat[np.arange(shape[-1])[None, :] >= lens[:, None]] = -np.inf
        s = flat.reshape(shape)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    out = e / e.sum(axis=-1, keepdims=True)
    return out, (out,)


def multihead_attention_forward(q, k, v, params, num_heads, valid_lens=None):
    B, Q, E = q.shape
    d = E // num_heads
    Qp = np.einsum("ble,ef->blf", q, params["Wq"]) + params["bq"]
    Kp = np.einsum("ble,ef->blf", k, params["Wk"]) + params["bk"]
    Vp = np.einsum("ble,ef->blf", v, params["Wv"]) + params["bv"]
    Qh, Kh, Vh = (x.reshape(B, -1, num_heads, d) for x in (Qp, Kp, Vp))
    scores = np.einsum("bqhd,bkhd->bhqk", Qh, Kh) / np.sqrt(d).astype(q.dtype)
    lens = None if valid_lens is None else np.repeat(np.asarray(valid_lens), num_heads, axis=0)
    w, _ = masked_softmax_forward(scores.reshape(B * num_heads, Q, -1), lens)
    w = w.reshape(B, num_heads, Q, -1)
    merged = np.einsum("bhqk,bkhd->bqhd", w, Vh).reshape(B, Q, E)
    out = merged @ params["Wo"] + params["bo"]
    return out, (q, k, v, params, num_heads, merged, (Qh.transpose(0, 2, 1, 3).reshape(B * num_heads, Q, d),
                 Kh.transpose(0, 2, 1, 3).reshape(B * num_heads, -1, d), Vh.transpose(0, 2, 1, 3).reshape(B * num_heads, -1, d),
                 w.reshape(B * num_heads, Q, -1), 1.0 / np.sqrt(d)))
"""


def test_correct_variants_pass(tmp_path):
    folder = copy_solutions(tmp_path, A6)
    module = folder / "attention.py"
    module.write_text(module.read_text() + "\n\n" + D2L_STYLE)
    _, results = run_checks([A6], tmp_path, "grading", seed=0)
    assert {r.name: [p.name for p in r.properties if not p.passed] for r in results} == {r.name: [] for r in results}


def test_check_passes_solutions_and_fails_stubs_as_not_implemented(tmp_path):
    release(tmp_path, [A6])
    _, results = run_checks([A6], tmp_path, seed=1)
    assert sorted(r.name for r in results) == sorted(manifest_exercises(A6))
    assert [r.status for r in results] == ["not_implemented"] * len(results)
    assert all(r.points == 0 and "not implemented" in r.reason for r in results)
