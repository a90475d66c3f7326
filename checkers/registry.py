"""Every declared exercise, with its points from the assignment's manifest.

Declarations live in `checkers/specs/<assignment>.py` (a list `EXERCISES`); points live in
`assignments/<assignment>/manifest.toml`, which the instructor edits. The manifest is read from
the trusted course source, never from a student's folder.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from functools import cache
from pathlib import Path

from assignments import ASSIGNMENTS_DIR
from checkers import specs
from checkers.exercise import Exercise


def read_manifest(assignment: str, root: Path = ASSIGNMENTS_DIR) -> dict:
    """The manifest of one assignment: title, and points per exercise."""
    with open(root / assignment / "manifest.toml", "rb") as f:
        return tomllib.load(f)


@cache
def all_exercises() -> tuple[Exercise, ...]:
    """Every exercise of every assignment, in declaration order, with points filled in."""
    found = []
    for info in sorted(pkgutil.iter_modules(specs.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"checkers.specs.{info.name}")
        points = read_manifest(info.name).get("points", {})
        for exercise in module.EXERCISES:
            if exercise.name not in points:
                raise ValueError(f"{exercise.name} is declared but has no points in {info.name}/manifest.toml")
            exercise.points = float(points[exercise.name])
            found.append(exercise)
    return tuple(found)


def select(names: list[str]) -> list[Exercise]:
    """The exercises named: each name is an exercise or an assignment; none means all.
    Raises KeyError naming what is unknown."""
    exercises = all_exercises()
    if not names:
        return list(exercises)
    chosen, unknown = [], []
    for name in names:
        matched = [e for e in exercises if name in (e.name, e.assignment)]
        if not matched:
            unknown.append(name)
        chosen += [e for e in matched if e not in chosen]
    if unknown:
        raise KeyError(", ".join(unknown))
    return chosen
