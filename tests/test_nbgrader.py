"""The nbgrader bridge: generated notebooks go through the real nbgrader (generate_assignment, then
autograde) and the points in nbgrader's gradebook are the checker's; notebooks are also checked
directly (`dlgrade check --path X.ipynb`) and imported from nbgrader's submitted/ layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlgrade.grader.grading.notebooks import code_cells, module_source, notebooks_to_layout
from dlgrade.grader.integrations.nbgrader_bridge import generate

nbgrader = pytest.importorskip("nbgrader", reason="nbgrader is in the test extra")
pytest.importorskip("ipykernel", reason="nbgrader's autograde needs a Python kernel")

ASSIGNMENT, MODULE = "a1_backprop", "losses"
#: The exercises kept in the notebook (an instructor may delete cells), so the round trip stays quick.
KEPT = ("softmax_loss", "mse_loss")
#: The planted mistake of the buggy submission: a loss summed over the batch instead of averaged.
BUG = ("loss = -log_probs[rows, y].sum() / N", "loss = -log_probs[rows, y].sum()")


def _nbgrader(course: Path, *args: str) -> None:
    # The kernel nbgrader starts is this interpreter's ("python" in the kernelspec is replaced by
    # sys.executable), so the test cells import this very dlgrade; nbgrader's own tools (alembic)
    # are found beside it.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course, env=env, check=True,
                   capture_output=True, timeout=300)


def test_generated_notebooks_round_trip_through_nbgrader(tmp_path):
    course = tmp_path / "course"
    (notebook,) = generate(ASSIGNMENT, course, [MODULE])
    nb = json.loads(notebook.read_text())
    nb["cells"] = [c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade_id"].removeprefix("test_") in KEPT
                   or not c["metadata"]["nbgrader"]["grade_id"].startswith("test_")
                   and not c["metadata"]["nbgrader"]["solution"]]
    assert len(nb["cells"]) == 2 + 2 * len(KEPT)  # title, imports, then a solution and a test cell each
    notebook.write_text(json.dumps(nb))
    source_text = notebook.read_text()
    assert "### BEGIN SOLUTION" in source_text and '"points": 3.0' in source_text

    _nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = course / "release" / ASSIGNMENT / f"{MODULE}.ipynb"
    assert "BEGIN SOLUTION" not in released.read_text() and "NotImplementedError" in released.read_text()

    for student, text in (("filled", source_text), ("buggy", source_text.replace(*BUG))):
        assert student == "filled" or BUG[1] in text
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{MODULE}.ipynb").write_text(text)
    _nbgrader(course, "autograde", ASSIGNMENT)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        scores = {s: {g.name: g.score for g in book.find_submission(ASSIGNMENT, s).notebooks[0].grades}
                  for s in ("filled", "buggy")}
        possible = book.find_submission(ASSIGNMENT, "filled").max_score
    assert sum(scores["filled"].values()) == possible > 0
    assert scores["buggy"]["test_softmax_loss"] == 0
    assert sum(scores["buggy"].values()) == possible - 3  # softmax_loss is worth 3 and nothing else fails
    # A passing test cell writes nothing to stderr (nbgrader would give it 0).
    autograded = json.loads((course / "autograded" / "filled" / ASSIGNMENT / f"{MODULE}.ipynb").read_text())
    outputs = [o for c in autograded["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("name") == "stderr" or o["output_type"] == "error"]

    # The same submitted/ folder is graded by `dlgrade grade` (notebooks turned into modules).
    from dlgrade.grader.grading.discovery import discover

    found = {d.name: d for d in discover(course / "submitted", tmp_path / "work", [ASSIGNMENT])}
    assert set(found) == {"filled", "buggy"} and not found["buggy"].problem
    assert BUG[1] in (found["buggy"].path / ASSIGNMENT / f"{MODULE}.py").read_text()


def test_module_source_keeps_functions_and_drops_experiments():
    cells = ["%matplotlib inline\nimport numpy as np\nEPS = 1e-8",
             "def f(x):\n    return x + EPS\n\nprint(f(1))\ny = f(np.ones(3))",
             "def broken(:\n    pass",
             "from dlgrade.grader.integrations.nbgrader_bridge import points_earned\nfrom layers import affine_forward"]
    source = module_source(cells, siblings={"layers"})
    assert "import numpy as np" in source and "EPS = 1e-08" in source and "def f(x)" in source
    assert "print" not in source and "y = " not in source and "broken" not in source
    assert "points_earned" not in source and "from .layers import affine_forward" in source


def test_check_a_notebook_directly(tmp_path):
    (notebook,) = generate(ASSIGNMENT, tmp_path / "course", [MODULE])
    layout = notebooks_to_layout([notebook], tmp_path / "layout")
    assert (layout / ASSIGNMENT / f"{MODULE}.py").is_file()
    assert len(code_cells(notebook)) > 1
    run = subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "check", "softmax", "mse_loss", "--path", str(notebook),
                          "--json", str(tmp_path / "v.json")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads((tmp_path / "v.json").read_text())["score"] == 2
