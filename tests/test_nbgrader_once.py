"""The nbgrader test cells of a notebook check its module once per autograde, not once per cell,
and every cell still gets the verdict on the code that had run before it."""

from __future__ import annotations

import pytest

from dlgrade.checkers.registry import all_exercises
from dlgrade.grader.grading.notebooks import code_cells, module_source
from dlgrade.grader.integrations import nbgrader_bridge
from dlgrade.grader.integrations.nbgrader_bridge import generate

ASSIGNMENT, MODULE = "a1_backprop", "losses"


def _verdict(name: str, source: str) -> dict:
    # Points that tell the code checked apart: one per function it defines.
    points = float(source.count("\ndef ") + source.startswith("def "))
    return {"name": name, "passed": True, "points": points, "max_points": 100.0}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """Runs a notebook's code cells in order as nbgrader's kernel would, each test cell through
    points_earned; the checker's process is replaced by a recorder. Returns (run, launches)."""
    (notebook,) = generate(ASSIGNMENT, tmp_path / "course", [MODULE])
    monkeypatch.chdir(notebook.parent)
    launches: list[dict[str, list[str]]] = []

    def checker(assignment, module, siblings, plan):
        launches.append(plan)
        return {source: {name: _verdict(name, source) for name in names} for source, names in plan.items()}

    monkeypatch.setattr(nbgrader_bridge, "_run_checker", checker)
    monkeypatch.setattr(nbgrader_bridge, "_checked", {})

    def run(cells: list[str]) -> list[tuple[str, float, str]]:
        """(exercise, points, source of the code run before its test cell) for each test cell."""
        history, earned = [""], []
        monkeypatch.setattr(nbgrader_bridge, "_history", lambda: list(history))
        for cell in cells:
            history.append(cell)
            tested = nbgrader_bridge._tested_exercise(cell)
            if tested is not None:
                before = module_source([c for c in history if "points_earned(" not in c], {"layers", "losses", "net"})
                earned.append((tested, nbgrader_bridge.points_earned(tested), before))
        return earned

    return notebook, run, launches


def test_an_autograde_checks_the_module_once(kernel):
    notebook, run, launches = kernel
    cells = code_cells(notebook)
    earned = run(cells)
    tested = [name for name, _, _ in earned]
    assert len(tested) == 9 and len(set(tested)) == 9  # every exercise of losses.py has its test cell
    assert len(launches) == 1  # one checker process for the whole notebook
    (plan,) = launches
    assert sorted(n for names in plan.values() for n in names) == sorted(tested)  # each exercise checked once
    # Each cell's points are its exercise's verdict on the code run before that cell, as when
    # each cell checked for itself.
    for name, points, before in earned:
        assert name in plan[before] and points == _verdict(name, before)["points"]
    assert len({points for _, points, _ in earned}) == 9


def test_code_that_differs_from_the_notebook_file_is_checked_as_it_ran(kernel):
    notebook, run, launches = kernel
    cells = code_cells(notebook)
    # The kernel runs an extra definition the file does not hold (the file is not what ran).
    second_test = [i for i, c in enumerate(cells) if "points_earned(" in c][1]
    ran = cells[:second_test] + ["def extra():\n    return 1"] + cells[second_test:]
    earned = run(ran)
    # The plan, then, from the divergence on, each cell checks the module as it ran (as before).
    assert len(launches) == 1 + len(earned) - 1
    module_exercises = [e.name for e in all_exercises() if e.assignment == ASSIGNMENT and e.module == MODULE]
    for launch, (name, points, before) in zip(launches[1:], earned[1:]):
        assert launch == {before: module_exercises} and "def extra" in before
    for name, points, before in earned:
        assert points == _verdict(name, before)["points"]
