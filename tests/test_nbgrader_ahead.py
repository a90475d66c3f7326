"""nbgrader's pre-convert hook checks a submission ahead, in nbgrader's process, and each test cell
takes the verdict on exactly the code it has run beside exactly the notebooks its kernel finds,
with its own seed; anything else is checked by the cell itself, as without the hook."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from dlgrade.grader.grading.notebooks import code_cells
from dlgrade.grader.integrations import nbgrader_bridge
from dlgrade.grader.integrations.nbgrader_bridge import generate

ASSIGNMENT = "a1_backprop"
#: net.ipynb imports layers.ipynb: its verdicts depend on a sibling notebook.
MODULES = ["layers", "net"]


def _verdict(name: str, folder: dict[str, str]) -> dict:
    # Points that tell the code checked apart: its size, the siblings' included.
    points = float(sum(len(text) for text in folder.values()) % 997)
    return {"name": name, "passed": True, "points": points, "max_points": 1000.0}


@pytest.fixture
def autograde(tmp_path, monkeypatch):
    """nbgrader's autograde of one submission, with the checker replaced by a recorder: the hook
    on the submitted notebooks, then each notebook copied beside those run before it and its
    cells run in order, each test cell through points_earned. Returns (submitted notebooks, run,
    checked ahead, checked by a cell)."""
    notebooks = generate(ASSIGNMENT, tmp_path / "course", MODULES)
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    for notebook in notebooks:
        shutil.copy(notebook, submitted / notebook.name)
    ahead: list[dict] = []
    by_cell: list[dict] = []

    def check_folders(runs, seed):
        ahead.append(runs)
        return {key: {name: _verdict(name, folder) for name in names} for key, (_, folder, names) in runs.items()}

    def run_checker(assignment, module, siblings, plan):
        # What the cell's own checker process sees: its module as planned, the siblings' notebooks beside it.
        by_cell.append(plan)
        given = nbgrader_bridge._sibling_sources(module, siblings)
        return {source: {name: _verdict(name, {**given, module: source}) for name in names}
                for source, names in plan.items()}

    monkeypatch.setattr(nbgrader_bridge, "_check_folders", check_folders)
    monkeypatch.setattr(nbgrader_bridge, "_run_checker", run_checker)
    monkeypatch.setattr(nbgrader_bridge, "_checked", {})
    monkeypatch.setattr(nbgrader_bridge, "_ahead", None)
    monkeypatch.setenv("DLGRADE_COURSE_SEED", "7")
    monkeypatch.delenv(nbgrader_bridge.AHEAD_ENV, raising=False)
    autograded = tmp_path / "autograded"

    def run(hook: bool = True, edit=lambda name, cells: cells, kernel_seed: str = "7") -> dict[str, float]:
        """{exercise: points} of every test cell; `edit(notebook name, cells)` is what the kernel runs."""
        shutil.rmtree(autograded, ignore_errors=True)
        autograded.mkdir()
        if hook:
            nbgrader_bridge.autograde_hook(assignment=ASSIGNMENT, student="*",
                                           notebooks=[str(submitted / n.name) for n in notebooks])
        monkeypatch.setenv("DLGRADE_COURSE_SEED", kernel_seed)
        earned = {}
        try:
            for notebook in sorted(submitted.iterdir()):
                shutil.copy(notebook, autograded / notebook.name)
                monkeypatch.chdir(autograded)
                monkeypatch.setattr(nbgrader_bridge, "_checked", {})  # a fresh kernel
                history = [""]
                monkeypatch.setattr(nbgrader_bridge, "_history", lambda: list(history))
                for cell in edit(notebook.name, code_cells(notebook)):
                    history.append(cell)
                    tested = nbgrader_bridge._tested_exercise(cell)
                    if tested is not None:
                        earned[tested] = nbgrader_bridge.points_earned(tested)
        finally:
            nbgrader_bridge.autograde_done_hook()
        return earned

    return notebooks, run, ahead, by_cell


def test_every_test_cell_takes_the_verdict_checked_ahead(autograde):
    notebooks, run, ahead, by_cell = autograde
    without_hook = run(hook=False)
    assert len(by_cell) == len(MODULES)  # today's path: a checker process per notebook
    by_cell.clear()
    with_hook = run()
    assert with_hook == without_hook and len(with_hook) > len(MODULES)
    assert len(ahead) == 1 and not by_cell  # one check ahead for the submission, none from a kernel
    (runs,) = ahead
    # net is checked beside layers as its kernel finds it; layers alone, as nbgrader runs it first.
    assert sorted(sorted(folder) for _, folder, _ in runs.values()) == [["layers"], ["layers", "net"]]
    assert nbgrader_bridge.AHEAD_ENV not in os.environ  # forgotten after the submission


def test_a_kernel_that_ran_other_code_checks_it_itself(autograde):
    notebooks, run, ahead, by_cell = autograde
    added = "def extra_helper(x):\n    return x"

    def edit(name, cells):
        return cells[:2] + [added] + cells[2:] if name == "layers.ipynb" else cells

    without_hook = run(hook=False, edit=edit)
    by_cell.clear()
    assert run(edit=edit) == without_hook
    # layers' kernel ran code the hook did not check: it checks what it ran. net's kernel ran its
    # notebook beside layers.ipynb as submitted: it takes the verdicts checked ahead.
    assert len(ahead) == 1 and by_cell
    assert all(added in source for plan in by_cell for source in plan)


def test_a_sibling_notebook_changed_since_is_checked_again(autograde, tmp_path):
    notebooks, run, ahead, by_cell = autograde
    layers = tmp_path / "submitted" / "layers.ipynb"

    def edit(name, cells):
        if name == "layers.ipynb":  # nbgrader writes the autograded layers.ipynb, unlike the submitted one
            nb = json.loads(layers.read_text())
            nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                "source": "def late_helper():\n    return 2"})
            (tmp_path / "autograded" / "layers.ipynb").write_text(json.dumps(nb))
        return cells

    earned = run(edit=edit)
    assert len(ahead) == 1 and len(by_cell) == 1  # layers' own cells as checked; net beside another layers
    (plan,) = by_cell
    assert all("from .layers import" in source for source in plan)  # net's module, checked by its kernel
    assert earned == run(hook=False, edit=edit)


def test_another_seed_in_the_kernel_is_checked_by_the_kernel(autograde):
    notebooks, run, ahead, by_cell = autograde
    run(kernel_seed="8")
    assert len(ahead) == 1 and len(by_cell) == len(MODULES)


def test_the_generated_config_installs_the_hooks(tmp_path):
    generate(ASSIGNMENT, tmp_path / "course", ["layers"])
    config = (tmp_path / "course" / "nbgrader_config.py").read_text()
    assert "c.Autograde.pre_convert_hook = 'dlgrade.grader.integrations.nbgrader_bridge.autograde_hook'" in config
    assert "c.Autograde.post_convert_hook = 'dlgrade.grader.integrations.nbgrader_bridge.autograde_done_hook'" in config


def test_a_failing_hook_leaves_the_kernels_to_check(monkeypatch, capsys):
    def broken(notebooks, seed):
        raise RuntimeError("no worker")

    monkeypatch.setattr(nbgrader_bridge, "check_ahead", broken)
    monkeypatch.delenv(nbgrader_bridge.AHEAD_ENV, raising=False)
    nbgrader_bridge.autograde_hook(notebooks=["x.ipynb"])
    assert nbgrader_bridge.AHEAD_ENV not in os.environ
    assert "not checked ahead" in capsys.readouterr().err


def test_a_notebook_linked_from_outside_its_folder_is_not_checked_ahead(tmp_path, monkeypatch):
    (layers, net) = generate(ASSIGNMENT, tmp_path / "course", MODULES)
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    (submitted / "layers.ipynb").symlink_to(layers)  # the instructor's source, solutions and all
    shutil.copy(net, submitted / "net.ipynb")
    checked = []
    monkeypatch.setattr(nbgrader_bridge, "_check_folders",
                        lambda runs, seed: checked.append(runs) or {key: {} for key in runs})
    ahead = nbgrader_bridge.check_ahead([submitted / "layers.ipynb", submitted / "net.ipynb"], "7")
    assert {found["module"] for found in ahead["exercises"].values()} == {"net"}
    (runs,) = checked
    assert all("layers" not in folder for _, folder, _ in runs.values())
