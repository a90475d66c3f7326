"""Known mistakes of a4_cnn, recognised by their result: hint texts and mistake models."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import dlgrade.reference.a4_cnn.conv as ref
from dlgrade.checkers.declare import Case, evaluate, Mistake


NOT_DIVIDING = ("CS231n lets you assume that the stride divides H + 2·pad − HH (its starter code asserts it); the "
                "contract does not: the output has 1 + (H + 2·pad − HH) // stride rows (floor division), the last "
                "rows and columns that no window reaches are left out, and they get zero gradient. This costs only "
                "this property's share.")


# ---------------------------------------------------------------------------------------------
# Known mistakes, recognised by their result

CROSS_CORRELATION = ("A convolution layer computes a cross-correlation: slide w as it is, "
                     "without flipping the kernel (no w[:, :, ::-1, ::-1]).")
BOTH_SIDES = ("Zero padding goes on both sides: pad rows at the top AND the bottom, columns on the left AND "
              "the right (np.pad with (pad, pad) on the last two axes).")
OFF_BY_ONE = "The output has H' = 1 + (H + 2·pad − HH) // stride rows (W' likewise): check the 1 + and the //."
POOL_OFF_BY_ONE = "The output has H' = 1 + (H − pool_height) // stride rows (W' likewise): check the 1 + and the //."
STRIDE = ("Output (i, j) reads the window that starts at row i·stride, column j·stride: use the stride "
          "in the backward as in the forward.")
DW_AXES = ("dw sums over every example and every output position: dw[f] += dout[n, f, i, j] · window, "
           "for all n, i, j (neither a mean nor the last example only).")
DB_SUM = "db is the sum of dout over the batch and both spatial axes: dout.sum(axis=(0, 2, 3))."
ACCUMULATE = ("Windows overlap when stride < pool size: accumulate with += (dx[window] += ...), never "
              "assign with =, or an element in several windows keeps only the last window's gradient.")
ONLY_MAX = "Only the window's maximum receives the gradient (a mask x == max of the window); the others get 0."
SPREAD = "Each element of a window receives dout / (pool_height·pool_width): spread the gradient evenly."
GLOBAL_SPREAD = "Each of the H·W positions receives dout[n, c] / (H·W)."
CHANNELS_LAST = ("Statistics are per channel over N, H and W: x.mean(axis=(0, 2, 3)); to reuse a (N, D) batchnorm, "
                 "move channels last first, x.transpose(0, 2, 3, 1).reshape(-1, C): a plain reshape mixes channels.")
TEST_MODE = "In test mode normalise with bn_param's running_mean and running_var, not the batch statistics."
MOMENTUM = "running = momentum·running + (1 − momentum)·batch: momentum (0.9 by default) weighs the OLD value."
BIASED_VAR = "The running variance averages the biased batch variance (divided by N·H·W), the one used to normalise."
WRITE_BACK = ("Write the updated running_mean and running_var back into bn_param (bn_param['running_mean'] = ...): "
              "the caller reads them from there.")
GROUPS = ("Group norm splits each example's C channels into G groups of C // G CONSECUTIVE channels: "
          "x.reshape(N, G, C // G, H, W), statistics over axes (2, 3, 4), never over the batch.")
FULL_NORM_BACKWARD = ("dx also flows through the mean and the variance, which every input of the group "
                      "moves: dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / std.")
STRIDES_COMPOUND = "Layer i adds (kernel_i − 1) times the product of the strides of the layers BEFORE it."
BIAS_PARAMS = "params counts the F biases too: F·C·HH·WW + F."
MACS = "Each output element is a dot product of C·HH·WW products: macs = F·C·HH·WW·H'·W'."


def _vjp(oracle, case: Case, differentiable, dout, **changes) -> dict[str, Any]:
    return evaluate(oracle, case.with_args(**changes).args, differentiable).vjp(dout)


def _flipped_conv_grads(case, right, dout):
    w = case.args["w"]
    grads = _vjp(ref.conv, case, ("x", "w", "b"), dout, w=w[:, :, ::-1, ::-1].copy())
    return {**grads, "w": grads["w"][:, :, ::-1, ::-1]}


def _one_sided_conv(case, right, dout):
    p = case.args["conv_param"]["pad"]
    x = np.pad(case.args["x"], ((0, 0), (0, 0), (2 * p, 0), (2 * p, 0)))
    return evaluate(ref.conv, {**case.args, "x": x, "conv_param": {**case.args["conv_param"], "pad": 0}}).output


def _stride_one_grads(oracle, differentiable, params: str):
    """The gradients of a backward that walks its windows one pixel apart: dout laid out on the
    stride-1 output grid, then the stride-1 layer's vector-Jacobian product."""
    def model(case, right, dout):
        param = {**case.args[params], "stride": 1}
        full = evaluate(oracle, {**case.args, params: param}).output
        spread = np.zeros_like(full)
        spread[:, :, :dout.shape[2], :dout.shape[3]] = dout
        return _vjp(oracle, case, differentiable, spread, **{params: param})
    return model


def _stride_one_output(oracle, params: str):
    def model(case, right, dout):
        full = evaluate(oracle, {**case.args, params: {**case.args[params], "stride": 1}}).output
        return full[:, :, :right.shape[2], :right.shape[3]]
    return model


def _pool_windows(case, dout):
    """(rows, cols, dout[:, :, i, j]) for every window, in loop order."""
    p = case.args["pool_param"]
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            yield slice(i * s, i * s + ph), slice(j * s, j * s + pw), dout[:, :, i, j][:, :, None, None]


def _max_pool_assigned(case, right, dout):
    """dx[window] = mask * dout: each window overwrites what the earlier ones gave."""
    x = case.args["x"]
    dx = np.zeros_like(x)
    for rows, cols, d in _pool_windows(case, dout):
        window = x[:, :, rows, cols]
        dx[:, :, rows, cols] = (window == window.max(axis=(2, 3), keepdims=True)) * d
    return {"x": dx}


def _max_pool_assigned_at_max(case, right, dout):
    """dx[argmax] = dout: only elements that are the maximum of several windows lose gradient."""
    x = case.args["x"]
    dx = np.zeros_like(x)
    for rows, cols, d in _pool_windows(case, dout):
        window = x[:, :, rows, cols]
        mask = window == window.max(axis=(2, 3), keepdims=True)
        dx[:, :, rows, cols] = np.where(mask, d, dx[:, :, rows, cols])
    return {"x": dx}


def _avg_pool_assigned(case, right, dout):
    p = case.args["pool_param"]
    dx = np.zeros_like(case.args["x"])
    for rows, cols, d in _pool_windows(case, dout):
        dx[:, :, rows, cols] = d / (p["pool_height"] * p["pool_width"])
    return {"x": dx}


def _normalised(x: np.ndarray, axes, eps: float) -> np.ndarray:
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def _bn_model(normalise: Callable[[np.ndarray, float], np.ndarray]):
    """A spatial batchnorm forward (train mode) that normalises x the way `normalise` does."""
    def model(case, right, dout):
        a = case.args
        if a["bn_param"]["mode"] != "train":
            raise ValueError("a train-mode mistake")
        x_hat = normalise(a["x"], a["bn_param"].get("eps", 1e-5))
        return a["gamma"][None, :, None, None] * x_hat + a["beta"][None, :, None, None]
    return model


def _bn_reshape_without_transpose(case, right, dout):
    """x.reshape(-1, C) through a (N, D) batchnorm: each "channel" column mixes the real channels."""
    x = case.args["x"]
    flat = x.reshape(-1, x.shape[1], 1, 1)
    return evaluate(ref.spatial_batchnorm, case.with_args(x=flat).args).output.reshape(x.shape)


def _bn_with_batch_stats_in_test(case, right, dout):
    return evaluate(ref.spatial_batchnorm, {**case.args, "bn_param": {**case.args["bn_param"], "mode": "train"}}).output


def _gn_model(grouping: Callable[[np.ndarray, int], tuple[np.ndarray, tuple]]):
    """A group norm forward whose statistics are taken over `grouping(x, G)` = (view, axes)."""
    def model(case, right, dout):
        a = case.args
        grouped, axes = grouping(a["x"], a["G"])
        x_hat = _normalised(grouped, axes, a["gn_param"].get("eps", 1e-5)).reshape(a["x"].shape)
        return a["gamma"] * x_hat + a["beta"]
    return model


def _interleaved_groups(x, g):
    n, c, h, w = x.shape
    return x.reshape(n, c // g, g, h, w), (1, 3, 4)


def _groups_across_batch(x, g):
    n, c, h, w = x.shape
    return x.reshape(n, g, c // g, h, w), (0, 2, 3, 4)


def _one_group(x, g):
    return x, (1, 2, 3)


def _norm_without_mean_terms():
    """dx = dout·gamma / std: the backward of a normalisation whose statistics were constants."""
    def model(case, right, dout):
        a = case.args
        x = a["x"]
        if "G" in a:
            n, c, h, w = x.shape
            grouped = x.reshape(n, a["G"], -1)
            std = np.sqrt(grouped.var(axis=2, keepdims=True) + a["gn_param"].get("eps", 1e-5))
            dx = ((dout * a["gamma"]).reshape(n, a["G"], -1) / std).reshape(x.shape)
        else:
            std = np.sqrt(x.var(axis=(0, 2, 3)) + a["bn_param"].get("eps", 1e-5))
            dx = dout * (a["gamma"] / std)[None, :, None, None]
        return {**right, "x": dx}
    return model


def _rf_ignoring_strides(case, right, dout):
    return 1 + sum(k - 1 for k, _ in case.args["layers"])


def _rf_own_stride(case, right, dout):
    size, jump = 1, 1
    for k, s in case.args["layers"]:
        jump *= s
        size += (k - 1) * jump
    return size


def _cost_without_bias(case, right, dout):
    return {**right, "params": right["params"] - case.args["w_shape"][0]}


def _macs_without_channels(case, right, dout):
    return {**right, "macs": right["macs"] // case.args["in_shape"][0]}


def _output_shape(size_of: Callable[[int, int, int, int], int], geometry) -> Callable:
    """The output shape a mistaken size formula size_of(size, kernel, stride, pad) gives."""
    def shape(case, right, dout):
        x = case.args["x"]
        kh, kw, stride, pad = geometry(case)
        return (right[0], right[1], size_of(x.shape[2], kh, stride, pad), size_of(x.shape[3], kw, stride, pad))
    return shape


def _conv_geometry(case):
    p = case.args["conv_param"]
    return case.args["w"].shape[2], case.args["w"].shape[3], p["stride"], p["pad"]


def _pool_geometry(case):
    p = case.args["pool_param"]
    return p["pool_height"], p["pool_width"], p["stride"], 0


CONV_SHAPE_MISTAKES = [
    Mistake(OFF_BY_ONE, "shape", _output_shape(lambda n, k, s, p: (n + 2 * p - k) // s, _conv_geometry)),
    Mistake(OFF_BY_ONE, "shape", _output_shape(lambda n, k, s, p: 2 + (n + 2 * p - k) // s, _conv_geometry)),
    Mistake(OFF_BY_ONE, "shape", _output_shape(lambda n, k, s, p: 1 - (-(n + 2 * p - k) // s), _conv_geometry)),
    Mistake(BOTH_SIDES, "shape", _output_shape(lambda n, k, s, p: 1 + (n + p - k) // s, _conv_geometry)),
    Mistake(BOTH_SIDES, "shape", _output_shape(lambda n, k, s, p: 1 + (n - k) // s, _conv_geometry)),
]
POOL_SHAPE_MISTAKES = [
    Mistake(POOL_OFF_BY_ONE, "shape", _output_shape(lambda n, k, s, p: (n - k) // s, _pool_geometry)),
    Mistake(POOL_OFF_BY_ONE, "shape", _output_shape(lambda n, k, s, p: 1 - (-(n - k) // s), _pool_geometry)),
]


def _running_hints(case, param, got) -> list[str]:
    x = case.args["x"]
    c = x.shape[1]
    old_mean = param.get("running_mean", np.zeros(c))
    old_var = param.get("running_var", np.zeros(c))
    m = param.get("momentum", 0.9)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    n = x.size // c
    models = {
        MOMENTUM: {"running_mean": (1 - m) * old_mean + m * mean, "running_var": (1 - m) * old_var + m * var},
        BIASED_VAR: {"running_mean": m * old_mean + (1 - m) * mean,
                     "running_var": m * old_var + (1 - m) * var * n / max(n - 1, 1)},
        WRITE_BACK: {"running_mean": old_mean, "running_var": old_var},
    }
    return [hint for hint, model in models.items()
            if all(np.allclose(got[k], model[k], rtol=1e-6, atol=1e-9) for k in model)]


# Known mistakes of each exercise, by the function they are shown for

spatial_batchnorm_forward_mistakes = [Mistake(CHANNELS_LAST, "output", _bn_reshape_without_transpose),
                                      Mistake(CHANNELS_LAST, "output", _bn_model(lambda x, eps: _normalised(x, 0, eps))),
                                      Mistake(TEST_MODE, "output", _bn_with_batch_stats_in_test)]
spatial_batchnorm_backward_mistakes = [Mistake(FULL_NORM_BACKWARD, "gradients", _norm_without_mean_terms())]
receptive_field_mistakes = [Mistake(STRIDES_COMPOUND, "output", _rf_ignoring_strides),
                            Mistake(STRIDES_COMPOUND, "output", _rf_own_stride)]
conv_cost_mistakes = [Mistake(BIAS_PARAMS, "output", _cost_without_bias),
                      Mistake(MACS, "output", _macs_without_channels)]
conv_forward_naive_mistakes = [Mistake(CROSS_CORRELATION, "output",
                                       lambda case, right, _: evaluate(ref.conv, case.with_args(w=case.args["w"][:, :, ::-1, ::-1].copy()).args).output),
                               Mistake(BOTH_SIDES, "output", _one_sided_conv),
                               Mistake(STRIDE, "output", _stride_one_output(ref.conv, "conv_param"))]
conv_backward_naive_mistakes = [Mistake(CROSS_CORRELATION, "gradients", _flipped_conv_grads),
                                Mistake(STRIDE, "gradients", _stride_one_grads(ref.conv, ("x", "w", "b"), "conv_param")),
                                Mistake(DW_AXES, "gradients",
                                        lambda case, right, _: {**right, "w": right["w"] / len(case.args["x"])}),
                                Mistake(DW_AXES, "gradients",
                                        lambda case, right, dout: {**right, "w": _vjp(ref.conv, case.with_args(x=case.args["x"][-1:]), ("w",), dout[-1:])["w"]}),
                                Mistake(DB_SUM, "gradients", lambda case, right, _: {**right, "b": right["b"] / len(case.args["x"])})]
max_pool_forward_naive_mistakes = [Mistake(STRIDE, "output", _stride_one_output(ref.max_pool, "pool_param"))]
max_mistakes = [
    Mistake(ACCUMULATE, "gradients", _max_pool_assigned),
    Mistake(ACCUMULATE, "gradients", _max_pool_assigned_at_max),
    Mistake(ONLY_MAX, "gradients", lambda case, right, dout: _vjp(ref.avg_pool, case, ("x",), dout)),
    Mistake(STRIDE, "gradients", _stride_one_grads(ref.max_pool, ("x",), "pool_param"))]
avg_mistakes = [
    Mistake(ACCUMULATE, "gradients", _avg_pool_assigned),
    Mistake(SPREAD, "gradients", lambda case, right, _: {
        "x": right["x"] * case.args["pool_param"]["pool_height"] * case.args["pool_param"]["pool_width"]}),
    Mistake(STRIDE, "gradients", _stride_one_grads(ref.avg_pool, ("x",), "pool_param"))]
global_avg_pool_forward_mistakes = [Mistake("Global average pooling is the MEAN over H and W: divide by H·W.", "output",
                                            lambda case, right, _: right * case.args["x"].shape[2] * case.args["x"].shape[3])]
global_avg_pool_backward_mistakes = [Mistake(GLOBAL_SPREAD, "gradients", lambda case, right, _: {
                      "x": right["x"] * case.args["x"].shape[2] * case.args["x"].shape[3]})]
spatial_groupnorm_forward_mistakes = [Mistake(GROUPS, "output", _gn_model(_interleaved_groups)),
                                      Mistake(GROUPS, "output", _gn_model(_groups_across_batch)),
                                      Mistake(GROUPS, "output", _gn_model(_one_group))]
spatial_groupnorm_backward_mistakes = [Mistake(FULL_NORM_BACKWARD, "gradients", _norm_without_mean_terms())]
