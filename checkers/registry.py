"""Every declared exercise, with its points from the assignment's manifest.

Declarations live in `checkers/specs/<assignment>.py` (a list `EXERCISES`); points live in
`assignments/<assignment>/manifest.toml`, which the instructor edits. The manifest is read from
the trusted course source, never from a student's folder.

A manifest may also reweigh properties within their exercises' points:

    [weights]
    preserves_float32 = 0.5          # every exercise of the assignment that has this property

    [weights.affine_forward]
    inputs_unchanged = 2             # one exercise only

A property of weight 0 that is not essential is advice: reported, worth no points (float32 kept
as float32 is advice by default).
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from dataclasses import replace
from functools import cache
from pathlib import Path

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers import specs
from dlgrade.checkers.exercise import Exercise


def read_manifest(assignment: str, root: Path = ASSIGNMENTS_DIR) -> dict:
    """The manifest of one assignment: title, and points per exercise."""
    with open(root / assignment / "manifest.toml", "rb") as f:
        return tomllib.load(f)


@cache
def all_exercises() -> tuple[Exercise, ...]:
    """Every exercise of every assignment, in declaration order, with points filled in."""
    found = []
    for info in sorted(pkgutil.iter_modules(specs.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{specs.__name__}.{info.name}")
        manifest = read_manifest(info.name)
        points = manifest.get("points", {})
        for exercise in module.EXERCISES:
            if exercise.name not in points:
                raise ValueError(f"{exercise.name} is declared but has no points in {info.name}/manifest.toml")
            exercise.points = float(points[exercise.name])
            _reweigh(exercise, manifest.get("weights", {}), info.name)
            found.append(exercise)
        general = {k for k, v in manifest.get("weights", {}).items() if not isinstance(v, dict)}
        known = {p.name for e in module.EXERCISES for p in e.properties} | {e.name for e in module.EXERCISES}
        if general - known:
            raise ValueError(f"{info.name}/manifest.toml weighs {', '.join(sorted(general - known))}: "
                             "no exercise of the assignment has such a property")
    return tuple(found)


def _reweigh(exercise: Exercise, weights: dict, assignment: str) -> None:
    """Apply the manifest's `[weights]` (for every exercise) and `[weights.EXERCISE]` tables."""
    general = {k: v for k, v in weights.items() if not isinstance(v, dict)}
    own = weights.get(exercise.name, {})
    names = {p.name for p in exercise.properties}
    unknown = sorted(set(own) - names)
    if unknown:
        raise ValueError(f"{assignment}/manifest.toml weighs {exercise.name}'s {', '.join(unknown)}, which it has not")
    for i, prop in enumerate(exercise.properties):
        weight = own.get(prop.name, general.get(prop.name))
        if weight is not None:
            if not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(f"{assignment}/manifest.toml: the weight of {prop.name} must be a number >= 0")
            exercise.properties[i] = replace(prop, weight=float(weight))


def contract_modules(assignment: str) -> list[str]:
    """The modules of an assignment that the contract puts functions in, in declaration order."""
    return list(dict.fromkeys(e.module for e in all_exercises() if e.assignment == assignment))


def contract_module(assignment: str, function: str) -> str | None:
    """The module the contract puts `function` in (None for a function that is not an exercise)."""
    return next((e.module for e in all_exercises() if e.assignment == assignment and e.name == function), None)


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
