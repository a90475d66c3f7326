"""a3_optimizers' own checks: the reference's steps, and clip_grad_norm's properties."""

from __future__ import annotations

import numpy as np

import dlgrade.reference.a3_optimizers.optim as ref
from dlgrade.checkers.declare import (ARGUMENTS, assert_matches, CallOutcome, Case, Context, CORRECTNESS_WEIGHT,
                                      evaluate, FLOAT32, float32_property, fresh_property, in_call_order, Property,
                                      PropertyFailure, require_array, require_scalar, Run, unchanged_property,
                                      values_close)

from .inputs import above, any_side, below
from .mistakes import _clip_hints, _clip_mistakes, _norm, CLIP_TARGET_HINT, GLOBAL_NORM, ONLY_ABOVE


A = "a3_optimizers"
MODULE = "optim"


# ---------------------------------------------------------------------------------------------
# Running a rule over the steps of a case: the student's, the reference's, a mistaken one's


def reference_steps(rule: str, case: Case) -> tuple[np.ndarray, tuple[dict, ...]]:
    """The reference's next_w after every step, stacked, and its config after every step."""
    run = evaluate(lambda w, dw_steps, config=None: ref.steps(ref.RULES[rule], w, dw_steps, config), case.args)
    return run.output


CLIP = "clip_grad_norm"


def _clip_call(ctx: Context, case: Case, dtype=np.float64) -> tuple[dict, float, CallOutcome]:
    outcome = ctx.call(CLIP, *in_call_order(A, CLIP, case).args.values())
    value = outcome.value
    if not isinstance(value, tuple) or len(value) != 2:
        raise PropertyFailure(f"{CLIP} should return a tuple (clipped, total_norm); got a {type(value).__name__}",
                              hints=[CLIP_TARGET_HINT])
    clipped, total = value
    grads = case.args["grads"]
    if not isinstance(clipped, dict) or set(clipped) != set(grads):
        raise PropertyFailure(f"clipped should be a dict with the keys {sorted(grads)}", hints=[CLIP_TARGET_HINT])
    for k, g in grads.items():
        require_array(f"clipped[{k!r}]", clipped[k], g.shape, dtype)
    return clipped, require_scalar("total_norm", total), outcome


def _clip_right(case: Case) -> tuple[dict, float]:
    clipped, total = evaluate(ref.clip_grad_norm, case.args).output
    return clipped, float(total)


def _clip_matches(ctx, case):
    clipped, total, _ = _clip_call(ctx, case)
    want, want_total = _clip_right(case)
    for part, got, expected in (("total_norm", {"total_norm": np.array(total)}, {"total_norm": np.array(want_total)}),
                                ("clipped", {f"clipped[{k!r}]": v for k, v in clipped.items()},
                                 {f"clipped[{k!r}]": v for k, v in want.items()})):
        try:
            assert_matches(part, got, expected)
        except PropertyFailure as failure:
            failure.hints += _clip_hints(case, clipped, total, part)
            raise


def _clip_unchanged_below(ctx, case):
    clipped, _, _ = _clip_call(ctx, case)
    try:
        assert_matches("clipped", clipped, case.args["grads"], what="the gradients (max_norm is above their norm)")
    except PropertyFailure as failure:
        failure.hints.append(ONLY_ABOVE)
        raise


def _clip_norm_is_max(ctx, case):
    clipped, _, _ = _clip_call(ctx, case)
    got = _norm(clipped)
    if abs(got - case.args["max_norm"]) > 1e-6 * case.args["max_norm"]:
        raise PropertyFailure("the global norm of the clipped gradients is not max_norm",
                              details=[f"global norm after clipping {got:.10g}, max_norm {case.args['max_norm']:.10g}"],
                              hints=[GLOBAL_NORM] if values_close(clipped, _clip_mistakes(case)[GLOBAL_NORM][0]) else [])


def _clip_direction(ctx, case):
    clipped, _, _ = _clip_call(ctx, case)
    grads = case.args["grads"]
    flat_g = np.concatenate([grads[k].ravel() for k in grads])
    flat_c = np.concatenate([np.asarray(clipped[k], dtype=np.float64).ravel() for k in grads])
    factor = float(flat_c @ flat_g / (flat_g @ flat_g))
    if factor <= 0 or not values_close(flat_c, factor * flat_g):
        raise PropertyFailure("the clipped gradients are not all the inputs times one positive factor: the direction changed",
                              details=[f"best common factor {factor:.6g}"],
                              hints=[GLOBAL_NORM] if values_close(clipped, _clip_mistakes(case)[GLOBAL_NORM][0]) else [])


def _clip_total_before(ctx, case):
    _, total, _ = _clip_call(ctx, case)
    want = _norm(case.args["grads"])
    try:
        assert_matches("total_norm", {"total_norm": np.array(total)}, {"total_norm": np.array(want)},
                       what="the global norm of the inputs")
    except PropertyFailure as failure:
        failure.hints += _clip_hints(case, None, total, "total_norm")
        raise


def _clip_run(ctx, case) -> Run:
    _, _, outcome = _clip_call(ctx, case)
    return Run.single(CLIP, outcome, in_call_order(A, CLIP, case))


def _clip_float32(ctx, case32):
    clipped, total, _ = _clip_call(ctx, case32, np.float32)
    want, want_total = _clip_right(case32)
    assert_matches("clipped", {**clipped, "total_norm": np.array(total)}, {**want, "total_norm": np.array(want_total)},
                   FLOAT32, "the reference (float32 tolerance)")


def _clip_runs(ctx, case):
    ctx.call(CLIP, *in_call_order(A, CLIP, case).args.values())
clip_properties = [
    Property("runs_on_valid_inputs", f"{CLIP} runs on every valid input", _clip_runs, any_side),
    Property("output_structure", "clipped is a dict with grads' keys and exact shapes (float64), total_norm a scalar",
             lambda ctx, case: _clip_call(ctx, case), any_side),
    Property("matches_reference", f"{CLIP}'s clipped gradients and total_norm match the reference", _clip_matches,
             any_side, CORRECTNESS_WEIGHT),
    Property("unchanged_below_threshold", "below max_norm the gradients keep their values", _clip_unchanged_below, below),
    Property("clipped_norm_is_max_norm", "above max_norm the global norm of the result is max_norm", _clip_norm_is_max, above),
    Property("direction_preserved", "every gradient is scaled by one common positive factor", _clip_direction, any_side),
    Property("total_norm_before_clipping", "total_norm is the global norm of the inputs", _clip_total_before, any_side),
    unchanged_property(_clip_run, f"{CLIP} leaves grads unchanged", any_side, said=ARGUMENTS),
    fresh_property(_clip_run, f"{CLIP} returns new arrays, never its inputs",
                   "Return new arrays (g * scale, or g.copy() when no scaling is needed).", any_side,
                   name="returns_new_arrays"),
    float32_property(_clip_float32, "float32 gradients give float32 clipped gradients", any_side),
]
