"""Assignment a4_cnn: every exercise declared once.

Configurations are drawn, not fixed: batch (from 1), channels, filters, non-square inputs and
kernels, strides above one, padding 0 and more, pooling windows that overlap. Sizes are drawn
through the OUTPUT size (at most 4 x 4), so a student's loops over output positions stay fast.
Max-pool inputs are distinct, at least a hundredth apart, so ties never decide a maximum.

The main properties draw strides that divide H + 2·pad − HH (as CS231n lets students assume);
strides that leave a remainder are checked by a minor property of their own, whose message names
the remainder.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import dlgrade.reference.a4_cnn.conv as ref
from dlgrade.checkers.declare import (STABILITY_EXAMPLES, assert_matches, call_target, Case, evaluate, examples,
                                      Exercise, forward_for_backward, in_call_order, layer, Mistake, mistake_hints,
                                      mixed_scales, Property, PropertyFailure, require_array, require_like, seeds,
                                      spread_groups, Target, upstream, values, Variant)

A = "a4_cnn"
MODULE = "conv"


# ---------------------------------------------------------------------------------------------
# Input strategies


def _out_size(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


@st.composite
def _extent(draw, kernel: int, stride: int, pad: int, divides: bool | None = True, max_out: int = 4) -> int:
    """An input size with 1 to max_out outputs whose H + 2·pad − kernel the stride divides
    (divides=True), leaves a remainder of (divides=False, stride >= 2), or either (None)."""
    outputs = draw(st.integers(1, max_out))
    if divides is None:
        remainder = draw(st.integers(0, stride - 1))
    else:
        remainder = 0 if divides else draw(st.integers(1, stride - 1))
    size = kernel - 2 * pad + (outputs - 1) * stride + remainder
    while size < 1:  # padding wider than the kernel: the smallest such size with a real input
        size += stride
    return size


def _remainder(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    return (size + 2 * pad - kernel) % stride


def _conv_geometry_text(case: Case) -> str:
    x, w, p = case.args["x"], case.args["w"], case.args["conv_param"]
    return _geometry_text(x.shape[2:], w.shape[2:], p["stride"], p["pad"], "H + 2·pad − HH", "W + 2·pad − WW")


def _pool_geometry_text(case: Case) -> str:
    x, p = case.args["x"], case.args["pool_param"]
    return _geometry_text(x.shape[2:], (p["pool_height"], p["pool_width"]), p["stride"], 0,
                          "H − pool_height", "W − pool_width")


def _geometry_text(sizes, kernels, stride: int, pad: int, *names: str) -> str:
    """What makes a non-dividing configuration special, in small integers (safe for hidden examples)."""
    parts = []
    for size, kernel, name in zip(sizes, kernels, names):
        span, left = size + 2 * pad - kernel, _remainder(size, kernel, stride, pad)
        if left:
            parts.append(f"{name} = {span} leaves a remainder of {left} for stride {stride}")
    return f"with a stride that does not divide the input ({'; '.join(parts)}): " if parts else ""


NOT_DIVIDING = ("CS231n lets you assume that the stride divides H + 2·pad − HH (its starter code asserts it); the "
                "contract does not: the output has 1 + (H + 2·pad − HH) // stride rows (floor division), the last "
                "rows and columns that no window reaches are left out, and they get zero gradient. This costs only "
                "this property's share.")


def distinct_values(rng: np.random.Generator, shape) -> np.ndarray:
    """Values in [-2, 2], every two at least 4/size (>= 0.01 here) apart: no ties for max."""
    size = int(np.prod(shape))
    gap = 4.0 / max(size, 1)
    v = (rng.permutation(size) - size / 2) * gap + rng.uniform(0, gap / 4, size)
    return v.reshape(shape)


@st.composite
def conv_cases(draw, divides: bool = True) -> Case:
    """divides=False: strides of 2 or 3 that leave a remainder in the height (the width: either)."""
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1 if divides else 2, 3)), draw(st.integers(0, 2))
    h, w = draw(_extent(kh, stride, pad, divides)), draw(_extent(kw, stride, pad, True if divides else None))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return Case({"x": values(rng, (n, c, h, w)), "w": values(rng, (f, c, kh, kw), 0.05, 1.0),
                 "b": values(rng, (f,)), "conv_param": {"stride": stride, "pad": pad}}, seed)


@st.composite
def pool_cases(draw, divides: bool = True) -> Case:
    """divides=False: strides of 2 or 3 that leave a remainder in the height (the width: either)."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1 if divides else 2, 3))
    h, w = draw(_extent(ph, stride, 0, divides)), draw(_extent(pw, stride, 0, True if divides else None))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return Case({"x": distinct_values(rng, (n, c, h, w)),
                 "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}, seed)


def _pool_case(x: np.ndarray, ph: int, pw: int, stride: int, seed: int = 0) -> Case:
    return Case({"x": x, "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}, seed)


def _peak_in_the_middle(shape) -> np.ndarray:
    """Distinct values whose largest sits at the centre, inside every overlapping window."""
    x = distinct_values(np.random.default_rng(sum(shape)), shape)
    centre = (..., shape[-2] // 2, shape[-1] // 2)
    x[centre] = np.max(x) + 1.0
    return x


#: Windows that overlap, with the maximum shared by several windows: an element must receive the
#: sum of their gradients (the usual 2x2 / stride-2 check cannot see `=` instead of `+=`).
OVERLAPPING = [
    _pool_case(_peak_in_the_middle((1, 1, 3, 3)), 2, 2, 1, seed=1),
    _pool_case(_peak_in_the_middle((2, 1, 5, 5)), 3, 3, 2, seed=2),
    _pool_case(_peak_in_the_middle((1, 2, 3, 4)), 2, 3, 1, seed=3),
    _pool_case(distinct_values(np.random.default_rng(4), (2, 2, 4, 5)), 2, 2, 1, seed=4),
]


@st.composite
def global_pool_cases(draw) -> Case:
    shape = tuple(draw(st.integers(1, 4)) for _ in range(4))
    seed = draw(seeds)
    return Case({"x": values(np.random.default_rng(seed), shape)}, seed)


@st.composite
def batchnorm_cases(draw, modes=("train", "test")) -> Case:
    n, c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    mode = draw(st.sampled_from(modes))
    extra = draw(st.fixed_dictionaries({}, optional={"eps": st.sampled_from([1e-5, 1e-3]),
                                                     "momentum": st.sampled_from([0.9, 0.5, 0.8])}))
    has_running = mode == "test" or draw(st.booleans())
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    bn_param = {"mode": mode, **extra}
    if has_running:
        bn_param["running_mean"] = rng.normal(0, 1, c)
        bn_param["running_var"] = rng.uniform(0.5, 2.0, c)
    return Case({"x": values(rng, (n, c, h, w)), "gamma": values(rng, (c,), 0.5, 2.0),
                 "beta": values(rng, (c,)), "bn_param": bn_param}, seed)


@st.composite
def batchnorm_spread_cases(draw) -> Case:
    """Train-mode cases whose channels have very different means and spreads side by side."""
    case = draw(batchnorm_cases(("train",)))
    n, c, h, w = case.args["x"].shape
    x = spread_groups(np.random.default_rng(case.seed), (max(n, 2), c, h, w), (1, c, 1, 1))
    return case.with_args(x=x)


@st.composite
def groupnorm_spread_cases(draw) -> Case:
    """Cases whose groups (per example) have very different means and spreads side by side."""
    case = draw(groupnorm_cases())
    n, c, h, w = case.args["x"].shape
    return case.with_args(x=spread_groups(np.random.default_rng(case.seed), (n, c, h, w), (n, c, 1, 1)))


@st.composite
def groupnorm_cases(draw) -> Case:
    n, c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
    gn_param = draw(st.fixed_dictionaries({}, optional={"eps": st.sampled_from([1e-5, 1e-3])}))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return Case({"x": values(rng, (n, c, h, w)), "gamma": values(rng, (1, c, 1, 1), 0.5, 2.0),
                 "beta": values(rng, (1, c, 1, 1)), "G": groups, "gn_param": gn_param}, seed)


def _not_dividing(cases_, context) -> Variant:
    return Variant("strides_that_do_not_divide", "{function} is right where the stride does not divide the input "
                   "(a remainder of rows or columns that no window reaches; a convention beyond CS231n's: minor)",
                   cases_, essential=False, hint=NOT_DIVIDING, context=context, max_examples=STABILITY_EXAMPLES)


conv_not_dividing = _not_dividing(conv_cases(divides=False), _conv_geometry_text)
pool_not_dividing = _not_dividing(pool_cases(divides=False), _pool_geometry_text)


layer_stacks = st.lists(st.tuples(st.integers(1, 7), st.integers(1, 4)), min_size=1, max_size=5)
rf_cases = st.builds(lambda layers: Case({"layers": layers}), layer_stacks)


@st.composite
def cost_cases(draw) -> Case:
    c, f = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    kh, kw, stride, pad = draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 4)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, kh - 2 * pad), 40))
    w = draw(st.integers(max(1, kw - 2 * pad), 40))
    return Case({"in_shape": (c, h, w), "w_shape": (f, c, kh, kw), "stride": stride, "pad": pad})


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


# ---------------------------------------------------------------------------------------------
# Exercise-specific properties


def _output_size(function: str, reference, mistakes, formula: str) -> Property:
    target = Target(function, cache=True)

    def check(ctx, case):
        called = call_target(ctx, target, case)
        ctx.forget(called.cache)
        out, want = called.outputs["out"], evaluate(reference, case.args).output.shape
        if not isinstance(out, np.ndarray) or out.shape != want:
            got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            raise PropertyFailure(f"{function}'s output has shape {got}, expected {want} ({formula})",
                                  hints=mistake_hints(mistakes, "shape", case, want, got))
    return Property("output_size_formula", f"{function}'s output has the contract's size, {formula}", check)


def _translation_equivariant(ctx, case):
    """conv(x shifted down or right by one stride) = conv(x) shifted by one output position."""
    target = Target("conv_forward_naive", cache=True)
    x, s = case.args["x"], case.args["conv_param"]["stride"]
    outs = {}
    for axis in (2, 3):
        if x.shape[axis] <= s:
            continue
        core = np.take(x, range(x.shape[axis] - s), axis=axis)
        zeros = np.zeros_like(np.take(x, range(s), axis=axis))
        for name, shifted in (("x", np.concatenate([zeros, core], axis)), ("shifted", np.concatenate([core, zeros], axis))):
            called = call_target(ctx, target, case.with_args(x=shifted))
            ctx.forget(called.cache)
            outs[name] = require_array("out", called.outputs["out"], evaluate(ref.conv, case.with_args(x=shifted).args).output.shape)
        last = outs["x"].shape[axis]
        moved, base = np.take(outs["shifted"], range(last - 1), axis=axis), np.take(outs["x"], range(1, last), axis=axis)
        try:
            assert_matches("output", {"out(shifted x)": moved}, {"out(shifted x)": base}, what="the shifted output of x")
        except PropertyFailure as failure:
            failure.summary = (f"shifting the input by one stride along axis {axis} does not shift the output by one: "
                               + failure.summary)
            failure.hints.append(STRIDE)
            raise


def _db_is_sum_of_dout(ctx, case):
    forward, ev = forward_for_backward(ctx, Target("conv_forward_naive", cache=True), ref.conv, case)
    dout = upstream(case.rng(1), np.shape(ev.output))
    grads = ctx.call("conv_backward_naive", dout, forward.cache).value
    ctx.forget(forward.cache)
    if not isinstance(grads, tuple) or len(grads) != 3:
        raise PropertyFailure("conv_backward_naive should return a tuple (dx, dw, db)")
    db = grads[2]
    require_like("db", db, case.args["b"])
    try:
        assert_matches("gradients", {"db": db}, {"db": dout.sum(axis=(0, 2, 3))}, what="dout.sum(axis=(0, 2, 3))")
    except PropertyFailure as failure:
        failure.hints.append(DB_SUM)
        raise


def _one_hot_gradient(forward: str, backward: str, reference, expected: Callable[[Case, tuple], np.ndarray],
                      name: str, description: str, hint: str) -> Property:
    """The backward of one output unit's gradient alone (a one-hot dout) is `expected(case, unit)`."""
    def check(ctx, case):
        called, _ = forward_for_backward(ctx, Target(forward, cache=True), reference, case)
        out = called.outputs["out"]
        if out.size == 0:
            ctx.forget(called.cache)
            return
        unit = tuple(int(i) for i in np.unravel_index(case.rng(5).integers(out.size), out.shape))
        dout = np.zeros(out.shape)
        dout[unit] = 1.0
        dx = ctx.call(backward, dout, called.cache).value
        ctx.forget(called.cache)
        require_like("dx", dx, case.args["x"])
        try:
            assert_matches("gradients", {"dx": dx}, {"dx": expected(case, unit)},
                           what=f"the gradient of output {list(unit)} alone")
        except PropertyFailure as failure:
            failure.summary = f"with dout one-hot at {list(unit)}: " + failure.summary
            failure.hints.append(hint)
            raise
    return Property(name, description, check)


def _window_of(case, unit):
    p = case.args["pool_param"]
    n, c, i, j = unit
    s = p["stride"]
    return (n, c, slice(i * s, i * s + p["pool_height"]), slice(j * s, j * s + p["pool_width"]))


def _max_pool_unit(case, unit):
    x = case.args["x"]
    dx = np.zeros(x.shape)
    window = _window_of(case, unit)
    block = x[window]
    r, c = np.unravel_index(np.argmax(block), block.shape)
    dx[window][r, c] = 1.0
    return dx


def _avg_pool_unit(case, unit):
    p = case.args["pool_param"]
    dx = np.zeros(case.args["x"].shape)
    dx[_window_of(case, unit)] = 1.0 / (p["pool_height"] * p["pool_width"])
    return dx


def _global_pool_unit(case, unit):
    x = case.args["x"]
    dx = np.zeros(x.shape)
    dx[unit] = 1.0 / (x.shape[2] * x.shape[3])
    return dx


def _overlapping_windows(forward: str, backward: str, oracle, mistakes) -> Property:
    """The backward on explicit cases where windows overlap and share their maximum."""
    def check(ctx, case):
        called, ev = forward_for_backward(ctx, Target(forward, cache=True), oracle, case)
        dout = upstream(case.rng(1), ev.output.shape)
        dx = ctx.call(backward, dout, called.cache).value
        ctx.forget(called.cache)
        require_like("dx", dx, case.args["x"])
        right = _vjp(oracle, case, ("x",), dout)
        try:
            assert_matches("gradients", {"dx": dx}, {"dx": right["x"]})
        except PropertyFailure as failure:
            failure.summary = "where pooling windows overlap: " + failure.summary
            failure.hints += mistake_hints(mistakes, "gradients", case, right, {"x": dx}, dout)
            raise
    return Property("overlapping_windows_accumulate",
                    f"{backward} sums the gradients of overlapping windows (stride < window, shared maximum)",
                    check, cases=examples(*OVERLAPPING))


def _running_statistics(ctx, case):
    """Two train steps carry bn_param's running statistics; a test step then uses them."""
    target = Target("spatial_batchnorm_forward", cache=True, mutable=("bn_param",))
    rng = case.rng(2)
    param = case.args["bn_param"]
    for step in (1, 2):
        called = call_target(ctx, target, case)
        ctx.forget(called.cache)
        after = called.outcome.args_after[3]
        if not isinstance(after, dict) or "running_mean" not in after or "running_var" not in after:
            raise PropertyFailure(f"after train step {step}, bn_param has no running_mean or running_var",
                                  hints=[WRITE_BACK])
        stats = evaluate(ref.spatial_batchnorm_running_stats, {"x": case.args["x"], "bn_param": param}).output
        want = {"running_mean": stats[0], "running_var": stats[1]}
        got = {k: after[k] for k in want}
        for k in want:
            require_like(f"bn_param[{k!r}]", got[k], want[k])
        try:
            assert_matches("running statistics", got, want, what=f"the running statistics after train step {step}")
        except PropertyFailure as failure:
            failure.hints += _running_hints(case, param, got)
            raise
        param = {**after, "mode": "train"}
        x = case.args["x"]
        case = case.with_args(x=x * rng.uniform(0.5, 2.0) + rng.normal(0, 1, (1, x.shape[1], 1, 1)), bn_param=param)
    test = case.with_args(bn_param={**param, "mode": "test"})
    called = call_target(ctx, target, test)
    ctx.forget(called.cache)
    want_out = evaluate(ref.spatial_batchnorm, test.args).output
    require_like("out", called.outputs["out"], want_out)
    try:
        assert_matches("output", {"out": called.outputs["out"]}, {"out": want_out},
                       what="the test-mode output with the running statistics of two train steps")
    except PropertyFailure as failure:
        failure.hints.append(TEST_MODE)
        raise


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


def _value_function(name: str, reference: Callable, cases, check_types: Callable[[Any], None],
                    mistakes=(), summary: str = "", mutable_args: bool = False) -> Exercise:
    """An exercise returning plain Python values (ints, a dict), compared exactly."""
    def run(ctx, case):
        return ctx.call(name, *in_call_order(A, name, case).args.values())

    def runs(ctx, case):
        run(ctx, case)

    def types(ctx, case):
        check_types(run(ctx, case).value)

    def value(ctx, case):
        got = run(ctx, case).value
        check_types(got)
        want = reference(**case.args)
        if got != want:
            raise PropertyFailure(f"{name} returned another value than an independent torch computation",
                                  details=[f"returned {got!r}, expected {want!r}"],
                                  hints=mistake_hints(mistakes, "output", case, want, got))

    def unchanged(ctx, case):
        outcome = run(ctx, case)
        if list(outcome.args_after) != list(in_call_order(A, name, case).args.values()):
            raise PropertyFailure(f"{name} modified its arguments", hints=["Do not sort, reverse or edit the list you are given."])

    properties = [
        Property("runs_on_valid_inputs", f"{name} runs on every valid input", runs),
        Property("returns_the_contract_types", f"{name} returns exactly the contract's Python types", types),
        Property("matches_reference", f"{name} equals an independent torch computation", value, weight=4.0),
    ]
    if mutable_args:
        properties.append(Property("inputs_unchanged", f"{name} leaves its arguments unchanged", unchanged,
                                   weight=1.0, essential=False))
    return Exercise(name, A, MODULE, summary, properties, cases)


def _python_int(what: str, value: Any) -> None:
    if type(value) is not int:
        kind = f"a numpy {value.dtype} scalar" if isinstance(value, np.ndarray) and value.shape == () else type(value).__name__
        raise PropertyFailure(f"{what} should be a Python int, got {kind}",
                              hints=["Return Python ints: wrap numpy results in int(...)."])


def _rf_types(value):
    _python_int("receptive_field's result", value)


def _cost_types(value):
    if type(value) is not dict or set(value) != {"out_shape", "params", "macs"}:
        got = f"a dict with {len(value)} keys" if isinstance(value, dict) else f"a {type(value).__name__}"
        raise PropertyFailure(f"conv_cost should return a dict with exactly the keys macs, out_shape, params; got {got}",
                              details=[f"keys: {sorted(value)}"] if isinstance(value, dict) else [])
    shape = value["out_shape"]
    if type(shape) is not tuple or len(shape) != 3:
        got = f"a tuple of {len(shape)}" if isinstance(shape, tuple) else f"a {type(shape).__name__}"
        raise PropertyFailure(f"out_shape should be a tuple (F, H', W'), got {got}", details=[f"out_shape: {shape!r}"],
                              hints=["out_shape is the tuple (F, H', W') of one example's output."])
    for i, d in enumerate(shape):
        _python_int(f"out_shape[{i}]", d)
    _python_int("params", value["params"])
    _python_int("macs", value["macs"])


# ---------------------------------------------------------------------------------------------
# The exercises

def spatial_batchnorm_layer(cases) -> list[Exercise]:
    """Spatial batchnorm's forward and backward exercises, drawing from `cases`."""
    return layer(A, MODULE, "spatial_batchnorm_forward", "spatial_batchnorm_backward", ref.spatial_batchnorm,
                 cases, ("x", "gamma", "beta"), mutable=("bn_param",),
                 summary="spatial batch normalisation (per channel over N, H, W)",
                 variants=[mixed_scales(batchnorm_spread_cases())],
                 forward_mistakes=[Mistake(CHANNELS_LAST, "output", _bn_reshape_without_transpose),
                                   Mistake(CHANNELS_LAST, "output", _bn_model(lambda x, eps: _normalised(x, 0, eps))),
                                   Mistake(TEST_MODE, "output", _bn_with_batch_stats_in_test)],
                 forward_extra=[Property("running_statistics",
                                         "train steps write momentum-averaged running statistics back into bn_param, "
                                         "and test mode normalises with them", _running_statistics,
                                         cases=batchnorm_cases(("train",)))],
                 backward_mistakes=[Mistake(FULL_NORM_BACKWARD, "gradients", _norm_without_mean_terms())])


EXERCISES = [
    *layer(A, MODULE, "conv_forward_naive", "conv_backward_naive", ref.conv, conv_cases(), ("x", "w", "b"),
           summary="convolution (cross-correlation) with stride and zero padding", variants=[conv_not_dividing],
           sum_axes={"b": (0, 2, 3)},
           forward_mistakes=[Mistake(CROSS_CORRELATION, "output",
                                     lambda case, right, _: evaluate(ref.conv, case.with_args(w=case.args["w"][:, :, ::-1, ::-1].copy()).args).output),
                             Mistake(BOTH_SIDES, "output", _one_sided_conv),
                             Mistake(STRIDE, "output", _stride_one_output(ref.conv, "conv_param"))],
           forward_extra=[_output_size("conv_forward_naive", ref.conv, CONV_SHAPE_MISTAKES,
                                       "H' = 1 + (H + 2·pad − HH) // stride"),
                          Property("translation_equivariant",
                                   "shifting the input by one stride shifts conv_forward_naive's output by one position",
                                   _translation_equivariant)],
           backward_mistakes=[Mistake(CROSS_CORRELATION, "gradients", _flipped_conv_grads),
                              Mistake(STRIDE, "gradients", _stride_one_grads(ref.conv, ("x", "w", "b"), "conv_param")),
                              Mistake(DW_AXES, "gradients",
                                      lambda case, right, _: {**right, "w": right["w"] / len(case.args["x"])}),
                              Mistake(DW_AXES, "gradients",
                                      lambda case, right, dout: {**right, "w": _vjp(ref.conv, case.with_args(x=case.args["x"][-1:]), ("w",), dout[-1:])["w"]}),
                              Mistake(DB_SUM, "gradients", lambda case, right, _: {**right, "b": right["b"] / len(case.args["x"])})],
           backward_extra=[Property("db_is_sum_of_dout", "conv_backward_naive's db is dout summed over batch and space",
                                    _db_is_sum_of_dout)]),
    *layer(A, MODULE, "max_pool_forward_naive", "max_pool_backward_naive", ref.max_pool, pool_cases(), ("x",),
           summary="max pooling, windows possibly overlapping", variants=[pool_not_dividing],
           forward_mistakes=[Mistake(STRIDE, "output", _stride_one_output(ref.max_pool, "pool_param"))],
           forward_extra=[_output_size("max_pool_forward_naive", ref.max_pool, POOL_SHAPE_MISTAKES,
                                       "H' = 1 + (H − pool_height) // stride")],
           backward_mistakes=(max_mistakes := [
               Mistake(ACCUMULATE, "gradients", _max_pool_assigned),
               Mistake(ACCUMULATE, "gradients", _max_pool_assigned_at_max),
               Mistake(ONLY_MAX, "gradients", lambda case, right, dout: _vjp(ref.avg_pool, case, ("x",), dout)),
               Mistake(STRIDE, "gradients", _stride_one_grads(ref.max_pool, ("x",), "pool_param"))]),
           backward_extra=[_one_hot_gradient("max_pool_forward_naive", "max_pool_backward_naive", ref.max_pool, _max_pool_unit,
                                             "gradient_lands_on_window_maximum",
                                             "one output unit's gradient lands on its window's maximum, nowhere else",
                                             ONLY_MAX),
                           _overlapping_windows("max_pool_forward_naive", "max_pool_backward_naive", ref.max_pool,
                                                max_mistakes)]),
    *layer(A, MODULE, "avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool, pool_cases(), ("x",),
           summary="average pooling, windows possibly overlapping", variants=[pool_not_dividing],
           forward_extra=[_output_size("avg_pool_forward_naive", ref.avg_pool, POOL_SHAPE_MISTAKES,
                                       "H' = 1 + (H − pool_height) // stride")],
           backward_mistakes=(avg_mistakes := [
               Mistake(ACCUMULATE, "gradients", _avg_pool_assigned),
               Mistake(SPREAD, "gradients", lambda case, right, _: {
                   "x": right["x"] * case.args["pool_param"]["pool_height"] * case.args["pool_param"]["pool_width"]}),
               Mistake(STRIDE, "gradients", _stride_one_grads(ref.avg_pool, ("x",), "pool_param"))]),
           backward_extra=[_one_hot_gradient("avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool, _avg_pool_unit,
                                             "gradient_spreads_evenly",
                                             "one output unit's gradient spreads evenly over its window", SPREAD),
                           _overlapping_windows("avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool,
                                                avg_mistakes)]),
    *layer(A, MODULE, "global_avg_pool_forward", "global_avg_pool_backward", ref.global_avg_pool,
           global_pool_cases(), ("x",), summary="global average pooling",
           forward_mistakes=[Mistake("Global average pooling is the MEAN over H and W: divide by H·W.", "output",
                                     lambda case, right, _: right * case.args["x"].shape[2] * case.args["x"].shape[3])],
           backward_mistakes=[Mistake(GLOBAL_SPREAD, "gradients", lambda case, right, _: {
               "x": right["x"] * case.args["x"].shape[2] * case.args["x"].shape[3]})],
           backward_extra=[_one_hot_gradient("global_avg_pool_forward", "global_avg_pool_backward", ref.global_avg_pool,
                                             _global_pool_unit,
                                             "gradient_spreads_evenly",
                                             "one output unit's gradient spreads evenly over its feature map",
                                             GLOBAL_SPREAD)]),
    # The forward meets both modes; the backward the train mode's cache only (CS231n's has no other).
    spatial_batchnorm_layer(batchnorm_cases())[0],
    spatial_batchnorm_layer(batchnorm_cases(("train",)))[1],
    *layer(A, MODULE, "spatial_groupnorm_forward", "spatial_groupnorm_backward", ref.spatial_groupnorm,
           groupnorm_cases(), ("x", "gamma", "beta"), summary="spatial group normalisation (per example and group)",
           variants=[mixed_scales(groupnorm_spread_cases())],
           forward_mistakes=[Mistake(GROUPS, "output", _gn_model(_interleaved_groups)),
                             Mistake(GROUPS, "output", _gn_model(_groups_across_batch)),
                             Mistake(GROUPS, "output", _gn_model(_one_group))],
           backward_mistakes=[Mistake(FULL_NORM_BACKWARD, "gradients", _norm_without_mean_terms())]),
    _value_function("receptive_field", ref.receptive_field, rf_cases, _rf_types, mutable_args=True,
                    summary="receptive field of a stack of convolutions",
                    mistakes=[Mistake(STRIDES_COMPOUND, "output", _rf_ignoring_strides),
                              Mistake(STRIDES_COMPOUND, "output", _rf_own_stride)]),
    _value_function("conv_cost", ref.conv_cost, cost_cases(), _cost_types, summary="output shape, parameters, MACs",
                    mistakes=[Mistake(BIAS_PARAMS, "output", _cost_without_bias),
                              Mistake(MACS, "output", _macs_without_channels)]),
]
