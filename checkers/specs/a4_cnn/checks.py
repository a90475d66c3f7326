"""a4_cnn's own properties: output sizes, translation equivariance, one-hot gradients,
overlapping windows, running statistics, the value functions' types."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import dlgrade.reference.a4_cnn.conv as ref
from dlgrade.checkers.declare import (assert_matches, call_target, Case, evaluate, examples, Exercise,
                                      forward_for_backward, in_call_order, mistake_hints, Property, PropertyFailure,
                                      require_array, require_like, STABILITY_EXAMPLES, Target, upstream, Variant)

from .inputs import _conv_geometry_text, _pool_geometry_text, conv_cases, OVERLAPPING, pool_cases
from .mistakes import _running_hints, _vjp, DB_SUM, NOT_DIVIDING, STRIDE, TEST_MODE, WRITE_BACK


A = "a4_cnn"
MODULE = "conv"


def _not_dividing(cases_, context) -> Variant:
    return Variant("strides_that_do_not_divide", "{function} is right where the stride does not divide the input "
                   "(a remainder of rows or columns that no window reaches; a convention beyond CS231n's: minor)",
                   cases_, essential=False, hint=NOT_DIVIDING, context=context, max_examples=STABILITY_EXAMPLES)


conv_not_dividing = _not_dividing(conv_cases(divides=False), _conv_geometry_text)
pool_not_dividing = _not_dividing(pool_cases(divides=False), _pool_geometry_text)


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
