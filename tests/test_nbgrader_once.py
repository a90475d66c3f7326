"""The nbgrader test cells of a notebook check its module once per autograde, not once per cell,
and every cell still gets the verdict on the code that had run before it."""

from __future__ import annotations

import json

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
    earned = run(code_cells(notebook))
    tested = [name for name, _, _ in earned]
    assert len(tested) == 9 and len(set(tested)) == 9  # every exercise of losses.py has its test cell
    assert len(launches) == 1  # one checker process for the whole notebook
    (plan,) = launches
    assert sorted(n for names in plan.values() for n in names) == sorted(tested)  # each exercise checked once
    # The cells after each test cell only add new functions: one worker checks them all, on the
    # code before the last test cell.
    (whole,) = plan
    assert whole == earned[-1][2]
    assert all(points == _verdict(name, whole)["points"] for name, points, _ in earned)


def test_code_a_later_cell_can_change_is_checked_as_it_was_before_the_test_cell(kernel):
    notebook, run, launches = kernel
    nb = json.loads(notebook.read_text())
    last_test = max(i for i, c in enumerate(nb["cells"]) if "points_earned(" in "".join(c["source"]))
    # A later cell redefines huber_loss, which huber_loss's own test cell ran without.
    nb["cells"].insert(last_test, {"cell_type": "code", "metadata": {}, "source": "def huber_loss(pred, target):\n"
                                   "    return 0.0", "outputs": [], "execution_count": None})
    notebook.write_text(json.dumps(nb))
    earned = run(code_cells(notebook))
    assert len(launches) == 1
    (plan,) = launches
    by_exercise = {name: source for source, names in plan.items() for name in names}
    before = {name: source for name, _, source in earned}
    assert "return 0.0" not in before["huber_loss"] and by_exercise["huber_loss"] == before["huber_loss"]
    # The others never name huber_loss: they share the run on the whole module.
    assert by_exercise["softmax"] == by_exercise["l1_loss"] == before["l2_regularization"]
    assert len(plan) == 2
    for name, points, _ in earned:
        assert points == _verdict(name, by_exercise[name])["points"]


@pytest.mark.parametrize("before, added, shared", [
    ("def f(x):\n    return x", "def g(x, k=2):\n    return x * k", True),
    ("def f(x):\n    return x", "def f(x):\n    return -x", False),  # redefined
    ("def f(x):\n    return g(x)", "def g(x):\n    return x", False),  # f calls what only the later code has
    ("def f(x):\n    return globals()['g'](x)", "def h(x):\n    return x", False),  # introspection
    ("def f(x):\n    return {'g': 1}", "def g(x):\n    return x", False),  # named in a string
    ("def f(x):\n    return x", "@decorated\ndef g(x):\n    return x", False),
    ("def f(x):\n    return x", "def g(x, k=K):\n    return x", False),  # a default that runs code
    ("def f(x):\n    return x", "def g(x: T):\n    return x", False),  # an annotation that runs code
    ("def f(x):\n    return x", "def g(x):\n    import torch\n    return x", False),  # a forbidden import
    ("def f(x):\n    return x", "LIMIT = 3", False),  # anything but a function
])
def test_when_longer_code_stands_in(before, added, shared):
    assert nbgrader_bridge._adds_nothing_reachable(before, added, {"f"}) is shared


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
        assert points == _verdict(name, before)["points"]
    name, points, _ = earned[0]
    (planned,) = [source for source, names in launches[0].items() if name in names]
    assert points == _verdict(name, planned)["points"]
