"""The mutant harness itself (`tests/mutants.py`): an edit changes exactly what it names."""

from __future__ import annotations

import pytest

from mutants import edit, solution_function


def test_an_edit_replaces_one_occurrence_in_the_function_s_code():
    mutant = edit("affine_forward", "out = x_flat @ w + b", "out = x_flat @ w")
    assert mutant.startswith("def affine_forward(x, w, b):\n") and "out = x_flat @ w\n" in mutant
    assert '"""' not in mutant  # the docstring is left out: an edit never matches its text
    assert mutant.replace("out = x_flat @ w\n", "out = x_flat @ w + b\n") == solution_function("affine_forward")


@pytest.mark.parametrize("old, why", [
    ("no such text", "occurs 0 times"),
    ("cache", "occurs 2 times"),                  # ambiguous: which one?
])
def test_an_edit_that_does_not_name_exactly_one_place_fails_loudly(old, why):
    with pytest.raises(ValueError, match=why):
        edit("affine_forward", old, "y")


def test_an_edit_that_breaks_the_syntax_or_changes_nothing_fails_loudly():
    with pytest.raises(ValueError, match="not Python"):
        edit("affine_forward", "out = x_flat @ w + b", "out = (x_flat @ w")
    with pytest.raises(ValueError, match="changes nothing"):
        edit("affine_forward", "out = x_flat @ w + b", "out = x_flat @ w + b")
    with pytest.raises(ValueError, match="not once"):   # a further pair is checked as strictly
        edit("affine_forward", "out = x_flat @ w + b", "out = x_flat @ w", ("+ b", "- b"))


def test_a_function_no_solution_defines_is_an_error():
    with pytest.raises(LookupError, match="0 solutions define"):
        edit("no_such_function", "a", "b")
