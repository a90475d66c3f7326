"""Planted mistakes ("mutants") in the a5_rnn solutions: the checker must catch every one.

Most mutants are the solution's own function with one or two lines changed (`edit`), so each
differs from a right answer exactly by the mistake it names.
"""

from __future__ import annotations

import pytest

from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.release import release
from helpers import manifest_exercises
from mutants import M, Mutant, edit, check_planted

A5 = "a5_rnn"
ASSIGNMENT = A5  # this file's mutant table, for the coverage tests of tests/test_mutants.py
MIN_SPEC_HINTS = 15

# Hint substrings (the checker's own wording; `assert_every_hint_shown` keeps them honest).
GATE_ORDER = "in order, i, f, o, g"
GRU_ORDER = "in order, z, r, n"
SWAPPED_Z = "z and 1 - z are swapped"
RESET_AFTER = "scales prev_h BEFORE the product"
DNEXT_C = "next_c has an upstream gradient of its own"
DPREV_C = "dprev_c = dc * f"
CELL_THROUGH_TIME = "cell state's gradient flows back through time"
ACCUMULATE = "accumulate their gradients over time"
DH0 = "dh0 is the gradient flowing out of the first step"
EVERY_H = "upstream gradient for EVERY h_t"
FROM_PREVIOUS = "starts from the previous step's hidden state"
C0_ZERO = "c0 is zeros"
WH_TRANSPOSED = "check for a transposed Wh"
TANH_DERIVATIVE = "1 - next_h**2, not 1 - next_h"
REPEATS = "Repeated indices must accumulate"
OVER_NT = "not by N * T"
OVER_UNMASKED = "not by the number of unmasked steps"
MASK_IGNORED = "Masked steps contribute nothing"
NOT_GLOBALS = "not in globals"
KEEP_DTYPE = "Keep the input's dtype"
COPY_INPUT = "Work on a copy"
NEW_DX = "Build dx as a new array"
ONE_NUMBER = "to get one number"


def global_cache(forward: str, backward: str, params: str, outputs: int = 1) -> str:
    """The solution's pair, but the backward uses the cache of the most recent forward."""
    return f"""
_solution_forward, _solution_backward = {forward}, {backward}
_last_cache = None


def {forward}({params}):
    global _last_cache
    result = _solution_forward({params})
    _last_cache = result[-1]
    return result


def {backward}(*upstream_and_cache):
    return _solution_backward(*upstream_and_cache[:-1], _last_cache)
"""


LSTM_IFGO = edit("lstm_step_forward", "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])",
                 "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])")
LSTM_IFGO_BACKWARD = edit("lstm_step_backward", "dnext_h * tanh_c * o * (1 - o),\n                         dc * i * (1 - g ** 2)",
                          "dc * i * (1 - g ** 2),\n                         dnext_h * tanh_c * o * (1 - o)")
GRU_SWAPPED = edit("gru_step_forward", "z * prev_h + (1 - z) * n", "(1 - z) * prev_h + z * n")
GRU_SWAPPED_BACKWARD = edit("gru_step_backward", "dnext_h * (1 - z) * (1 - n ** 2)", "dnext_h * z * (1 - n ** 2)",
                            ("dnext_h * (prev_h - n) * z * (1 - z)", "dnext_h * (n - prev_h) * z * (1 - z)"),
                            ("dprev_h = dnext_h * z", "dprev_h = dnext_h * (1 - z)"))
GRU_RESET_AFTER = edit("gru_step_forward", "n = np.tanh(ax[:, 2 * H:] + reset_h @ Wh[:, 2 * H:])",
                       "n = np.tanh(ax[:, 2 * H:] + r * (prev_h @ Wh[:, 2 * H:]))")
GRU_RESET_AFTER_BACKWARD = """
def gru_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, z, r, n, _ = cache
    H = prev_h.shape[1]
    Wh_zr, Wh_n = Wh[:, :2 * H], Wh[:, 2 * H:]
    hn = prev_h @ Wh_n
    da_n = dnext_h * (1 - z) * (1 - n ** 2)
    dhn = da_n * r
    da_z = dnext_h * (prev_h - n) * z * (1 - z)
    da_r = da_n * hn * r * (1 - r)
    da_zr = np.concatenate([da_z, da_r], axis=1)
    da = np.concatenate([da_zr, da_n], axis=1)
    dprev_h = dnext_h * z + dhn @ Wh_n.T + da_zr @ Wh_zr.T
    dWh = np.concatenate([prev_h.T @ da_zr, prev_h.T @ dhn], axis=1)
    return da @ Wx.T, dprev_h, x.T @ da, dWh, da.sum(axis=0)
"""
ASSIGNED = ("dWx += dWx_t\n        dWh += dWh_t\n        db += db_t", "dWx = dWx_t\n        dWh = dWh_t\n        db = db_t")

MUTANTS = [
    # ---------------------------------------------------------------------------------- rnn step
    M("rnn_step_forward", "wh_transposed", "transposed", edit("rnn_step_forward", "prev_h @ Wh", "prev_h @ Wh.T"),
      ["matches_reference"], hint=WH_TRANSPOSED),
    M("rnn_step_forward", "wx_transposed", "crash", edit("rnn_step_forward", "x @ Wx", "x @ Wx.T"),
      ["runs_on_valid_inputs"]),
    M("rnn_step_forward", "float64_buffer", "float32_upcast",
      edit("rnn_step_forward", "next_h = np.tanh(", "next_h = np.zeros(prev_h.shape)\n    next_h[:] = np.tanh("),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("rnn_step_forward", "in_place_on_prev_h", "mutates_input",
      edit("rnn_step_forward", "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)",
                                "next_h = prev_h\n    next_h[:] = np.tanh(x @ Wx + prev_h @ Wh + b)"),
      ["inputs_unchanged"], hint=COPY_INPUT),
    M("rnn_step_backward", "tanh_derivative", "wrong_derivative",
      edit("rnn_step_backward", "(1 - next_h ** 2)", "(1 - next_h)"), ["vjp_matches_reference"], hint=TANH_DERIVATIVE),
    M("rnn_step_backward", "db_keepdims", "wrong_shape",
      edit("rnn_step_backward", "da.sum(axis=0)", "da.sum(axis=0, keepdims=True)"), ["gradient_shapes"]),
    M("rnn_step_backward", "global_cache", "global_cache",
      global_cache("rnn_step_forward", "rnn_step_backward", "x, prev_h, Wx, Wh, b"),
      ["caches_are_independent"], hint=NOT_GLOBALS),

    # ------------------------------------------------------------------------------ rnn sequence
    M("rnn_forward", "from_h0_every_step", "no_recurrence",
      edit("rnn_forward", "rnn_step_forward(x[:, t], prev_h,", "rnn_step_forward(x[:, t], h0,"),
      ["matches_reference"], hint=FROM_PREVIOUS),
    M("rnn_forward", "last_state_only", "wrong_shape", edit("rnn_forward", "return h, steps", "return prev_h, steps"),
      ["output_shape_and_dtype"]),
    M("rnn_forward", "float64_output", "float32_upcast", edit("rnn_forward", ", dtype=x.dtype)", ")"),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("rnn_forward", "h0_as_buffer", "mutates_input",
      edit("rnn_forward", "prev_h, steps = h0, []", "prev_h, steps = h0, []\n    h0 *= 1.5  # scratch space"),
      ["inputs_unchanged"], hint=COPY_INPUT),
    M("rnn_backward", "assigned_not_accumulated", "eq_vs_pluseq", edit("rnn_backward", *ASSIGNED),
      ["vjp_matches_reference", "backward_matches_own_steps"], hint=ACCUMULATE),
    M("rnn_backward", "dh0_zero", "dh0_missing",
      edit("rnn_backward", "return dx, dprev_h,", "return dx, np.zeros_like(dprev_h),"),
      ["vjp_matches_reference", "backward_matches_own_steps"], hint=DH0),
    M("rnn_backward", "last_upstream_only", "last_upstream_only",
      edit("rnn_backward", "rnn_step_backward(dh[:, t] + dprev_h,",
                            "rnn_step_backward((dh[:, t] if t == T - 1 else 0) + dprev_h,"),
      ["vjp_matches_reference", "backward_matches_own_steps"], hint=EVERY_H),
    M("rnn_backward", "adds_into_dh", "mutates_dout",
      edit("rnn_backward", "rnn_step_backward(dh[:, t] + dprev_h,", "rnn_step_backward(dh[:, t].__iadd__(dprev_h),"),
      ["inputs_unchanged"], hint=NEW_DX),

    # --------------------------------------------------------------------------------- lstm step
    M("lstm_step_forward", "ifgo", "gate_order", LSTM_IFGO, ["matches_reference"], hint=GATE_ORDER),
    M("lstm_step_forward", "no_cell_output", "wrong_structure",
      edit("lstm_step_forward", "return next_h, next_c, cache", "return next_h, cache"), ["runs_on_valid_inputs"]),
    M("lstm_step_forward", "cell_in_place", "mutates_input",
      edit("lstm_step_forward", "next_c = f * prev_c + i * g", "next_c = prev_c\n    next_c *= f\n    next_c += i * g"),
      ["inputs_unchanged"], hint=COPY_INPUT),
    M("lstm_step_forward", "float64_gates", "float32_upcast",
      edit("lstm_step_forward", "a = x @ Wx + prev_h @ Wh + b", "a = np.asarray(x @ Wx + prev_h @ Wh + b, dtype=float)"),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("lstm_step_backward", "dnext_c_ignored", "forgets_cell_gradient",
      edit("lstm_step_backward", "dc = dnext_c + dnext_h", "dc = dnext_h"), ["vjp_matches_reference"], hint=DNEXT_C),
    M("lstm_step_backward", "dprev_c_from_dnext_c", "forgets_cell_gradient",
      edit("lstm_step_backward", "dprev_c = dc * f", "dprev_c = dnext_c * f"), ["vjp_matches_reference"], hint=DPREV_C),
    M("lstm_step_backward", "ifgo_both", "gate_order", LSTM_IFGO + "\n\n" + LSTM_IFGO_BACKWARD,
      ["vjp_matches_reference"], hint=GATE_ORDER),
    M("lstm_step_backward", "global_cache", "global_cache",
      global_cache("lstm_step_forward", "lstm_step_backward", "x, prev_h, prev_c, Wx, Wh, b"),
      ["caches_are_independent"], hint=NOT_GLOBALS),

    # ----------------------------------------------------------------------------- lstm sequence
    M("lstm_forward", "c0_is_h0", "initial_state", edit("lstm_forward", "prev_c, steps = h0, np.zeros_like(h0), []",
                                                                        "prev_c, steps = h0, h0, []"),
      ["matches_reference"], hint=C0_ZERO),
    M("lstm_forward", "ifgo_step", "gate_order", LSTM_IFGO, ["matches_reference"], hint=GATE_ORDER),
    M("lstm_forward", "time_major", "wrong_shape",
      edit("lstm_forward", "h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)", "h = np.zeros((T, N, h0.shape[1]), dtype=x.dtype)",
           ("h[:, t] = prev_h", "h[t] = prev_h")), ["output_shape_and_dtype"]),
    M("lstm_backward", "cell_gradient_not_carried", "forgets_cell_gradient",
      edit("lstm_backward", "dh[:, t] + dprev_h, dprev_c, steps[t])", "dh[:, t] + dprev_h, np.zeros_like(dprev_c), steps[t])"),
      ["vjp_matches_reference", "backward_matches_own_steps"], hint=CELL_THROUGH_TIME),
    M("lstm_backward", "assigned_not_accumulated", "eq_vs_pluseq", edit("lstm_backward", *ASSIGNED),
      ["vjp_matches_reference", "backward_matches_own_steps"], hint=ACCUMULATE),
    M("lstm_backward", "float64_accumulators", "float32_upcast",
      edit("lstm_backward", "dx = np.zeros((N, T, Wx.shape[0]), dtype=dh.dtype)", "dx = np.zeros((N, T, Wx.shape[0]))"),
      ["preserves_float32"], hint=KEEP_DTYPE),

    # ---------------------------------------------------------------------------------- gru step
    M("gru_step_forward", "swapped_update", "swapped_update", GRU_SWAPPED, ["matches_reference"], hint=SWAPPED_Z),
    M("gru_step_forward", "reset_after_product", "reset_after", GRU_RESET_AFTER, ["matches_reference"], hint=RESET_AFTER),
    M("gru_step_forward", "torch_block_order", "gate_order",
      edit("gru_step_forward", "z = sigmoid(ax[:, :H] + prev_h @ Wh[:, :H])\n    r = sigmoid(ax[:, H:2 * H] + prev_h @ Wh[:, H:2 * H])",
                                "r = sigmoid(ax[:, :H] + prev_h @ Wh[:, :H])\n    z = sigmoid(ax[:, H:2 * H] + prev_h @ Wh[:, H:2 * H])"),
      ["matches_reference"], hint=GRU_ORDER),
    M("gru_step_backward", "swapped_update_both", "swapped_update", GRU_SWAPPED + "\n\n" + GRU_SWAPPED_BACKWARD,
      ["vjp_matches_reference"], hint=SWAPPED_Z),
    M("gru_step_backward", "reset_after_both", "reset_after", GRU_RESET_AFTER + "\n\n" + GRU_RESET_AFTER_BACKWARD,
      ["vjp_matches_reference"], hint=RESET_AFTER),
    M("gru_step_backward", "direct_path_forgotten", "missing_term",
      edit("gru_step_backward", "dprev_h = dnext_h * z + ", "dprev_h = "), ["vjp_matches_reference"]),

    # ------------------------------------------------------------------------------ gru sequence
    M("gru_forward", "reset_after_step", "reset_after", GRU_RESET_AFTER, ["matches_reference"], hint=RESET_AFTER),
    M("gru_forward", "from_h0_every_step", "no_recurrence",
      edit("gru_forward", "gru_step_forward(x[:, t], prev_h,", "gru_step_forward(x[:, t], h0,"),
      ["matches_reference"], hint=FROM_PREVIOUS),
    M("gru_forward", "float64_output", "float32_upcast", edit("gru_forward", ", dtype=x.dtype)", ")"),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("gru_backward", "last_upstream_only", "last_upstream_only",
      edit("gru_backward", "gru_step_backward(dh[:, t] + dprev_h,",
                            "gru_step_backward((dh[:, t] if t == T - 1 else 0) + dprev_h,"),
      ["vjp_matches_reference", "backward_matches_own_steps"], hint=EVERY_H),
    M("gru_backward", "dh0_zero", "dh0_missing",
      edit("gru_backward", "return dx, dprev_h,", "return dx, np.zeros_like(dprev_h),"),
      ["vjp_matches_reference", "backward_matches_own_steps"], hint=DH0),
    M("gru_backward", "swapped_update_steps", "swapped_update", GRU_SWAPPED + "\n\n" + GRU_SWAPPED_BACKWARD,
      ["vjp_matches_reference"], hint=SWAPPED_Z),

    # ------------------------------------------------------------------------------- embeddings
    M("word_embedding_forward", "float_indices", "crash",
      edit("word_embedding_forward", "out = W[x]", "out = W[x.astype(W.dtype)]"), ["runs_on_valid_inputs"]),
    M("word_embedding_forward", "time_major", "wrong_shape",
      edit("word_embedding_forward", "out = W[x]", "out = W[x.T]"), ["output_shape_and_dtype"]),
    M("word_embedding_forward", "float64_copy", "float32_upcast",
      edit("word_embedding_forward", "out = W[x]", "out = W[x].astype(float)"), ["preserves_float32"], hint=KEEP_DTYPE),
    M("word_embedding_backward", "fancy_index_add", "eq_vs_pluseq",
      edit("word_embedding_backward", "np.add.at(dW, x, dout)", "dW[x] += dout"), ["vjp_matches_reference"], hint=REPEATS),
    M("word_embedding_backward", "buffer_in_cache", "view_of_input",
      edit("word_embedding_forward", "cache = (x, W.shape[0])", "cache = (x, np.zeros_like(W))") + "\n\n" + edit(
          "word_embedding_backward", "x, V = cache\n    dW = np.zeros((V, dout.shape[-1]), dtype=dout.dtype)",
                                      "x, dW = cache\n    dW.fill(0)"),
      ["gradients_are_fresh_arrays"]),
    M("word_embedding_backward", "float64_dW", "float32_upcast",
      edit("word_embedding_backward", ", dtype=dout.dtype)", ")"), ["preserves_float32"], hint=KEEP_DTYPE),

    # ------------------------------------------------------------------------- temporal affine
    M("temporal_affine_forward", "flattened_output", "wrong_shape",
      edit("temporal_affine_forward", "out = x @ w + b", "out = x.reshape(-1, w.shape[0]) @ w + b"),
      ["output_shape_and_dtype"]),
    M("temporal_affine_forward", "no_bias", "wrong_value", edit("temporal_affine_forward", "out = x @ w + b", "out = x @ w"),
      ["matches_reference"]),
    M("temporal_affine_forward", "reshape_in_place", "mutates_input",
      edit("temporal_affine_forward", "out = x @ w + b", "N, T, D = x.shape\n    x.shape = (N * T, D)\n    out = (x @ w + b).reshape(N, T, -1)"),
      ["inputs_unchanged"], hint=COPY_INPUT),
    M("temporal_affine_backward", "db_keepdims", "wrong_shape",
      edit("temporal_affine_backward", "sum(axis=0)", "sum(axis=0, keepdims=True)"), ["gradient_shapes"]),
    M("temporal_affine_backward", "dx_untransposed_w", "crash",
      edit("temporal_affine_backward", "dx = dout @ w.T", "dx = dout @ w"), ["runs_on_valid_inputs"]),
    M("temporal_affine_backward", "dw_last_step_only", "wrong_value",
      edit("temporal_affine_backward", "dw = x.reshape(-1, D).T @ dout.reshape(-1, M)", "dw = x[:, -1].T @ dout[:, -1]"),
      ["vjp_matches_reference"]),
    M("temporal_affine_backward", "global_cache", "global_cache",
      global_cache("temporal_affine_forward", "temporal_affine_backward", "x, w, b"),
      ["caches_are_independent"], hint=NOT_GLOBALS),

    # ------------------------------------------------------------------------------ the loss
    M("temporal_softmax_loss", "mean_over_n_t", "normalisation",
      edit("temporal_softmax_loss", "/ N\n    dx = np.exp", "/ (N * T)\n    dx = np.exp", ("/ N\n    return", "/ (N * T)\n    return")),
      ["loss_matches_reference", "gradient_matches_reference"], hint=OVER_NT),
    M("temporal_softmax_loss", "mean_over_unmasked", "normalisation",
      edit("temporal_softmax_loss", "/ N\n    dx = np.exp", "/ max(1, mask.sum())\n    dx = np.exp",
           ("/ N\n    return", "/ max(1, mask.sum())\n    return")),
      ["loss_matches_reference", "gradient_matches_reference"], hint=OVER_UNMASKED),
    M("temporal_softmax_loss", "mask_ignored", "mask_ignored",
      edit("temporal_softmax_loss", "np.where(mask, picked, 0.0)", "picked", ("dx = dx * mask[:, :, None] / N", "dx = dx / N")),
      ["loss_matches_reference", "gradient_matches_reference", "masked_steps_contribute_nothing"], hint=MASK_IGNORED),
    M("temporal_softmax_loss", "mask_only_in_loss", "mask_ignored",
      edit("temporal_softmax_loss", "dx = dx * mask[:, :, None] / N", "dx = dx / N"),
      ["gradient_matches_reference", "masked_steps_contribute_nothing"], hint=MASK_IGNORED),
    M("temporal_softmax_loss", "per_sequence_loss", "wrong_shape",
      edit("temporal_softmax_loss", "loss = -np.sum(np.where(mask, picked, 0.0)) / N", "loss = -np.sum(np.where(mask, picked, 0.0), axis=1) / N",
           ("return float(loss), dx", "return loss, dx")), ["output_shapes"], hint=ONE_NUMBER),
    M("temporal_softmax_loss", "float_labels", "crash",
      edit("temporal_softmax_loss", "picked = log_probs[n_idx, t_idx, y]", "picked = log_probs[n_idx, t_idx, y.astype(float)]"),
      ["runs_on_valid_inputs"]),
    M("temporal_softmax_loss", "softmax_in_x", "mutates_input", """
        def temporal_softmax_loss(x, y, mask):
            N, T, V = x.shape
            x -= x.max(axis=2, keepdims=True)           # works in the caller's array
            x -= np.log(np.exp(x).sum(axis=2, keepdims=True))
            n_idx, t_idx = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
            loss = -np.sum(np.where(mask, x[n_idx, t_idx, y], 0.0)) / N
            np.exp(x, out=x)
            x[n_idx, t_idx, y] -= 1
            x *= mask[:, :, None] / N
            return float(loss), x
        """, ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=COPY_INPUT),
    M("temporal_softmax_loss", "float64_dx", "float32_upcast",
      edit("temporal_softmax_loss", "dx.astype(x.dtype, copy=False)", "dx.astype(float)"), ["preserves_float32"],
      hint=KEEP_DTYPE),
]

# Issue 13: the loss's stability promise, at steps of very different scales side by side, and at
# logit gaps beyond exp's range (CS231n's own temporal_softmax_loss takes log(probs): minor there).
MUTANTS += [
    M("temporal_softmax_loss", "batch_max_shift", "overflow",
      edit("temporal_softmax_loss", "shifted = x - x.max(axis=2, keepdims=True)", "shifted = x - x.max()"),
      ["stable_at_large_inputs"], hint="Subtract EACH ROW's own maximum", focused=True),
    M("temporal_softmax_loss", "cs231n_log_of_probs", "underflow", """
        def temporal_softmax_loss(x, y, mask):
            N, T, V = x.shape
            x_flat = x.reshape(N * T, V)
            y_flat = y.reshape(N * T)
            mask_flat = mask.reshape(N * T)
            probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
            probs /= np.sum(probs, axis=1, keepdims=True)
            loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
            dx_flat = probs.copy()
            dx_flat[np.arange(N * T), y_flat] -= 1
            dx_flat /= N
            dx_flat *= mask_flat[:, None]
            return loss, dx_flat.reshape(N, T, V)
        """, ["stable_at_extreme_inputs"], hint="(log-sum-exp), not log(softmax(x))", focused=True),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant: Mutant, tmp_path):
    check_planted(A5, mutant, tmp_path)


def test_released_a5_stubs_fail_as_not_implemented(tmp_path):
    release(tmp_path, [A5])
    _, results = run_checks([A5], tmp_path, seed=1)
    assert sorted(r.name for r in results) == sorted(manifest_exercises(A5))
    assert all(r.status == "not_implemented" and r.points == 0 for r in results), \
        {r.name: r.status for r in results if r.status != "not_implemented"}


def test_a_loop_bug_is_told_from_a_step_bug(tmp_path):
    """The sequence backward's own-steps property names the loop when the steps are right, and
    holds when the sequence backward only repeats its step's mistake."""
    from mutants import plant, solution_sources
    loop = plant(tmp_path / "loop", A5, solution_sources(A5), MUTANTS[[m.name for m in MUTANTS].index("rnn_backward-assigned_not_accumulated")])
    _, (result,) = run_checks(["rnn_backward"], loop, seed=3, only="backward_matches_own_steps")
    assert not result.properties[0].passed
    assert "the bug is in rnn_backward's loop through time" in result.properties[0].message
    step_bug = M("rnn_backward", "step_bug", "step", edit("rnn_step_backward", "(1 - next_h ** 2)", "(1 - next_h)"), [])
    root = plant(tmp_path / "step", A5, solution_sources(A5), step_bug)
    _, (result,) = run_checks(["rnn_backward"], root, seed=3)
    verdicts = {p.name: p.passed for p in result.properties}
    assert not verdicts["vjp_matches_reference"] and verdicts["backward_matches_own_steps"]
