"""a1_backprop's own properties: probability rows, shift invariance, scores without labels, edge variants."""

from __future__ import annotations

import numpy as np

from dlgrade.checkers.declare import (assert_matches, call_target, Case, convention, evaluate, examples, Property,
                                      PropertyFailure, require_like, Target, Variant)

from .inputs import logit_cases


def _edges(name: str, cases_: list[Case]) -> Variant:
    """Values at the kinks that are fixed by the function itself (no convention): essential."""
    return Variant(name, "{function} matches the reference at the edge cases the contract fixes (exact kinks)",
                   examples(*cases_), where="forward")


def _kink(hint: str, cases_: list[Case], where: str = "backward") -> Variant:
    return convention("derivative_at_zero", "{function}'s derivative at exactly x = 0 is the contract's (a convention: "
                      "minor)", examples(*cases_), hint, where)


# ---------------------------------------------------------------------------------------------
# Exercise-specific properties


def _rows_sum_to_one(ctx, case):
    out = call_target(ctx, Target("softmax"), case).outputs["out"]
    require_like("out", out, case.args["x"])
    sums = out.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-9) or np.any(out < 0):
        raise PropertyFailure("softmax's rows are not probability distributions (non-negative, summing to 1)",
                              details=[f"row sums: {np.array2string(sums, precision=6)}"],
                              hints=["Normalise over the classes, axis=1, with keepdims=True."])


def _shift_invariant(name: str) -> Property:
    def check(ctx, case):
        shift = case.rng(3).uniform(-50, 50, (case.args["x"].shape[0], 1))
        target = Target(name)
        base = call_target(ctx, target, case).outputs["out"]
        shifted = call_target(ctx, target, case.with_args(x=case.args["x"] + shift)).outputs["out"]
        require_like("out", base, case.args["x"])
        require_like("out", shifted, case.args["x"])
        try:
            assert_matches("output", {"out(x + c)": shifted}, {"out(x + c)": base}, what="the output for x")
        except PropertyFailure as failure:
            failure.summary = f"{name} is not invariant to adding a constant to each row: " + failure.summary
            raise
    return Property("shift_invariant", f"{name}(x + c) equals {name}(x) for a constant c added to each row", check,
                    cases=logit_cases)


def _scores_without_labels(name: str, reference) -> Property:
    def check(ctx, case):
        plain = case.without("y", "reg")
        got = call_target(ctx, Target(name, ("scores",)), plain).outputs["scores"]
        want = evaluate(reference, plain.args).output
        require_like("scores", got, want)
        assert_matches("scores", {"scores": got}, {"scores": want})
    return Property("scores_without_labels", f"{name}(X, params) returns the class scores (N, C) when y is None", check)
