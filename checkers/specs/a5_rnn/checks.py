"""a5_rnn's own properties: a sequence's backward against the student's own steps, masked steps."""

from __future__ import annotations

import numpy as np

from dlgrade.checkers.declare import (assert_matches, call_target, Case, evaluate, gradient_names, mistake_hints,
                                      Property, PropertyFailure, require_like, Target, unpack_gradients, upstream,
                                      values_close)

from .inputs import SEQUENCE_INPUTS, SEQUENCE_REFERENCE, STEP_INPUTS, WEIGHTS
from .mistakes import MASK_IGNORED


A = "a5_rnn"
M = "rnn_layers"


# ---------------------------------------------------------------------------------------------
# Exercise-specific properties


def _compose_own_steps(ctx, kind: str, case: Case, dh: np.ndarray) -> dict[str, np.ndarray]:
    """The student's own step forward and step backward run through time over the sequence in
    `case`, with the upstream gradient `dh` of every hidden state: the gradients that the
    sequence backward should give if its loop through time is right."""
    a = case.args
    x, h0, weights = a["x"], a["h0"], tuple(a[w] for w in WEIGHTS)
    n, steps, _ = x.shape
    forward = Target(f"{kind}_step_forward", ("next_h", "next_c") if kind == "lstm" else ("next_h",), cache=True)
    backward = f"{kind}_step_backward"
    caches, h, c = [], h0, np.zeros_like(h0)
    try:
        for t in range(steps):
            step_args = dict(zip(STEP_INPUTS[kind], (x[:, t], h, *((c,) if kind == "lstm" else ()), *weights)))
            called = call_target(ctx, forward, Case(step_args, case.seed))
            caches.append((called.cache, step_args))
            h = called.outputs["next_h"]
            require_like("next_h", h, h0)
            if kind == "lstm":
                c = called.outputs["next_c"]
                require_like("next_c", c, h0)
        totals = {"x": np.zeros(x.shape), **{w: np.zeros(np.shape(v)) for w, v in zip(WEIGHTS, weights)}}
        dnext_h, dnext_c = np.zeros(h0.shape), np.zeros(h0.shape)
        for t in reversed(range(steps)):
            cache, step_args = caches[t]
            upstreams = (dh[:, t] + dnext_h, *((dnext_c,) if kind == "lstm" else ()))
            grads = unpack_gradients(backward, ctx.call(backward, *upstreams, cache).value, step_args)
            for name, value in step_args.items():
                require_like(f"d{name}", grads[name], value)
            totals["x"][:, t] = grads["x"]
            for w in WEIGHTS:
                totals[w] += grads[w]
            dnext_h = grads["prev_h"]
            if kind == "lstm":
                dnext_c = grads["prev_c"]
    finally:
        for cache, _ in caches:
            ctx.forget(cache)
    return {"x": totals["x"], "h0": dnext_h, **{w: totals[w] for w in WEIGHTS}}


def _backward_matches_own_steps(kind: str, mistakes) -> Property:
    """The sequence backward against the student's own step functions run through time: a
    sequence backward that is wrong is either wrong in its loop (its own steps, composed,
    would be right, or at least give something else) or only repeats its steps' mistake."""
    forward, backward = Target(f"{kind}_forward", ("h",), cache=True), f"{kind}_backward"
    step = f"{kind}_step_forward/{kind}_step_backward"

    def check(ctx, case):
        n, steps, _ = case.args["x"].shape
        dh = upstream(case.rng(1), (n, steps, case.args["h0"].shape[1]))
        called = call_target(ctx, forward, case)
        outcome = ctx.call(backward, dh, called.cache)
        ctx.forget(called.cache)
        inputs = {k: case.args[k] for k in SEQUENCE_INPUTS}
        grads = unpack_gradients(backward, outcome.value, inputs)
        for name, value in inputs.items():
            require_like(f"d{name}", grads[name], value)
        right = evaluate(SEQUENCE_REFERENCE[kind], case.args, SEQUENCE_INPUTS).vjp(dh)
        if values_close(gradient_names(grads), gradient_names(right)):
            return  # a right sequence backward is never blamed for its steps
        try:
            composed = _compose_own_steps(ctx, kind, case, dh)
        except PropertyFailure as failure:
            failure.summary = (f"{backward} does not match the reference, and your own {step} could not be run "
                               f"through time to tell where the bug is: {failure.summary}")
            raise
        if values_close(gradient_names(grads), gradient_names(composed)):
            return  # same as its own steps: the bug is in a step, which its own exercises report
        steps_right = values_close(gradient_names(composed), gradient_names(right))
        try:
            assert_matches("gradients", gradient_names(grads), gradient_names(composed),
                           what=f"your own {step} run through time")
        except PropertyFailure as failure:
            failure.summary = f"{backward} disagrees with your own steps: {failure.summary}"
            failure.hints += mistake_hints(mistakes, "gradients", case, right, grads, dh)
            failure.diagnosis = (
                f"your own {step}, run through time, give the reference's gradients: the bug is in {backward}'s "
                f"loop through time (or in what {kind}_forward caches), not in the step." if steps_right else
                f"neither matches the reference: your {kind}_step_backward is wrong too (see its own checks), and "
                f"{backward}'s loop through time differs from running it step by step.")
            raise

    return Property("backward_matches_own_steps",
                    f"where {backward} is wrong, it at least agrees with your own {step} run through time "
                    f"(a failure here means the bug is in the loop through time, not in the step)", check)


def _masked_steps_contribute_nothing(ctx, case):
    """Changing scores and labels at masked steps changes nothing; dx there is exactly 0."""
    target = Target("temporal_softmax_loss", ("loss", "grads"))
    mask = case.args["mask"]
    rng = case.rng(5)
    x2, y2 = case.args["x"].copy(), case.args["y"].copy()
    x2[~mask] = rng.normal(0.0, 4.0, x2[~mask].shape)
    y2[~mask] = rng.integers(0, x2.shape[2], int((~mask).sum()))
    results = []
    for variant in (case, case.with_args(x=x2, y=y2)):
        called = call_target(ctx, target, variant)
        value = called.outputs["loss"]
        value = float(value) if np.ndim(value) == 0 and isinstance(value, (float, int, np.ndarray)) else value
        if not isinstance(value, float):
            raise PropertyFailure("temporal_softmax_loss should return a scalar loss")
        dx = called.outputs["grads"]
        require_like("dx", dx, case.args["x"])
        results.append((value, dx))
    for (value, dx), label in zip(results, ("", " after changing the scores and labels of masked steps")):
        if np.any(dx[~mask] != 0):
            worst = np.unravel_index(int(np.argmax(np.abs(dx) * (~mask)[..., None])), dx.shape)
            raise PropertyFailure(f"dx is not exactly 0 at a masked step{label}",
                                  details=[f"dx{list(worst)} = {dx[worst]:.6g} where mask{list(worst[:2])} is False"],
                                  hints=[MASK_IGNORED])
    try:
        assert_matches("loss", {"loss": np.array(results[1][0])}, {"loss": np.array(results[0][0])},
                       what="the loss before the change")
    except PropertyFailure as failure:
        failure.summary = "changing the scores and labels of masked steps changes the loss: " + failure.summary
        failure.hints.append(MASK_IGNORED)
        raise
