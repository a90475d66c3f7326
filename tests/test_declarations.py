"""Declarations against the contract: call order from the contract's signatures, clear errors
for cases that do not fit them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

import dlgrade.reference.a1_backprop.losses as ref_losses
from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.contract import DeclarationError, contract_parameters, in_call_order
from dlgrade.checkers.exercise import Case
from dlgrade.checkers.profiles import get_profile
from dlgrade.checkers.properties import loss
from dlgrade.checkers.runner import check_exercise
from dlgrade.checkers.strategies import cases, labels
from dlgrade.grader.boundary.submission import InProcessSubmission

A1 = "a1_backprop"


def _labels_first(rng, n, c):
    """softmax_loss(x, y)'s arguments, built with y first: dict order is not call order."""
    return {"y": labels(rng, n, c), "x": rng.normal(size=(n, c))}


def test_a_case_built_in_another_order_is_called_in_the_contracts_order():
    exercise, = loss(A1, "losses", "softmax_loss", ref_losses.softmax_loss,
                     cases(_labels_first, n=st.integers(1, 4), c=st.integers(2, 5)))
    with InProcessSubmission(ASSIGNMENTS_DIR) as submission:
        result = check_exercise(exercise, submission, get_profile("student", seed=3))
    assert {p.name: p.message for p in result.properties if not p.passed} == {}
    assert result.passed


def test_the_call_order_is_the_contracts_parameter_list():
    assert contract_parameters(A1, "affine_forward").names == ("x", "w", "b")
    case = Case({"b": np.zeros(2), "x": np.ones((1, 3)), "w": np.ones((3, 2))})
    assert list(in_call_order(A1, "affine_forward", case).args) == ["x", "w", "b"]


def test_a_defaulted_parameter_may_be_left_out():
    params = contract_parameters(A1, "leaky_relu_forward")
    assert params.defaulted
    assert list(params.order(Case({"x": np.ones(2)})).args) == ["x"]


@pytest.mark.parametrize("args, words", [
    ({"x": 1, "w": 2, "b": 3, "bias": 4}, "'bias', which is not a parameter of affine_forward(x, w, b)"),
    ({"x": 1, "w": 2}, "lacks 'b'"),
])
def test_a_case_whose_keys_are_not_the_parameters_is_a_clear_error(args, words):
    with pytest.raises(DeclarationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        in_call_order(A1, "affine_forward", Case(args))


def test_a_declared_key_that_is_not_a_parameter_fails_before_any_student_call():
    exercise, = loss(A1, "losses", "softmax_loss", ref_losses.softmax_loss,
                     cases(lambda rng, n: {"logits": rng.normal(size=(n, 3)), "y": labels(rng, n, 3)},
                           n=st.integers(1, 3)))
    with pytest.raises(DeclarationError, match="'logits', which is not a parameter of softmax_loss"):
        exercise.cases.example()


def test_a_function_that_is_not_in_the_contract_fails_at_declaration():
    with pytest.raises(DeclarationError, match="no module of a1_backprop defines softmax_los"):
        loss(A1, "losses", "softmax_los", ref_losses.softmax_loss, cases(lambda rng: {}))


def test_every_declared_case_fits_its_contract_function():
    """Each exercise's drawn cases (put in call order as they are drawn, where the declaration
    kind calls the function with them) raise no DeclarationError."""
    import warnings

    from hypothesis.errors import NonInteractiveExampleWarning

    from dlgrade.checkers.registry import all_exercises

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        for exercise in all_exercises():
            exercise.cases.example()
