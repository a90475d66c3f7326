"""The mutant harness (`tests/mutants.py`): an edit changes exactly what it names; and the coverage
of every assignment's planted mistakes, written once."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from helpers import course_assignments
from mutants import (M, assert_every_hint_shown, assert_every_property_targeted, assert_solutions_pass,
                     assert_three_kinds_each, edit, exercises_of, solution_function, spec_mistake_hints)


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


# -- every assignment's mutant table, checked the same way ------------------------------------------
#
# Each assignment's `tests/test_*_mistakes.py` holds its table: `ASSIGNMENT` (its name), `MUTANTS`
# (each caught, by its own `test_mutant_is_caught`), and optionally `MIN_SPEC_HINTS` (how many
# distinct `Mistake` hints its spec must at least be found to write). The coverage below is the same
# for every table, so it is written once, over the assignments the course's manifests name.


def _mutant_tables() -> dict[str, ModuleType]:
    tables = {}
    for path in sorted(Path(__file__).parent.glob("test_*_mistakes.py")):
        module = importlib.import_module(path.stem)
        assert module.ASSIGNMENT not in tables, f"two mutant tables for {module.ASSIGNMENT}"
        tables[module.ASSIGNMENT] = module
    return tables


TABLES = _mutant_tables()
ASSIGNMENTS = course_assignments()


def _table(assignment: str) -> ModuleType:
    assert assignment in TABLES, f"{assignment} has no tests/test_*_mistakes.py with ASSIGNMENT = {assignment!r}"
    return TABLES[assignment]


def test_every_mutant_table_is_of_an_assignment_of_the_course():
    assert set(TABLES) <= set(ASSIGNMENTS), sorted(set(TABLES) - set(ASSIGNMENTS))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_pass_every_exercise(assignment):
    _table(assignment)
    assert_solutions_pass(assignment)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_property_is_the_target_of_a_mutant(assignment):
    # A property that needs hardware this machine may lack (a GPU) is skipped here, so no mutant
    # can be shown to fail it: it stands in as targeted.
    needs_hardware = [M(e.name, f"needs-hardware-{p.name}", "needs_hardware", "", [p.name])
                      for e in exercises_of(assignment) for p in e.properties if p.skip_if is not None]
    assert_every_property_targeted(assignment, list(_table(assignment).MUTANTS) + needs_hardware)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_exercise_has_three_kinds_of_mutant(assignment):
    assert_three_kinds_each(assignment, _table(assignment).MUTANTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_mistake_hint_is_shown_by_a_mutant(assignment):
    table = _table(assignment)
    # the spec's hints are read from its source: a floor keeps a reader that finds none from passing
    assert len(set(spec_mistake_hints(assignment))) >= getattr(table, "MIN_SPEC_HINTS", 0)
    assert_every_hint_shown(assignment, table.MUTANTS)
