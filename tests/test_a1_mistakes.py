"""Planted mistakes ("mutants") in the a1_backprop solutions: the checker must catch every one.

The harness is `tests/mutants.py`; this file holds a1's mutants, each named with the properties it
must fail and the hint it must show. Most are the solution with a line or two edited (`edit`); those
written in full are code of another shape than the solution's (loops, wrappers, CS231n's versions).
"""

from __future__ import annotations

import textwrap

import pytest

from mutants import SEEDS, M, Mutant, edit, check_planted

A1 = "a1_backprop"
ASSIGNMENT = A1  # this file's mutant table, for the coverage tests of tests/test_mutants.py
MIN_SPEC_HINTS = 20

# Hint substrings (the checker's own wording; `assert_every_hint_shown` keeps them honest).
CHAIN_RULE = "multiplied by dout (chain rule)"
COPY_INPUT = "Work on a copy"
NEW_DX = "Build dx as a new array"
NOT_GLOBALS = "not in globals"
KEEP_DTYPE = "Keep the input's dtype"
NO_BIG_EXP = "Never evaluate exp of a large positive number"
ROW_MAX = "Subtract EACH ROW's own maximum"
LOG_SUM_EXP = "(log-sum-exp), not log(softmax(x))"
SIGMOID_WARNS = "gives the right values but overflows"
SUM_NOT_MEAN = "The loss is a mean over the batch"
DIVIDE_BY_SIZE = "Divide by the number of elements"
ONE_NUMBER = "to get one number"
TRANSPOSE = "check for a missing or extra transpose"
FRESH_GRADS = "Return new arrays for the gradients"

# A forward that keeps its cache in a module global, and the backward that reads it from there.
_GLOBAL = """
_solution_{name}_forward, _solution_{name}_backward = {name}_forward, {name}_backward
_last_cache = None


def {name}_forward({params}):
    global _last_cache
    out, cache = _solution_{name}_forward({args})
    _last_cache = cache
    return out, cache


def {name}_backward(dout, cache):
    return _solution_{name}_backward(dout, _last_cache)  # the cache of the LAST forward
"""


def global_cache(name: str, params: str, args: str | None = None) -> str:
    """The solution's pair, but the backward uses the cache of the most recent forward."""
    return _GLOBAL.format(name=name, params=params, args=args or params)


# Shifting by the row maximum in the caller's array instead of a copy.
SHIFT_IN_PLACE = "x -= x.max(axis=1, keepdims=True)\n    shifted = x"

MUTANTS = [
    # ----------------------------------------------------------------------------- affine_forward
    M("affine_forward", "no_flatten", "crash", edit("affine_forward", "out = x_flat @ w + b", "out = x @ w + b"),
      ["runs_on_valid_inputs"]),
    M("affine_forward", "no_bias", "wrong_value", edit("affine_forward", "out = x_flat @ w + b", "out = x_flat @ w"),
      ["matches_reference"], hint="The bias b is added to every row"),
    M("affine_forward", "column_vectors", "transposed",
      edit("affine_forward", "out = x_flat @ w + b",
           "out = w.T @ x_flat.T + b[:, None]   # (M, N): one column per example"),
      ["output_shape_and_dtype", "matches_reference"], hint=TRANSPOSE),
    M("affine_forward", "reshape_in_place", "mutates_input",
      edit("affine_forward", "x_flat = x.reshape(x.shape[0], -1)",
           "x.shape = (x.shape[0], -1)          # changes the caller's array\n    x_flat = x"),
      ["inputs_unchanged"], hint=COPY_INPUT),
    M("affine_forward", "astype_float", "float32_upcast",
      edit("affine_forward", "x.reshape(x.shape[0], -1)", "x.reshape(x.shape[0], -1).astype(float)"),
      ["preserves_float32"], hint=KEEP_DTYPE),

    # ---------------------------------------------------------------------------- affine_backward
    M("affine_backward", "db_mean", "sum_vs_mean",
      edit("affine_backward", "db = dout.sum(axis=0)", "db = dout.mean(axis=0)"),
      ["vjp_matches_reference"], hint="db is the SUM of dout"),
    M("affine_backward", "db_keepdims", "wrong_shape",
      edit("affine_backward", "db = dout.sum(axis=0)", "db = np.sum(dout, axis=0, keepdims=True)   # (1, M)"),
      ["gradient_shapes", "vjp_matches_reference"], hint="An extra axis of length 1"),
    M("affine_backward", "dx_not_reshaped", "wrong_shape",
      edit("affine_backward", "dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T   # (N, D), not x's shape"),
      ["gradient_shapes"], hint="reshape to"),
    M("affine_backward", "dx_untransposed_w", "transposed", edit("affine_backward", "dout @ w.T", "dout @ w"),
      ["runs_on_valid_inputs"]),
    M("affine_backward", "dw_transposed", "transposed",
      edit("affine_backward", "dw = x_flat.T @ dout", "dw = dout.T @ x_flat   # (M, D)"),
      ["gradient_shapes"], hint=TRANSPOSE),
    M("affine_backward", "global_cache", "global_cache", global_cache("affine", "x, w, b"),
      ["caches_are_independent"], hint=NOT_GLOBALS),

    # ------------------------------------------------------------------------------- relu_forward
    M("relu_forward", "max_along_axis", "wrong_shape",
      edit("relu_forward", "np.maximum(x, 0)", "np.max(x, 0)   # a reduction over axis 0, not max(x, 0)"),
      ["output_shape_and_dtype", "matches_reference", "matches_reference_at_edges"]),
    M("relu_forward", "returns_mask", "wrong_value",
      edit("relu_forward", "np.maximum(x, 0)", "(x > 0).astype(x.dtype)"),
      ["matches_reference", "matches_reference_at_edges"]),
    M("relu_forward", "in_place", "mutates_input",
      edit("relu_forward", "out = np.maximum(x, 0)", "x[x < 0] = 0\n    out = x"),
      ["inputs_unchanged"], hint=COPY_INPUT),
    M("relu_forward", "float_mask", "float32_upcast",
      edit("relu_forward", "np.maximum(x, 0)", "x * (x > 0).astype(float)"),
      ["preserves_float32"], hint=KEEP_DTYPE),

    # ------------------------------------------------------------------------------ relu_backward
    M("relu_backward", "one_at_zero", "kink", edit("relu_backward", "(x > 0)", "(x >= 0)"),
      ["derivative_at_zero"], hint="ReLU's derivative at exactly x = 0 to 0"),
    M("relu_backward", "forgets_dout", "forgets_dout",
      edit("relu_backward", "dout * (x > 0)", "(x > 0).astype(dout.dtype)"),
      ["vjp_matches_reference"], hint=CHAIN_RULE),
    M("relu_backward", "dx_is_dout", "mutates_dout",
      edit("relu_backward", "dx = dout * (x > 0)", "dx = dout\n    dx[x <= 0] = 0"),
      ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=(NEW_DX, "a view of dout")),
    M("relu_backward", "global_cache", "global_cache", global_cache("relu", "x"), ["caches_are_independent"]),

    # ------------------------------------------------------------------------- leaky_relu_forward
    M("leaky_relu_forward", "copied_relu", "wrong_value",
      edit("leaky_relu_forward", "np.where(x > 0, x, alpha * x)", "np.maximum(x, 0)"),
      ["matches_reference", "matches_reference_at_edges"], hint="The default slope is alpha=0.01"),
    M("leaky_relu_forward", "hardcoded_slope", "ignores_hyperparameter",
      edit("leaky_relu_forward", "np.where(x > 0, x, alpha * x)", "np.maximum(0.01 * x, x)"),
      ["matches_reference", "matches_reference_at_edges"]),
    M("leaky_relu_forward", "slope_array", "float32_upcast",
      edit("leaky_relu_forward", "np.where(x > 0, x, alpha * x)",
           "x * np.where(x > 0, 1.0, alpha)   # float64, whatever x is"),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("leaky_relu_forward", "in_place", "mutates_input",
      edit("leaky_relu_forward", "out = np.where(x > 0, x, alpha * x)", "x[x <= 0] *= alpha\n    out = x"),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # ------------------------------------------------------------------------ leaky_relu_backward
    M("leaky_relu_backward", "one_at_zero", "kink", edit("leaky_relu_backward", "x > 0", "x >= 0"),
      ["derivative_at_zero"], hint="leaky ReLU's derivative at exactly x = 0 to alpha"),
    M("leaky_relu_backward", "forgets_dout", "forgets_dout",
      edit("leaky_relu_backward", "np.where(x > 0, dout, alpha * dout)", "np.where(x > 0, 1.0, alpha)"),
      ["vjp_matches_reference"], hint=CHAIN_RULE),
    M("leaky_relu_backward", "relu_derivative", "wrong_value",
      edit("leaky_relu_backward", "np.where(x > 0, dout, alpha * dout)", "dout * (x > 0)"),
      ["vjp_matches_reference"]),
    M("leaky_relu_backward", "dout_in_place", "mutates_dout",
      edit("leaky_relu_backward", "dx = np.where(x > 0, dout, alpha * dout)", "dout[x <= 0] *= alpha\n    dx = dout"),
      ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=NEW_DX),
    M("leaky_relu_backward", "global_cache", "global_cache", global_cache("leaky_relu", "x, alpha=0.01", "x, alpha"),
      ["caches_are_independent"]),

    # -------------------------------------------------------------------------------- elu_forward
    M("elu_forward", "precedence", "wrong_value",
      edit("elu_forward", "alpha * np.expm1(neg)", "alpha * np.exp(neg) - 1"),
      ["matches_reference"]),
    M("elu_forward", "ignores_alpha", "ignores_hyperparameter",
      edit("elu_forward", "alpha * np.expm1(neg)", "np.expm1(neg)"),
      ["matches_reference"]),
    M("elu_forward", "zeros_then_fill", "float32_upcast", """
        def elu_forward(x, alpha=1.0):
            out = np.zeros(x.shape)
            pos = x >= 0
            out[pos] = x[pos]
            out[~pos] = alpha * (np.exp(x[~pos]) - 1)
            return out, (x, alpha)
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("elu_forward", "in_place", "mutates_input",
      edit("elu_forward", "out = np.where(x >= 0, x, alpha * np.expm1(neg))",
           "x[x < 0] = alpha * np.expm1(x[x < 0])\n    out = x"),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # ------------------------------------------------------------------------------- elu_backward
    M("elu_backward", "forgets_alpha", "wrong_value",
      edit("elu_backward", "dout * (alpha * np.exp(neg))", "dout * np.exp(neg)"),
      ["vjp_matches_reference"], hint="not exp(x)"),
    M("elu_backward", "forgets_dout", "forgets_dout",
      edit("elu_backward", "np.where(x >= 0, dout, dout * (alpha * np.exp(neg)))",
           "np.where(x >= 0, 1.0, alpha * np.exp(neg))"),
      ["vjp_matches_reference"], hint=CHAIN_RULE),
    M("elu_backward", "ones_then_fill", "float32_upcast", """
        def elu_backward(dout, cache):
            x, alpha = cache
            local = np.ones(x.shape)
            local[x < 0] = alpha * np.exp(x[x < 0])
            return dout * local
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("elu_backward", "dout_in_place", "mutates_dout",
      edit("elu_backward", "dx = np.where(x >= 0, dout, dout * (alpha * np.exp(neg)))",
           "dout[x < 0] *= alpha * np.exp(x[x < 0])\n    dx = dout"),
      ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=NEW_DX),
    M("elu_backward", "global_cache", "global_cache", global_cache("elu", "x, alpha=1.0", "x, alpha"),
      ["caches_are_independent"]),

    # ---------------------------------------------------------------------------- sigmoid_forward
    M("sigmoid_forward", "naive_exp", "overflow",
      edit("sigmoid_forward", "np.where(x >= 0, 1 / (1 + z), z / (1 + z))", "1 / (1 + np.exp(-x))"),
      ["stable_at_extreme_inputs"], hint=SIGMOID_WARNS),
    M("sigmoid_forward", "exp_ratio", "overflow",
      edit("sigmoid_forward", "out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))",
           "e = np.exp(x)\n    out = e / (1 + e)"),
      ["stable_at_large_inputs"], hint=NO_BIG_EXP),
    M("sigmoid_forward", "sign_error", "wrong_value",
      edit("sigmoid_forward", "np.where(x >= 0, 1 / (1 + z), z / (1 + z))",
           "np.where(x >= 0, z / (1 + z), 1 / (1 + z))   # sigmoid(-x)"),
      ["matches_reference"]),
    M("sigmoid_forward", "masked_fill", "float32_upcast", """
        def sigmoid_forward(x):
            out = np.empty(x.shape)
            pos = x >= 0
            out[pos] = 1 / (1 + np.exp(-x[pos]))
            e = np.exp(x[~pos])
            out[~pos] = e / (1 + e)
            return out, (out,)
        """, ["preserves_float32"], hint=KEEP_DTYPE),

    # --------------------------------------------------------------------------- sigmoid_backward
    M("sigmoid_backward", "forgets_dout", "forgets_dout",
      edit("sigmoid_backward", "dout * out * (1 - out)", "out * (1 - out)"),
      ["vjp_matches_reference"], hint=CHAIN_RULE),
    M("sigmoid_backward", "s_alone", "wrong_value", edit("sigmoid_backward", "dout * out * (1 - out)", "dout * out"),
      ["vjp_matches_reference"], hint="not s alone"),
    M("sigmoid_backward", "x_not_s", "wrong_value",
      edit("sigmoid_forward", "cache = (out,)", "cache = (x,)") + "\n\n"
      + edit("sigmoid_backward", "(out,) = cache\n    dx = dout * out * (1 - out)",
             "(x,) = cache\n    dx = dout * x * (1 - x)"),
      ["vjp_matches_reference"], hint="use s, not x"),
    M("sigmoid_backward", "cache_in_place", "mutates_cache", edit("sigmoid_backward", "dx = dout * out * (1 - out)",
           "out *= 1 - out   # overwrites the cached output\n    out *= dout\n    dx = out"),
      ["caches_are_independent", "gradients_are_fresh_arrays"], hint=NOT_GLOBALS),
    M("sigmoid_backward", "global_cache", "global_cache", global_cache("sigmoid", "x"),
      ["caches_are_independent"], hint=NOT_GLOBALS),

    # ------------------------------------------------------------------------------- tanh_forward
    M("tanh_forward", "sigmoid_identity", "wrong_value",
      edit("tanh_forward", "np.tanh(x)", "2 / (1 + np.exp(-x)) - 1   # that is tanh(x / 2)"),
      ["matches_reference"]),
    M("tanh_forward", "flattens", "wrong_shape",
      edit("tanh_forward", "np.tanh(x)", "np.tanh(x.reshape(x.shape[0], -1))"),
      ["output_shape_and_dtype"], hint="reshape"),
    M("tanh_forward", "asarray_float", "float32_upcast",
      edit("tanh_forward", "np.tanh(x)", "np.tanh(np.asarray(x, dtype=float))"),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("tanh_forward", "out_is_x", "mutates_input", edit("tanh_forward", "np.tanh(x)", "np.tanh(x, out=x)"),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # ------------------------------------------------------------------------------ tanh_backward
    M("tanh_backward", "forgets_dout", "forgets_dout",
      edit("tanh_backward", "dout * (1 - out * out)", "1 - out * out"),
      ["vjp_matches_reference"], hint=CHAIN_RULE),
    M("tanh_backward", "missing_square", "wrong_value", edit("tanh_backward", "(1 - out * out)", "(1 - out)"),
      ["vjp_matches_reference"], hint="The derivative of tanh is"),
    M("tanh_backward", "dout_in_place", "mutates_dout",
      edit("tanh_backward", "dx = dout * (1 - out * out)", "dout *= 1 - out * out\n    dx = dout"),
      ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=NEW_DX),
    M("tanh_backward", "global_cache", "global_cache", global_cache("tanh", "x"),
      ["caches_are_independent"], hint=NOT_GLOBALS),

    # ------------------------------------------------------------------------------------ softmax
    M("softmax", "no_max_shift", "overflow", edit("softmax", "np.exp(shifted)", "np.exp(x)"),
      ["stable_at_large_inputs"], hint=ROW_MAX),
    M("softmax", "over_columns", "wrong_axis",
      edit("softmax", "x.max(axis=1, keepdims=True)",
           "x.max(axis=0, keepdims=True)", ("e.sum(axis=1, keepdims=True)", "e.sum(axis=0, keepdims=True)")),
      ["matches_reference", "rows_sum_to_one", "shift_invariant"],
      hint="Normalise each row over the classes (axis=1)"),
    M("softmax", "whole_array", "wrong_axis",
      edit("softmax", "x.max(axis=1, keepdims=True)", "np.max(x)", ("e.sum(axis=1, keepdims=True)", "np.sum(e)")),
      ["matches_reference", "rows_sum_to_one", "shift_invariant"], hint="Normalise over the classes, axis=1"),
    M("softmax", "no_keepdims", "crash",
      edit("softmax", "x.max(axis=1, keepdims=True)",
           "np.max(x, axis=1)", ("e.sum(axis=1, keepdims=True)", "np.sum(e, axis=1)")),
      ["runs_on_valid_inputs"]),
    M("softmax", "row_loop", "float32_upcast", """
        def softmax(x):
            probs = np.zeros(x.shape)
            for i in range(x.shape[0]):
                e = np.exp(x[i] - np.max(x[i]))
                probs[i] = e / np.sum(e)
            return probs
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("softmax", "shift_in_place", "mutates_input",
      edit("softmax", "shifted = x - x.max(axis=1, keepdims=True)", SHIFT_IN_PLACE),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # -------------------------------------------------------------------------------- log_softmax
    M("log_softmax", "log_of_softmax", "underflow", """
        def log_softmax(x):
            return np.log(softmax(x))
        """, ["stable_at_extreme_inputs"], hint=LOG_SUM_EXP),
    M("log_softmax", "no_max_shift", "overflow",
      edit("log_softmax", "shifted = x - x.max(axis=1, keepdims=True)", "shifted = x"),
      ["stable_at_large_inputs", "stable_at_extreme_inputs"], hint=ROW_MAX),
    M("log_softmax", "max_not_added_back", "wrong_value", edit("log_softmax", "return shifted - ", "return x - "),
      ["matches_reference", "shift_invariant"]),
    M("log_softmax", "no_keepdims", "crash", edit("log_softmax", ".sum(axis=1, keepdims=True)", ".sum(axis=1)"),
      ["runs_on_valid_inputs"]),
    M("log_softmax", "float64_sum", "float32_upcast",
      edit("log_softmax", ".sum(axis=1, keepdims=True)", ".sum(axis=1, keepdims=True, dtype=np.float64)"),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("log_softmax", "shift_in_place", "mutates_input",
      edit("log_softmax", "shifted = x - x.max(axis=1, keepdims=True)", SHIFT_IN_PLACE),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # ------------------------------------------------------------------------------- softmax_loss
    M("softmax_loss", "sum_not_mean", "sum_vs_mean",
      edit("softmax_loss", "loss = -log_probs[rows, y].sum() / N",
           "loss = -log_probs[rows, y].sum()", ("\n    dx /= N", "")),
      ["loss_matches_reference", "gradient_matches_reference"], hint=SUM_NOT_MEAN),
    M("softmax_loss", "forgets_minus_one", "wrong_value", edit("softmax_loss", "\n    dx[rows, y] -= 1", ""),
      ["gradient_matches_reference"], hint="subtract 1 at the correct class"),
    M("softmax_loss", "loss_keepdims", "wrong_shape",
      edit("softmax_loss", "loss = -log_probs[rows, y].sum() / N",
           "loss = -np.mean(log_probs[rows, y], keepdims=True)   # shape (1,)",
           ("return float(loss), dx", "return loss, dx")),
      ["output_shapes"], hint=ONE_NUMBER),
    M("softmax_loss", "onehot_zeros", "float32_upcast", """
        def softmax_loss(x, y):
            N = x.shape[0]
            probs = softmax(x)
            onehot = np.zeros(x.shape)
            onehot[np.arange(N), y] = 1
            loss = -np.sum(onehot * log_softmax(x)) / N
            return float(loss), (probs - onehot) / N
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("softmax_loss", "shift_in_place", "mutates_input",
      edit("softmax_loss", "shifted = x - x.max(axis=1, keepdims=True)", SHIFT_IN_PLACE),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # ------------------------------------------------------------------------- cross_entropy_loss
    M("cross_entropy_loss", "sum_not_mean", "sum_vs_mean",
      edit("cross_entropy_loss", "loss = -(p * log_probs).sum() / N",
           "loss = -(p * log_probs).sum()", (" - p) / N", " - p)")),
      ["loss_matches_reference", "gradient_matches_reference"], hint=SUM_NOT_MEAN),
    M("cross_entropy_loss", "argmax_targets", "wrong_value", """
        def cross_entropy_loss(x, p):
            return softmax_loss(x, p.argmax(axis=1))   # treats soft labels as hard ones
        """, ["loss_matches_reference", "gradient_matches_reference"]),
    M("cross_entropy_loss", "per_example_loss", "wrong_shape",
      edit("cross_entropy_loss", "loss = -(p * log_probs).sum() / N",
           "loss = -np.sum(p * log_probs, axis=1) / N   # (N,): forgot to sum over the batch",
           ("return float(loss), dx", "return loss, dx")), ["output_shapes"], hint=ONE_NUMBER),
    M("cross_entropy_loss", "shift_in_place", "mutates_input",
      edit("cross_entropy_loss", "shifted = x - x.max(axis=1, keepdims=True)", SHIFT_IN_PLACE),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # ----------------------------------------------------------------------------------- svm_loss
    M("svm_loss", "counts_correct_class", "wrong_value", edit("svm_loss", "\n    margins[rows, y] = 0", ""),
      ["loss_matches_reference"], hint="The correct class has no margin term"),
    M("svm_loss", "sum_not_mean", "sum_vs_mean",
      edit("svm_loss", "loss = margins.sum() / N", "loss = margins.sum()", ("dx = active / N", "dx = active")),
      ["loss_matches_reference", "gradient_matches_reference"], hint=SUM_NOT_MEAN),
    M("svm_loss", "correct_class_sign", "wrong_value",
      edit("svm_loss", "active[rows, y] = -active.sum(axis=1)",
           "active[rows, y] = active.sum(axis=1)   # should be minus"),
      ["gradient_matches_reference"]),
    M("svm_loss", "naive_loops", "float32_upcast", """
        def svm_loss(x, y):
            N, C = x.shape
            loss = 0.0
            dx = np.zeros((N, C))
            for i in range(N):
                for j in range(C):
                    if j == y[i]:
                        continue
                    margin = x[i, j] - x[i, y[i]] + 1
                    if margin > 0:
                        loss += margin
                        dx[i, j] += 1
                        dx[i, y[i]] -= 1
            return float(loss / N), dx / N
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("svm_loss", "margins_alias_x", "mutates_input", """
        def svm_loss(x, y):
            N = x.shape[0]
            rows = np.arange(N)
            margins = x                      # not a copy
            margins -= x[rows, y][:, None]
            margins += 1
            np.maximum(margins, 0, out=margins)
            margins[rows, y] = 0
            active = (margins > 0).astype(x.dtype)
            active[rows, y] = -active.sum(axis=1)
            return float(margins.sum() / N), active / N
        """, ["inputs_unchanged"], hint=COPY_INPUT),

    # ----------------------------------------------------------------------------------- mse_loss
    M("mse_loss", "mean_over_batch_only", "sum_vs_mean",
      edit("mse_loss", "np.mean(diff * diff)", "np.sum(diff * diff) / diff.shape[0]",
           ("2 * diff / diff.size", "2 * diff / diff.shape[0]")),
      ["loss_matches_reference", "gradient_matches_reference"], hint="The mean is over ALL elements"),
    M("mse_loss", "forgets_factor_two", "wrong_value", edit("mse_loss", "2 * diff / diff.size", "diff / diff.size"),
      ["gradient_matches_reference"], hint="keep the factor 2"),
    M("mse_loss", "gradient_not_averaged", "sum_vs_mean", edit("mse_loss", "2 * diff / diff.size", "2 * diff"),
      ["gradient_matches_reference"], hint=DIVIDE_BY_SIZE),
    M("mse_loss", "dpred_is_pred", "view_of_input", """
        def mse_loss(pred, target):
            loss = float(np.mean((pred - target) ** 2))
            dpred = pred                     # not a copy
            dpred -= target
            dpred *= 2 / pred.size
            return loss, dpred
        """, ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=FRESH_GRADS),

    # ------------------------------------------------------------------------------------ l1_loss
    M("l1_loss", "gradient_not_averaged", "sum_vs_mean",
      edit("l1_loss", "np.sign(diff) / diff.size", "np.sign(diff)"),
      ["gradient_matches_reference"], hint=DIVIDE_BY_SIZE),
    M("l1_loss", "sum_not_mean", "sum_vs_mean",
      edit("l1_loss", "np.mean(np.abs(diff))",
           "np.sum(np.abs(diff))", ("np.sign(diff) / diff.size", "np.sign(diff)")),
      ["loss_matches_reference", "gradient_matches_reference"], hint=DIVIDE_BY_SIZE),
    M("l1_loss", "relu_like_derivative", "wrong_value",
      edit("l1_loss", "np.sign(diff)", "(diff > 0).astype(diff.dtype)"),
      ["gradient_matches_reference"]),
    M("l1_loss", "where_constants", "float32_upcast",
      edit("l1_loss", "np.sign(diff)", "np.where(diff > 0, 1.0, np.where(diff < 0, -1.0, 0.0))"),
      ["preserves_float32"], hint=KEEP_DTYPE),

    # --------------------------------------------------------------------------------- huber_loss
    M("huber_loss", "gradient_not_clipped", "wrong_value",
      edit("huber_loss", "np.clip(r, -delta, delta) / r.size", "r / r.size"),
      ["gradient_matches_reference"], hint="clip it"),
    M("huber_loss", "gradient_not_averaged", "sum_vs_mean",
      edit("huber_loss", "np.clip(r, -delta, delta) / r.size", "np.clip(r, -delta, delta)"),
      ["gradient_matches_reference"], hint=DIVIDE_BY_SIZE),
    M("huber_loss", "linear_branch_parenthesis", "wrong_value",
      edit("huber_loss", "delta * (abs_r - 0.5 * delta)", "delta * abs_r - 0.5 * delta"),
      ["loss_matches_reference"]),
    M("huber_loss", "residual_in_place", "mutates_input",
      edit("huber_loss", "r = pred - target", "r = pred\n    r -= target"),
      ["inputs_unchanged"], hint=COPY_INPUT),

    # -------------------------------------------------------------------------- l2_regularization
    M("l2_regularization", "forgets_half", "forgets_half",
      edit("l2_regularization", "0.5 * reg * np.sum(w * w)",
           "reg * np.sum(w * w)", ("dw = reg * w", "dw = 2 * reg * w")),
      ["loss_matches_reference", "gradient_matches_reference"], hint=("with the 0.5", "sum(w²) is reg·w")),
    M("l2_regularization", "mean_not_sum", "sum_vs_mean",
      edit("l2_regularization", "np.sum(w * w)", "np.mean(w * w)", ("dw = reg * w", "dw = reg * w / w.size")),
      ["loss_matches_reference", "gradient_matches_reference"]),
    M("l2_regularization", "dw_is_w", "view_of_input",
      edit("l2_regularization", "dw = reg * w", "dw = w\n    dw *= reg"),
      ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=FRESH_GRADS),
    M("l2_regularization", "sum_over_axis_0", "wrong_shape",
      edit("l2_regularization", "np.sum(w * w)",
           "np.sum(w * w, axis=0)", ("return float(loss), dw", "return loss, dw")),
      ["output_shapes"], hint=ONE_NUMBER),

    # ------------------------------------------------------------------------------ two_layer_net
    M("two_layer_net", "reg_without_half", "forgets_half", edit("two_layer_net", "0.5 * reg * (", "reg * ("),
      ["loss_matches_reference"], hint="The L2 term is 0.5"),
    M("two_layer_net", "no_reg_gradient", "forgets_reg",
      edit("two_layer_net", "dW1 + reg * W1", "dW1", ("dW2 + reg * W2", "dW2")),
      ["gradient_matches_reference"], hint="Add the regularisation gradient"),
    M("two_layer_net", "ignores_y_none", "ignores_y_none",
      edit("two_layer_net", "\n    if y is None:\n        return scores", ""),
      ["scores_without_labels"]),
    M("two_layer_net", "manual_dW2_transposed", "transposed",
      edit("two_layer_net", "da, dW2, db2 = affine_backward(dscores, cache2)",
           "dW2 = dscores.T @ a   # (C, H)\n    da, db2 = dscores @ W2.T, dscores.sum(axis=0)",
           ("dW2 + reg * W2", "dW2 + reg * W2.T")), ["output_shapes"], hint=TRANSPOSE),
    M("two_layer_net", "flattens_X_in_place", "mutates_input", """
        _solution_two_layer_net = two_layer_net


        def two_layer_net(X, params, y=None, reg=0.0):
            X.shape = (X.shape[0], -1)
            return _solution_two_layer_net(X, params, y, reg)
        """, ["inputs_unchanged"], hint=COPY_INPUT),
    M("two_layer_net", "zeros_grads", "float32_upcast",
      edit("two_layer_net", "grads = {}", "grads = {k: np.zeros(v.shape) for k, v in params.items()}",
           *((f'grads["{k}"] = ', f'grads["{k}"] += ') for k in ("W1", "b1", "W2", "b2"))),
      ["preserves_float32"], hint=KEEP_DTYPE),

    # ------------------------------------------------------------------------ fully_connected_net
    M("fully_connected_net", "regularises_biases", "wrong_value",
      edit("fully_connected_net", 'grads[f"b{l}"] = db', 'grads[f"b{l}"] = db + reg * params[f"b{l}"]',
           ("float(np.sum(W * W))", 'float(np.sum(W * W) + np.sum(params[f"b{l}"] ** 2))')),
      ["loss_matches_reference", "gradient_matches_reference"], hint="none of the biases"),
    M("fully_connected_net", "ignores_y_none", "ignores_y_none", """
        _solution_fully_connected_net = fully_connected_net


        def fully_connected_net(X, params, y=None, reg=0.0):
            if y is None:
                y = np.zeros(X.shape[0], dtype=int)    # "some labels" so the loss runs
            return _solution_fully_connected_net(X, params, y, reg)
        """, ["scores_without_labels"]),
    M("fully_connected_net", "relu_after_last_layer", "wrong_value",
      edit("fully_connected_net", "relu_cache = None\n        if l < L:\n            out, relu_cache",
           "out, relu_cache"), ["loss_matches_reference", "gradient_matches_reference", "scores_without_labels"]),
    M("fully_connected_net", "two_layers_only", "fixed_depth", """
        def fully_connected_net(X, params, y=None, reg=0.0):
            return two_layer_net(X, params, y, reg)
        """, ["runs_on_valid_inputs"]),
    M("fully_connected_net", "reg_loss_overwritten", "forgets_reg",
      edit("fully_connected_net", "reg_loss += ", "reg_loss = "),
      ["loss_matches_reference"]),
    M("fully_connected_net", "reg_grad_into_params", "view_of_input",
      edit("fully_connected_net", 'grads[f"W{l}"] = dW + reg * W',
           'g = W   # not a copy: the next lines change params\n'
           '        g *= reg\n        g += dW\n        grads[f"W{l}"] = g'),
      ["inputs_unchanged", "gradients_are_fresh_arrays"], hint=FRESH_GRADS),
]


# Mistakes that an earlier version of the checker missed or explained without their hint.
MUTANTS += [
    M("l1_loss", "sign_one_at_zero", "kink",
      edit("l1_loss", "np.sign(diff) / diff.size",
           "np.where(diff >= 0, 1, -1).astype(diff.dtype) / diff.size   # +1 where pred == target"),
      ["gradient_where_equal"], hint="where pred == target exactly to 0"),
    M("two_layer_net", "adds_key_to_params", "mutates_input", """
        _solution_two_layer_net = two_layer_net


        def two_layer_net(X, params, y=None, reg=0.0):
            params["reg"] = reg                # a new key in the caller's dict
            return _solution_two_layer_net(X, params, y, reg)
        """, ["inputs_unchanged"], hint=COPY_INPUT),
    *[M(f"{name}_backward", "global_cache_hint", "global_cache", global_cache(name, params, args),
        ["caches_are_independent"], hint=NOT_GLOBALS)
      for name, params, args in (("relu", "x", "x"), ("leaky_relu", "x, alpha=0.01", "x, alpha"),
                                 ("elu", "x, alpha=1.0", "x, alpha"))],
    M("softmax_loss", "no_max_shift", "overflow",
      edit("softmax_loss", "shifted = x - x.max(axis=1, keepdims=True)", "shifted = x"),
      ["stable_at_large_inputs"], hint=ROW_MAX),
    M("cross_entropy_loss", "no_max_shift", "overflow",
      edit("cross_entropy_loss", "shifted = x - x.max(axis=1, keepdims=True)", "shifted = x"),
      ["stable_at_large_inputs"], hint=ROW_MAX),
    M("tanh_forward", "exp_formula", "overflow",
      edit("tanh_forward", "np.tanh(x)", "(np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))"),
      ["stable_at_large_inputs"], hint=NO_BIG_EXP),
]


# Issue 13: bugs that passed (the softmax family shifted by the maximum of the whole batch, ELU's
# slope at exactly 0), conventions that are minor properties of their own, and the float32 case
# shown as float32. Focused: each is checked on the properties it names.
_BATCH_MAX = {
    "softmax": edit("softmax", "x.max(axis=1, keepdims=True)", "np.max(x)   # the whole batch's maximum"),
    "log_softmax": edit("log_softmax", "x.max(axis=1, keepdims=True)", "x.max()"),
    "softmax_loss": edit("softmax_loss", "x.max(axis=1, keepdims=True)", "np.max(x)"),
    "cross_entropy_loss": edit("cross_entropy_loss", "x.max(axis=1, keepdims=True)", "x.max()"),
}
MUTANTS += [M(name, "batch_max_shift", "overflow", source, ["stable_at_large_inputs"], hint=ROW_MAX, focused=True)
            for name, source in _BATCH_MAX.items()]
MUTANTS += [
    # The loss is recognised as N times too large although it was summed in another order than the
    # reference's mean (numbers are compared with a tolerance, not bit for bit).
    M("cross_entropy_loss", "sum_not_mean_loss_alone", "sum_vs_mean",
      edit("cross_entropy_loss", "loss = -(p * log_probs).sum() / N",
           "loss = -(p * log_probs).sum()", (" - p) / N", " - p)")),
      ["loss_matches_reference"], hint=SUM_NOT_MEAN, focused=True),
    M("elu_backward", "alpha_slope_at_zero", "kink", edit("elu_backward", "x >= 0", "x > 0"),
      ["derivative_at_zero"], hint="ELU's derivative at exactly x = 0 to 1", focused=True),
    M("elu_forward", "exp_of_everything", "overflow",
      edit("elu_forward", "alpha * np.expm1(neg))", "alpha * (np.exp(x) - 1))   # exp of large positive x overflows"),
      ["stable_at_extreme_inputs"], hint="np.where computes both branches", focused=True),
    M("svm_loss", "zero_margin_active", "kink",
      edit("svm_loss", "margins = np.maximum(x - correct + 1, 0)",
           "raw = x - correct + 1\n    margins = np.maximum(raw, 0)",
           ("active = (margins > 0).astype(x.dtype)",
            "active = (raw >= 0).astype(x.dtype)   # a margin of exactly 0 counted as active\n"
            "    active[rows, y] = 0")),
      ["margin_exactly_zero"], hint="A margin of exactly 0 counts as inactive", focused=True),
    M("softmax_loss", "cs231n_2016_log_of_probs", "underflow", """
        def softmax_loss(x, y):
            probs = np.exp(x - np.max(x, axis=1, keepdims=True))
            probs /= np.sum(probs, axis=1, keepdims=True)
            N = x.shape[0]
            loss = -np.sum(np.log(probs[np.arange(N), y])) / N
            dx = probs.copy()
            dx[np.arange(N), y] -= 1
            dx /= N
            return loss, dx
        """, ["stable_at_extreme_inputs"], hint=LOG_SUM_EXP, focused=True),
    M("cross_entropy_loss", "log_of_probs", "underflow", """
        def cross_entropy_loss(x, p):
            probs = np.exp(x - x.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            N = x.shape[0]
            return float(-(p * np.log(probs)).sum() / N), (probs - p) / N
        """, ["stable_at_extreme_inputs"], hint=LOG_SUM_EXP, focused=True),
]



@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant: Mutant, tmp_path):
    check_planted(A1, mutant, tmp_path)


# Correct solutions written in other ways (CS231n's among them): every property holds, the
# conventions included. One planted folder, one check of the exercises they define.
CORRECT_VARIANTS = """
def relu_backward(dout, cache):
    (x,) = cache
    dx = dout.copy()
    dx[x <= 0] = 0                       # CS231n's
    return dx


def elu_backward(dout, cache):
    x, alpha = cache
    dx = dout.copy()
    neg = x < 0
    dx[neg] = dout[neg] * alpha * np.exp(x[neg])
    return dx


def softmax(x):
    z = x - np.max(x, axis=1, keepdims=True)
    return np.exp(z - np.log(np.sum(np.exp(z), axis=1, keepdims=True)))


def log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))


def softmax_loss(x, y):
    shifted_logits = x - np.max(x, axis=1, keepdims=True)          # CS231n 2019
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def svm_loss(x, y):
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]                     # CS231n 2019
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx


def sigmoid_forward(x):
    out = 0.5 * (1 + np.tanh(0.5 * x))
    return out, (out,)
"""
_VARIANT_MODULES = {"layers": ["relu_backward", "elu_backward", "sigmoid_forward"],
                    "losses": ["softmax", "log_softmax", "softmax_loss", "svm_loss"]}


def test_correct_variants_pass_every_property(tmp_path):
    from helpers import copy_solutions
    from dlgrade.grader.grading.session import run_checks

    folder = copy_solutions(tmp_path, A1)
    source = textwrap.dedent(CORRECT_VARIANTS)
    for module in _VARIANT_MODULES:
        path = folder / f"{module}.py"
        path.write_text(path.read_text() + "\n\n" + source)
    names = [n for ns in _VARIANT_MODULES.values() for n in ns]
    _, results = run_checks(names, tmp_path, "grading", seed=SEEDS[0])
    failing = {r.name: [f"{p.name}: {p.message.splitlines()[0]}" for p in r.properties if not p.passed]
               for r in results if not r.passed or r.points != r.max_points}
    assert not failing
