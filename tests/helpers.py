"""Submission folders made from the instructor's solutions, and the course's exercises as its
manifests list them, shared by the tests."""

from __future__ import annotations

import ast
import shutil
import textwrap
from pathlib import Path

from dlgrade.assignments import ASSIGNMENTS_DIR, course_modules
from dlgrade.checkers.registry import all_exercises, read_manifest

A1 = "a1_backprop"


def course_assignments() -> list[str]:
    """Every assignment of the course: the folders of `assignments/` that hold a manifest."""
    return list(course_modules())


def manifest_exercises(assignment: str) -> list[str]:
    """The exercises of an assignment: the names its manifest gives points to, in the manifest's order."""
    return list(read_manifest(assignment)["points"])


def exercises_defined_in(root: Path, assignment: str) -> list[str]:
    """The exercises of `assignment` that the modules of `root/assignment` define as top-level
    functions (in any of its modules), in declaration order."""
    defined = set()
    for path in sorted((root / assignment).glob("*.py")):
        defined |= {node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}
    return [e.name for e in all_exercises() if e.assignment == assignment and e.name in defined]


def copy_solutions(root: Path, assignment: str = A1) -> Path:
    """A submission folder `root/assignment` holding the solutions' modules; returns that folder."""
    folder = root / assignment
    shutil.copytree(ASSIGNMENTS_DIR / assignment, folder, ignore=shutil.ignore_patterns("__pycache__", "*.toml"))
    return folder


def planted(root: Path, module: str, source: str, assignment: str = A1) -> Path:
    """A copy of the solutions under `root` with `source` appended to `module` (its functions
    override the solution's); returns `root`, the submission's path."""
    path = copy_solutions(root, assignment) / f"{module}.py"
    path.write_text(path.read_text() + "\n\n" + textwrap.dedent(source))
    return root
