"""Planted mistakes ("mutants") in the a4_cnn solutions: the checker must catch every one, and
correct solutions written differently (CS231n-style loops, im2col) must pass.

The harness is `tests/mutants.py`; each mutant names the properties it must fail and the hint it
must show. Mutants wrap the solution (`_solution_NAME = NAME`) where the mistake is a change of
arguments or of the result, and are written out where the mistake is inside the loops.
"""

from __future__ import annotations

import textwrap

import pytest

from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.release import release
from helpers import manifest_exercises
from mutants import M, Mutant, assert_caught, check_planted, plant, solution_sources

A4 = "a4_cnn"
ASSIGNMENT = A4  # this file's mutant table, for the coverage tests of tests/test_mutants.py
MIN_SPEC_HINTS = 19

CROSS_CORRELATION = "without flipping the kernel"
BOTH_SIDES = "Zero padding goes on both sides"
OFF_BY_ONE = "H' = 1 + (H + 2·pad − HH) // stride rows"
POOL_OFF_BY_ONE = "H' = 1 + (H − pool_height) // stride rows"
STRIDE = "starts at row i·stride"
DW_AXES = "dw sums over every example and every output position"
DB_SUM = "db is the sum of dout over the batch and both spatial axes"
ACCUMULATE = "accumulate with +="
ONLY_MAX = "Only the window's maximum receives the gradient"
SPREAD = "spread the gradient evenly"
GLOBAL_MEAN = "Global average pooling is the MEAN"
GLOBAL_SPREAD = "receives dout[n, c] / (H·W)"
CHANNELS_LAST = "a plain reshape mixes channels"
TEST_MODE = "In test mode normalise with bn_param's running_mean"
MOMENTUM = "momentum (0.9 by default) weighs the OLD value"
BIASED_VAR = "biased batch variance"
WRITE_BACK = "Write the updated running_mean and running_var back"
GROUPS = "G groups of C // G CONSECUTIVE channels"
FULL_NORM = "dx also flows through the mean and the variance"
STRIDES_COMPOUND = "product of the strides of the layers BEFORE it"
BIAS_PARAMS = "params counts the F biases too"
MACS = "macs = F·C·HH·WW·H'·W'"
PY_INT = "Return Python ints"
NOT_GLOBALS = "not in globals"
COPY_INPUT = "Work on a copy"
NEW_DX = "Build dx as a new array"
KEEP_DTYPE = "Keep the input's dtype"


def wrap(name: str, body: str, params: str) -> str:
    """A mutant that keeps the solution under another name and redefines `name` with `body`."""
    indented = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    return f"_solution_{name} = {name}\n\n\ndef {name}({params}):\n{indented}\n"


def global_cache(name: str, params: str) -> str:
    return (f"_sf, _sb = {name}_forward, {name}_backward\n_last = None\n\n\n"
            f"def {name}_forward({params}):\n    global _last\n    out, _last = _sf({params})\n    return out, _last\n\n\n"
            f"def {name}_backward(dout, cache):\n    return _sb(dout, _last)\n")


NOT_DIVIDING = "CS231n lets you assume that the stride divides"
CONV_F, CONV_B = "conv_forward_naive", "conv_backward_naive"
CONV_ARGS, POOL_ARGS = "x, w, b, conv_param", "x, pool_param"
MAX_F, MAX_B, AVG_F, AVG_B = ("max_pool_forward_naive", "max_pool_backward_naive",
                              "avg_pool_forward_naive", "avg_pool_backward_naive")
GAP_F, GAP_B = "global_avg_pool_forward", "global_avg_pool_backward"
BN_F, BN_B, GN_F, GN_B = ("spatial_batchnorm_forward", "spatial_batchnorm_backward",
                          "spatial_groupnorm_forward", "spatial_groupnorm_backward")

#: Max-pool backward that ASSIGNS each window's masked gradient: right for the usual 2x2 /
#: stride-2 notebook check, wrong wherever windows overlap.
MAX_POOL_ASSIGNS = """
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    N, C, out_h, out_w = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    mask = window == window.max()
                    dx[n, c, i * s:i * s + ph, j * s:j * s + pw] = mask * dout[n, c, i, j]
    return dx
"""

MAX_POOL_ASSIGNS_AT_MAX = """
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    N, C, out_h, out_w = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + a, j * s + b] = dout[n, c, i, j]
    return dx
"""

MUTANTS = [
    # ------------------------------------------------------------------------- conv_forward_naive
    M(CONV_F, "flipped_kernel", "convolution_not_correlation", wrap(CONV_F, """
        return _solution_conv_forward_naive(x, w[:, :, ::-1, ::-1], b, conv_param)
        """, CONV_ARGS), ["matches_reference"], hint=CROSS_CORRELATION),
    M(CONV_F, "pads_one_side", "padding", wrap(CONV_F, """
        p = conv_param["pad"]
        x_pad = np.pad(x, ((0, 0), (0, 0), (2 * p, 0), (2 * p, 0)))
        return _solution_conv_forward_naive(x_pad, w, b, {"stride": conv_param["stride"], "pad": 0})
        """, CONV_ARGS), ["matches_reference"], hint=BOTH_SIDES),
    M(CONV_F, "one_row_short", "off_by_one", wrap(CONV_F, """
        out, cache = _solution_conv_forward_naive(x, w, b, conv_param)
        return out[:, :, :-1, :-1], cache
        """, CONV_ARGS), ["output_shape_and_dtype", "matches_reference", "output_size_formula"], hint=OFF_BY_ONE),
    M(CONV_F, "pad_counted_once", "padding", wrap(CONV_F, """
        p, s = conv_param["pad"], conv_param["stride"]
        out, cache = _solution_conv_forward_naive(x, w, b, conv_param)
        rows = max(1, 1 + (x.shape[2] + p - w.shape[2]) // s)
        cols = max(1, 1 + (x.shape[3] + p - w.shape[3]) // s)
        return out[:, :, :rows, :cols], cache
        """, CONV_ARGS), ["output_size_formula"], hint=BOTH_SIDES),
    M(CONV_F, "ignores_stride", "stride", wrap(CONV_F, """
        out, cache = _solution_conv_forward_naive(x, w, b, {**conv_param, "stride": 1})
        s = conv_param["stride"]
        rows = 1 + (x.shape[2] + 2 * conv_param["pad"] - w.shape[2]) // s
        cols = 1 + (x.shape[3] + 2 * conv_param["pad"] - w.shape[3]) // s
        return out[:, :, :rows, :cols], cache
        """, CONV_ARGS), ["matches_reference", "translation_equivariant"], hint=STRIDE),
    M(CONV_F, "asserts_divisible", "crash", wrap(CONV_F, """
        assert (x.shape[2] + 2 * conv_param["pad"] - w.shape[2]) % conv_param["stride"] == 0
        return _solution_conv_forward_naive(x, w, b, conv_param)
        """, CONV_ARGS), ["strides_that_do_not_divide"], hint=NOT_DIVIDING),
    M(CONV_F, "zeroes_input", "mutates_input", wrap(CONV_F, """
        out, cache = _solution_conv_forward_naive(x.copy(), w, b, conv_param)
        x[...] = 0
        return out, cache
        """, CONV_ARGS), ["inputs_unchanged"], hint=COPY_INPUT),
    M(CONV_F, "float64_out", "float32_upcast", wrap(CONV_F, """
        out, cache = _solution_conv_forward_naive(x, w, b, conv_param)
        return out.astype(float), cache
        """, CONV_ARGS), ["preserves_float32"], hint=KEEP_DTYPE),

    # ------------------------------------------------------------------------ conv_backward_naive
    M(CONV_B, "ignores_stride", "stride", wrap(CONV_B, """
        x, w, conv_param = cache
        return _solution_conv_backward_naive(dout, (x, w, {**conv_param, "stride": 1}))
        """, "dout, cache"), ["vjp_matches_reference"], hint=STRIDE),
    M(CONV_B, "dw_mean", "wrong_axes", wrap(CONV_B, """
        dx, dw, db = _solution_conv_backward_naive(dout, cache)
        return dx, dw / len(dout), db
        """, "dout, cache"), ["vjp_matches_reference"], hint=DW_AXES),
    M(CONV_B, "dw_last_example", "wrong_axes", wrap(CONV_B, """
        x, w, conv_param = cache
        dx, _, db = _solution_conv_backward_naive(dout, cache)
        _, dw, _ = _solution_conv_backward_naive(dout[-1:], (x[-1:], w, conv_param))
        return dx, dw, db
        """, "dout, cache"), ["vjp_matches_reference"], hint=DW_AXES),
    M(CONV_B, "db_mean", "wrong_axes", wrap(CONV_B, """
        dx, dw, db = _solution_conv_backward_naive(dout, cache)
        return dx, dw, db / len(dout)
        """, "dout, cache"), ["vjp_matches_reference", "db_is_sum_of_dout"], hint=DB_SUM),
    M(CONV_B, "flipped_kernel", "convolution_not_correlation", wrap(CONV_B, """
        x, w, conv_param = cache
        dx, dw, db = _solution_conv_backward_naive(dout, (x, w[:, :, ::-1, ::-1], conv_param))
        return dx, dw[:, :, ::-1, ::-1].copy(), db
        """, "dout, cache"), ["vjp_matches_reference"], hint=CROSS_CORRELATION),
    M(CONV_B, "global_cache", "global_cache", global_cache("conv", "x, w, b, conv_param").replace(
        "conv_forward(", "conv_forward_naive(").replace("conv_backward(", "conv_backward_naive(").replace(
        "conv_forward,", "conv_forward_naive,").replace("conv_backward\n", "conv_backward_naive\n"),
      ["caches_are_independent"], hint=NOT_GLOBALS),
    M(CONV_B, "zeroes_dout", "mutates_dout", wrap(CONV_B, """
        grads = _solution_conv_backward_naive(dout.copy(), cache)
        dout[...] = 0
        return grads
        """, "dout, cache"), ["inputs_unchanged"], hint=NEW_DX),

    # --------------------------------------------------------------------- max_pool_forward_naive
    M(MAX_F, "one_row_short", "off_by_one", wrap(MAX_F, """
        out, cache = _solution_max_pool_forward_naive(x, pool_param)
        return out[:, :, :-1, :-1], cache
        """, POOL_ARGS), ["output_shape_and_dtype", "output_size_formula"], hint=POOL_OFF_BY_ONE),
    M(MAX_F, "ignores_stride", "stride", wrap(MAX_F, """
        out, cache = _solution_max_pool_forward_naive(x, {**pool_param, "stride": 1})
        s = pool_param["stride"]
        rows = 1 + (x.shape[2] - pool_param["pool_height"]) // s
        cols = 1 + (x.shape[3] - pool_param["pool_width"]) // s
        return out[:, :, :rows, :cols], (x, pool_param)
        """, POOL_ARGS), ["matches_reference"], hint=STRIDE),
    M(MAX_F, "takes_mean", "wrong_value", wrap(MAX_F, """
        return avg_pool_forward_naive(x, pool_param)[0], (x, pool_param)
        """, POOL_ARGS), ["matches_reference"]),
    M(MAX_F, "float64_out", "float32_upcast", wrap(MAX_F, """
        out, cache = _solution_max_pool_forward_naive(x, pool_param)
        return out.astype(float), cache
        """, POOL_ARGS), ["preserves_float32"], hint=KEEP_DTYPE),

    # -------------------------------------------------------------------- max_pool_backward_naive
    M(MAX_B, "assigns_masked_window", "assign_not_accumulate", MAX_POOL_ASSIGNS,
      ["overlapping_windows_accumulate", "vjp_matches_reference"], hint=ACCUMULATE),
    M(MAX_B, "assigns_at_argmax", "assign_not_accumulate", MAX_POOL_ASSIGNS_AT_MAX,
      ["overlapping_windows_accumulate"], hint=ACCUMULATE),
    M(MAX_B, "spreads_like_average", "gradient_to_whole_window", wrap(MAX_B, """
        x, pool_param = cache
        return avg_pool_backward_naive(dout, (x.shape, x.dtype, pool_param))
        """, "dout, cache"), ["vjp_matches_reference", "gradient_lands_on_window_maximum"], hint=ONLY_MAX),
    M(MAX_B, "ignores_stride", "stride", wrap(MAX_B, """
        x, pool_param = cache
        return _solution_max_pool_backward_naive(dout, (x, {**pool_param, "stride": 1}))
        """, "dout, cache"), ["vjp_matches_reference"], hint=STRIDE),
    M(MAX_B, "argmax_over_batch", "crash", MAX_POOL_ASSIGNS_AT_MAX.replace(
        "window = x[n, c,", "window = x[:, :,").replace("np.argmax(window), window.shape", "np.argmax(window), (ph, pw)"),
      ["runs_on_valid_inputs"]),
    M(MAX_B, "dx_in_cached_x", "view_of_input", wrap(MAX_B, """
        x, pool_param = cache
        grad = _solution_max_pool_backward_naive(dout, cache)
        x[...] = grad
        return x
        """, "dout, cache"), ["gradients_are_fresh_arrays", "caches_are_independent"]),

    # --------------------------------------------------------------------- avg_pool_forward_naive
    M(AVG_F, "one_row_short", "off_by_one", wrap(AVG_F, """
        out, cache = _solution_avg_pool_forward_naive(x, pool_param)
        return out[:, :, :-1, :-1], cache
        """, POOL_ARGS), ["output_shape_and_dtype", "output_size_formula"], hint=POOL_OFF_BY_ONE),
    M(AVG_F, "window_sum", "wrong_value", wrap(AVG_F, """
        out, cache = _solution_avg_pool_forward_naive(x, pool_param)
        return out * (pool_param["pool_height"] * pool_param["pool_width"]), cache
        """, POOL_ARGS), ["matches_reference"]),
    M(AVG_F, "zeroes_input", "mutates_input", wrap(AVG_F, """
        out, cache = _solution_avg_pool_forward_naive(x.copy(), pool_param)
        x[...] = 0
        return out, cache
        """, POOL_ARGS), ["inputs_unchanged"], hint=COPY_INPUT),

    # -------------------------------------------------------------------- avg_pool_backward_naive
    M(AVG_B, "assigns_window", "assign_not_accumulate", wrap(AVG_B, """
        shape, dtype, pool_param = cache
        ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        dx = np.zeros(shape, dtype=dout.dtype)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * s:i * s + ph, j * s:j * s + pw] = dout[:, :, i, j][:, :, None, None] / (ph * pw)
        return dx
        """, "dout, cache"), ["overlapping_windows_accumulate", "vjp_matches_reference"], hint=ACCUMULATE),
    M(AVG_B, "no_division", "missing_factor", wrap(AVG_B, """
        shape, dtype, pool_param = cache
        return _solution_avg_pool_backward_naive(dout, cache) * (pool_param["pool_height"] * pool_param["pool_width"])
        """, "dout, cache"), ["vjp_matches_reference", "gradient_spreads_evenly"], hint=SPREAD),
    M(AVG_B, "ignores_stride", "stride", wrap(AVG_B, """
        shape, dtype, pool_param = cache
        return _solution_avg_pool_backward_naive(dout, (shape, dtype, {**pool_param, "stride": 1}))
        """, "dout, cache"), ["vjp_matches_reference"], hint=STRIDE),

    # -------------------------------------------------------------------- global_avg_pool_forward
    M(GAP_F, "sums", "wrong_value", wrap(GAP_F, """
        return x.sum(axis=(2, 3)), x.shape
        """, "x"), ["matches_reference"], hint=GLOBAL_MEAN),
    M(GAP_F, "keepdims", "wrong_shape", wrap(GAP_F, """
        return x.mean(axis=(2, 3), keepdims=True), x.shape
        """, "x"), ["output_shape_and_dtype", "matches_reference"]),
    M(GAP_F, "float64_out", "float32_upcast", wrap(GAP_F, """
        return x.mean(axis=(2, 3), dtype=np.float64), x.shape
        """, "x"), ["preserves_float32"], hint=KEEP_DTYPE),

    # ------------------------------------------------------------------- global_avg_pool_backward
    M(GAP_B, "no_division", "missing_factor", wrap(GAP_B, """
        N, C, H, W = cache
        return _solution_global_avg_pool_backward(dout, cache) * (H * W)
        """, "dout, cache"), ["vjp_matches_reference", "gradient_spreads_evenly"], hint=GLOBAL_SPREAD),
    M(GAP_B, "float64_ones", "float32_upcast", wrap(GAP_B, """
        N, C, H, W = cache
        return np.ones((N, C, H, W)) * dout[:, :, None, None] / (H * W)
        """, "dout, cache"), ["preserves_float32"], hint=KEEP_DTYPE),
    M(GAP_B, "divides_dout_in_place", "mutates_dout", wrap(GAP_B, """
        N, C, H, W = cache
        dout /= H * W
        return np.repeat(np.repeat(dout[:, :, None, None], H, axis=2), W, axis=3)
        """, "dout, cache"), ["inputs_unchanged"], hint=NEW_DX),

    # ------------------------------------------------------------------ spatial_batchnorm_forward
    M(BN_F, "reshape_without_transpose", "wrong_axes", wrap(BN_F, """
        out, cache = _solution_spatial_batchnorm_forward(x.reshape(-1, x.shape[1], 1, 1), gamma, beta, bn_param)
        return out.reshape(x.shape), cache
        """, "x, gamma, beta, bn_param"), ["matches_reference"], hint=CHANNELS_LAST),
    M(BN_F, "batch_stats_in_test", "test_mode", wrap(BN_F, """
        return _solution_spatial_batchnorm_forward(x, gamma, beta, {**bn_param, "mode": "train"})
        """, "x, gamma, beta, bn_param"), ["matches_reference", "running_statistics"], hint=TEST_MODE),
    M(BN_F, "momentum_swapped", "momentum", wrap(BN_F, """
        m = bn_param.get("momentum", 0.9)
        bn_param["momentum"] = 1 - m
        out, cache = _solution_spatial_batchnorm_forward(x, gamma, beta, bn_param)
        bn_param["momentum"] = m
        return out, cache
        """, "x, gamma, beta, bn_param"), ["running_statistics"], hint=MOMENTUM),
    M(BN_F, "unbiased_running_var", "unbiased_variance", wrap(BN_F, """
        out, cache = _solution_spatial_batchnorm_forward(x, gamma, beta, bn_param)
        if bn_param["mode"] == "train":
            m, n = bn_param.get("momentum", 0.9), x.size // x.shape[1]
            var = x.var(axis=(0, 2, 3))
            bn_param["running_var"] = bn_param["running_var"] + (1 - m) * var * (n / max(n - 1, 1) - 1)
        return out, cache
        """, "x, gamma, beta, bn_param"), ["running_statistics"], hint=BIASED_VAR),
    M(BN_F, "forgets_to_write_back", "state_not_saved", wrap(BN_F, """
        return _solution_spatial_batchnorm_forward(x, gamma, beta, dict(bn_param))
        """, "x, gamma, beta, bn_param"), ["running_statistics"], hint=WRITE_BACK),

    # ----------------------------------------------------------------- spatial_batchnorm_backward
    M(BN_B, "no_mean_terms", "drops_terms", wrap(BN_B, """
        mode, x_hat, gamma, std = cache
        dx, dgamma, dbeta = _solution_spatial_batchnorm_backward(dout, cache)
        return dout * gamma[None, :, None, None] / std, dgamma, dbeta
        """, "dout, cache"), ["vjp_matches_reference"], hint=FULL_NORM),
    M(BN_B, "dgamma_keepdims", "wrong_shape", wrap(BN_B, """
        dx, dgamma, dbeta = _solution_spatial_batchnorm_backward(dout, cache)
        return dx, dgamma[None, :, None, None], dbeta
        """, "dout, cache"), ["gradient_shapes"]),
    M(BN_B, "global_cache", "global_cache", global_cache("spatial_batchnorm", "x, gamma, beta, bn_param"),
      ["caches_are_independent"], hint=NOT_GLOBALS),

    # ------------------------------------------------------------------ spatial_groupnorm_forward
    M(GN_F, "interleaved_groups", "wrong_axes", wrap(GN_F, """
        N, C, H, W = x.shape
        moved = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, C, H, W)
        out, cache = _solution_spatial_groupnorm_forward(moved, np.ones_like(gamma), np.zeros_like(beta), G, gn_param)
        back = out.reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, C, H, W)
        return gamma * back + beta, cache
        """, "x, gamma, beta, G, gn_param"), ["matches_reference"], hint=GROUPS),
    M(GN_F, "ignores_groups", "wrong_axes", wrap(GN_F, """
        return _solution_spatial_groupnorm_forward(x, gamma, beta, 1, gn_param)
        """, "x, gamma, beta, G, gn_param"), ["matches_reference"], hint=GROUPS),
    M(GN_F, "zeroes_input", "mutates_input", wrap(GN_F, """
        out, cache = _solution_spatial_groupnorm_forward(x.copy(), gamma, beta, G, gn_param)
        x[...] = 0
        return out, cache
        """, "x, gamma, beta, G, gn_param"), ["inputs_unchanged"], hint=COPY_INPUT),
    M(GN_F, "float64_eps", "float32_upcast", wrap(GN_F, """
        out, cache = _solution_spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
        return out + np.zeros(1), cache
        """, "x, gamma, beta, G, gn_param"), ["preserves_float32"], hint=KEEP_DTYPE),

    # ----------------------------------------------------------------- spatial_groupnorm_backward
    M(GN_B, "no_mean_terms", "drops_terms", wrap(GN_B, """
        G, x_hat, gamma, std = cache
        N, C, H, W = dout.shape
        dx, dgamma, dbeta = _solution_spatial_groupnorm_backward(dout, cache)
        return ((dout * gamma).reshape(N, G, C // G, H, W) / std).reshape(N, C, H, W), dgamma, dbeta
        """, "dout, cache"), ["vjp_matches_reference"], hint=FULL_NORM),
    M(GN_B, "dgamma_flat", "wrong_shape", wrap(GN_B, """
        dx, dgamma, dbeta = _solution_spatial_groupnorm_backward(dout, cache)
        return dx, dgamma.reshape(-1), dbeta.reshape(-1)
        """, "dout, cache"), ["gradient_shapes"]),
    M(GN_B, "global_cache", "global_cache", global_cache("spatial_groupnorm", "x, gamma, beta, G, gn_param"),
      ["caches_are_independent"]),

    # ---------------------------------------------------------------------------- receptive_field
    M("receptive_field", "ignores_strides", "strides", wrap("receptive_field", """
        return 1 + sum(k - 1 for k, _ in layers)
        """, "layers"), ["matches_reference"], hint=STRIDES_COMPOUND),
    M("receptive_field", "own_stride", "strides", wrap("receptive_field", """
        size, jump = 1, 1
        for k, s in layers:
            jump *= s
            size += (k - 1) * jump
        return size
        """, "layers"), ["matches_reference"], hint=STRIDES_COMPOUND),
    M("receptive_field", "numpy_int", "python_types", wrap("receptive_field", """
        return np.int64(_solution_receptive_field(layers))
        """, "layers"), ["returns_the_contract_types", "matches_reference"], hint=PY_INT),
    M("receptive_field", "reverses_in_place", "mutates_input", wrap("receptive_field", """
        size = 1
        layers.reverse()                      # from the output back to the input
        for k, s in layers:
            size = s * size + (k - s)
        return size
        """, "layers"), ["inputs_unchanged"]),

    # ---------------------------------------------------------------------------------- conv_cost
    M("conv_cost", "no_bias", "params", wrap("conv_cost", """
        cost = _solution_conv_cost(in_shape, w_shape, stride, pad)
        return {**cost, "params": cost["params"] - w_shape[0]}
        """, "in_shape, w_shape, stride, pad"), ["matches_reference"], hint=BIAS_PARAMS),
    M("conv_cost", "macs_without_channels", "macs", wrap("conv_cost", """
        cost = _solution_conv_cost(in_shape, w_shape, stride, pad)
        return {**cost, "macs": cost["macs"] // in_shape[0]}
        """, "in_shape, w_shape, stride, pad"), ["matches_reference"], hint=MACS),
    M("conv_cost", "numpy_counts", "python_types", wrap("conv_cost", """
        cost = _solution_conv_cost(in_shape, w_shape, stride, pad)
        return {**cost, "params": np.prod(w_shape) + w_shape[0]}
        """, "in_shape, w_shape, stride, pad"), ["returns_the_contract_types"], hint=PY_INT),
]

# Issue 13: strides that leave a remainder are a minor property of their own (CS231n lets students
# assume divisibility); spatial normalisations are checked at very different scales side by side.
SPREAD = "cancels catastrophically"
MUTANTS += [
    M(CONV_F, "true_division_output_size", "crash", """
        def conv_forward_naive(x, w, b, conv_param):
            stride, pad = conv_param["stride"], conv_param["pad"]
            N, C, H, W = x.shape
            F, _, HH, WW = w.shape
            H_out, W_out = 1 + (H + 2 * pad - HH) / stride, 1 + (W + 2 * pad - WW) / stride   # floats
            x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            out = np.zeros((N, F, H_out, W_out))
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
            return out, (x, w, conv_param)
        """, ["runs_on_valid_inputs"], focused=True),
    M(AVG_B, "ceil_output_size", "stride_remainder", """
        def avg_pool_backward_naive(dout, cache):
            x, pool_param = cache
            ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
            N, C, H, W = x.shape
            out_h, out_w = -(-(H - ph) // s) + 1, -(-(W - pw) // s) + 1     # rounds up: a window too many
            dx = np.zeros_like(x)
            for i in range(out_h):
                for j in range(out_w):
                    dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += dout[:, :, i, j][:, :, None, None] / (ph * pw)
            return dx
        """, ["strides_that_do_not_divide"], hint=NOT_DIVIDING, focused=True),
    M(BN_F, "one_pass_variance", "numerics", """
        def spatial_batchnorm_forward(x, gamma, beta, bn_param):
            mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
            C = x.shape[1]
            rm, rv = bn_param.get("running_mean", np.zeros(C)), bn_param.get("running_var", np.zeros(C))
            if mode == "train":
                mean = x.mean(axis=(0, 2, 3))
                var = np.maximum((x * x).mean(axis=(0, 2, 3)) - mean ** 2, 0.0)   # one pass: cancels
                bn_param["running_mean"] = momentum * rm + (1 - momentum) * mean
                bn_param["running_var"] = momentum * rv + (1 - momentum) * var
            else:
                mean, var = rm, rv
            std = np.sqrt(var + eps)[None, :, None, None]
            x_hat = (x - mean[None, :, None, None]) / std
            return gamma[None, :, None, None] * x_hat + beta[None, :, None, None], (mode, x_hat, gamma, std)
        """, ["matches_reference_at_mixed_scales"], hint=SPREAD, focused=True),
    M(GN_B, "recomputes_one_pass_variance", "numerics", """
        def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
            N, C, H, W = x.shape
            eps = gn_param.get("eps", 1e-5)
            g = x.reshape(N, G, -1)
            x_hat = ((g - g.mean(axis=2, keepdims=True)) / np.sqrt(g.var(axis=2, keepdims=True) + eps)).reshape(x.shape)
            return gamma * x_hat + beta, (x, gamma, G, eps)


        def spatial_groupnorm_backward(dout, cache):
            x, gamma, G, eps = cache
            N, C, H, W = x.shape
            g = x.reshape(N, G, -1)
            mean = g.mean(axis=2, keepdims=True)
            std = np.sqrt((g * g).mean(axis=2, keepdims=True) - mean ** 2 + eps)   # one pass: cancels
            x_hat = (g - mean) / std
            dx_hat = (dout * gamma).reshape(N, G, -1)
            dx = (dx_hat - dx_hat.mean(axis=2, keepdims=True) - x_hat * (dx_hat * x_hat).mean(axis=2, keepdims=True)) / std
            return (dx.reshape(x.shape), (dout * x_hat.reshape(x.shape)).sum(axis=(0, 2, 3), keepdims=True),
                    dout.sum(axis=(0, 2, 3), keepdims=True))
        """, ["matches_reference_at_mixed_scales"], hint=SPREAD, focused=True),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant: Mutant, tmp_path):
    check_planted(A4, mutant, tmp_path)


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "assign_not_accumulate"], ids=lambda m: m.name)
def test_assigning_instead_of_accumulating_is_caught_at_every_seed(mutant: Mutant, tmp_path):
    plant(tmp_path, A4, solution_sources(A4), mutant)
    for seed in range(5):
        assert_caught(mutant, tmp_path, seed)


#: Correct solutions written differently from the instructor's: they must pass every property.
CS231N_CONV = """
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad, dw, db = np.zeros_like(x_pad), np.zeros_like(w), np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            db[f] += dout[n, f].sum()
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    dw[f] += window * dout[n, f, i, j]
                    dx_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += w[f] * dout[n, f, i, j]
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, db
"""

IM2COL_CONV = """
def _columns(x_pad, HH, WW, stride, H_out, W_out):
    N, C = x_pad.shape[:2]
    i = (np.arange(H_out) * stride)[:, None] + np.arange(HH)[None, :]      # (H_out, HH)
    j = (np.arange(W_out) * stride)[:, None] + np.arange(WW)[None, :]      # (W_out, WW)
    patches = x_pad[:, :, i[:, None, :, None], j[None, :, None, :]]         # (N, C, H_out, W_out, HH, WW)
    return patches.transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, C * HH * WW), (i, j)


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols, _ = _columns(x_pad, HH, WW, stride, H_out, W_out)
    out = (cols @ w.reshape(F, -1).T + b).reshape(N, H_out, W_out, F).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), (x, w, conv_param, cols)


def conv_backward_naive(dout, cache):
    x, w, conv_param, cols = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    d = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dw = (d.T @ cols).reshape(w.shape)
    db = d.sum(axis=0)
    dcols = (d @ w.reshape(F, -1)).reshape(N, H_out, W_out, C, HH, WW).transpose(0, 3, 1, 2, 4, 5)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    i = (np.arange(H_out) * stride)[:, None] + np.arange(HH)[None, :]
    j = (np.arange(W_out) * stride)[:, None] + np.arange(WW)[None, :]
    np.add.at(dx_pad, (slice(None), slice(None), i[:, None, :, None], j[None, :, None, :]), dcols)
    return dx_pad[:, :, pad:pad + H, pad:pad + W].copy(), dw, db
"""

MASK_MAX_POOL = """
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    out[n, c, i, j] = np.max(x[n, c, i * s:i * s + ph, j * s:j * s + pw])
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    N, C, out_h, out_w = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    mask = window == np.max(window)
                    dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[n, c, i, j]
    return dx
"""


@pytest.mark.parametrize("source, names", [
    (CS231N_CONV, [CONV_F, CONV_B]), (IM2COL_CONV, [CONV_F, CONV_B]), (MASK_MAX_POOL, [MAX_F, MAX_B])],
    ids=["cs231n_loops_conv", "im2col_conv", "mask_max_pool"])
def test_correct_variants_pass(source, names, tmp_path):
    plant(tmp_path, A4, solution_sources(A4), Mutant(names[0], "variant", "correct", source, ()))
    _, results = run_checks(names, tmp_path, "grading", seed=0)
    failing = {r.name: [f"{p.name}: {p.message}" for p in r.properties if not p.passed] for r in results if not r.passed}
    assert not failing


def test_released_stubs_fail_as_not_implemented(tmp_path):
    release(tmp_path, [A4])
    _, results = run_checks([A4], tmp_path, seed=1)
    assert sorted(r.name for r in results) == sorted(manifest_exercises(A4))
    assert {r.status for r in results} == {"not_implemented"}
    assert all(r.points == 0 for r in results)
