"""The hygiene properties, written once over a Run: what they say about what calls sent and got back."""

from __future__ import annotations

import numpy as np
import pytest

from dlgrade.checkers.exercise import Case, PropertyFailure
from dlgrade.checkers.hygiene import Call, Run, assert_fresh, assert_no_trouble, assert_unchanged
from dlgrade.checkers.properties import ARGUMENTS, UPSTREAM
from dlgrade.grader.boundary.submission import CallOutcome


def _outcome(*after, aliases=(), warnings=()) -> CallOutcome:
    return CallOutcome(value=None, args_after=list(after), aliases=list(aliases), warnings=list(warnings))


X, W = np.arange(4.0), np.ones((2, 2))


def test_arguments_as_sent_pass_and_a_modified_one_is_named():
    assert_unchanged(Run.single("f", _outcome(X.copy(), W.copy()), Case({"x": X, "w": W})), ARGUMENTS)
    with pytest.raises(PropertyFailure, match=r"^f modified its argument w in place$") as caught:
        assert_unchanged(Run.single("f", _outcome(X.copy(), W * 2), Case({"x": X, "w": W})), ARGUMENTS)
    assert caught.value.hints == [ARGUMENTS.hint]


def test_an_argument_the_contract_lets_change_is_not_checked():
    assert_unchanged(Run.single("f", _outcome(X.copy(), {"mode": "x"}), {"x": X, "p": {"mode": "train"}}, ["p"]),
                     ARGUMENTS)


def test_entries_added_to_a_dict_argument_are_named():
    with pytest.raises(PropertyFailure, match="added or removed entries of its argument p"):
        assert_unchanged(Run.single("f", _outcome({"a": X, "b": X}), {"p": {"a": X}}), ARGUMENTS)


def test_each_call_of_a_run_is_told_apart_and_only_the_named_arguments_are_checked():
    steps = [Call.of(_outcome(X * k, X.copy()), {"w": X, "dw": X}, only=("dw",), where=f" (step {k})") for k in (1, 2)]
    assert_unchanged(Run("rule", steps), ARGUMENTS)
    steps[1] = Call.of(_outcome(X, X + 1), {"w": X, "dw": X}, only=("dw",), where=" (step 2)")
    with pytest.raises(PropertyFailure, match=r"^rule modified its argument dw in place \(step 2\)$"):
        assert_unchanged(Run("rule", steps), ARGUMENTS)


def test_an_upstream_gradient_is_told_as_one():
    with pytest.raises(PropertyFailure, match="^b modified the upstream gradient dout in place$"):
        assert_unchanged(Run.single("b", _outcome(X + 1), {"dout": X}), UPSTREAM)


def test_shared_memory_and_floating_point_trouble_are_failures():
    assert_fresh(Run.single("f", _outcome(), {}), "hint")
    with pytest.raises(PropertyFailure, match="returned arrays that share memory"):
        assert_fresh(Run.single("f", _outcome(aliases=["dx is a view of dout"]), {}), "hint")
    assert_no_trouble(Run.single("f", _outcome(), {}))
    with pytest.raises(PropertyFailure, match="numpy reported overflow"):
        assert_no_trouble(Run.single("f", _outcome(warnings=["overflow encountered in exp"]), {}))
