"""Verdict reuse: `dlgrade check --watch` re-checking only what a save
affects, and the nbgrader plan checking an exercise on a longer notebook than its test cell ran.

"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from dlgrade.checkers.registry import all_exercises
from dlgrade.grader.grading import watch
from dlgrade.grader.grading.notebooks import code_cells, module_source
from dlgrade.grader.integrations import nbgrader_bridge
from dlgrade.grader.integrations.nbgrader_bridge import generate

SIBLINGS = {"layers", "losses", "net"}


@pytest.mark.parametrize("how", [
    'helpers = __import__("importlib").import_module(".helpers", __package__)',
    'helpers = __import__("importlib").import_module(__package__ + ".helpers")',
    'exec(open(__file__.replace("layers.py", "helpers.py")).read())',
])
def test_watch_rechecks_an_exercise_whose_code_a_save_changed(tmp_path, how):
    """watch.affected follows only `import` statements; layers.py reaching helpers.py any
    other way (importlib, exec of its text) keeps relu_forward's old verdict when helpers.py is
    saved, though its code changed: `check --watch` shows a stale pass."""
    folder = tmp_path / "a1_backprop"
    folder.mkdir()
    (folder / "layers.py").write_text(f"{how}\n\ndef relu_forward(x):\n    return helpers.relu(x), x\n")
    (folder / "helpers.py").write_text("import numpy as np\n\ndef relu(x):\n    return np.maximum(x, 0)\n")
    relu = next(e for e in all_exercises() if e.name == "relu_forward")
    last = SimpleNamespace(status="checked", note="", name="relu_forward")
    changed = watch.changed_modules([folder / "helpers.py"], tmp_path)
    assert ("a1_backprop", "helpers") in changed
    assert watch.affected(relu, changed, tmp_path, last), "a save of helpers.py left relu_forward's verdict as it was"


MODULE = "losses"


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """As tests/test_nbgrader_once.py: the notebook's cells run in order, each test cell
    through points_earned; the checker process is replaced by a recorder of what it is asked
    to check."""
    (notebook,) = generate("a1_backprop", tmp_path / "course", [MODULE])
    monkeypatch.chdir(notebook.parent)
    launches: list[dict[str, list[str]]] = []

    def checker(assignment, module, siblings, plan):
        launches.append(plan)
        return {source: {name: {"name": name, "passed": True, "points": 1.0, "max_points": 1.0} for name in names}
                for source, names in plan.items()}

    monkeypatch.setattr(nbgrader_bridge, "_run_checker", checker)
    monkeypatch.setattr(nbgrader_bridge, "_checked", {})

    def run(cells: list[str]) -> None:
        history = [""]
        monkeypatch.setattr(nbgrader_bridge, "_history", lambda: list(history))
        for cell in cells:
            history.append(cell)
            tested = nbgrader_bridge._tested_exercise(cell)
            if tested is not None:
                nbgrader_bridge.points_earned(tested)

    return notebook, run, launches


def test_an_exercise_is_never_checked_on_code_its_test_cell_did_not_run(kernel):
    """the first exercise of losses.ipynb is deleted from its solution cell, and a later
    cell (after its test cell) adds a module-level `__getattr__` (PEP 562), a plain new function
    whose name nothing before mentions. _adds_nothing_reachable lets the longer module stand in,
    and there `getattr(module, name)` (how the worker finds a function) returns an
    implementation: the exercise is judged on code that had not run when its cell did."""
    notebook, run, launches = kernel
    nb = json.loads(notebook.read_text())
    exercises = [e.name for e in all_exercises() if e.assignment == "a1_backprop" and e.module == MODULE]
    first = exercises[0]
    cells = nb["cells"]
    solution = next(i for i, c in enumerate(cells) if "".join(c["source"]).lstrip().startswith(f"def {first}("))
    body = "".join(cells[solution]["source"])
    cells[solution]["source"] = "x = 1\n"  # the student's cell: nothing of `first`
    last_test = max(i for i, c in enumerate(cells) if "points_earned(" in "".join(c["source"]))
    hidden = body.replace(f"def {first}(", "def _impl(", 1)
    cells.insert(last_test, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                             "source": "def __getattr__(name):\n" + "".join(
                                 "    " + line + "\n" for line in hidden.splitlines()) +
                             "    return _impl\n"})
    notebook.write_text(json.dumps(nb))
    run(code_cells(notebook))
    checked_on = {name: source for plan in launches for source, names in plan.items() for name in names}
    assert "__getattr__" not in checked_on[first], "checked on a module whose __getattr__ supplies it"
