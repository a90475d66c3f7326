"""Every declared exercise, with its points from the assignment's manifest.

Declarations live in `checkers/specs/<assignment>/` (a list `EXERCISES`), and, for the
exercises an instructor adds, in the course folder's `checks/specs/<assignment>.py`; points live
in the course's `<assignment>/manifest.toml`, which the instructor edits. Which course is read is
`dlgrade.assignments.active_source()` (the bundled curriculum unless a course folder is in use).
The manifest is read from the trusted course source, never from a student's folder.

A manifest may also reweigh properties within their exercises' points:

    [weights]
    preserves_float32 = 0.5          # every exercise of the assignment that has this property

    [weights.affine_forward]
    inputs_unchanged = 2             # one exercise only

A property of weight 0 that is not essential is advice: reported, worth no points (float32 kept
as float32 is advice by default).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import tomllib
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import ModuleType

from dlgrade.assignments import CourseSource, active_source
from dlgrade.checkers import specs
from dlgrade.checkers.exercise import Exercise


def read_manifest(assignment: str, root: Path | None = None) -> dict:
    """The manifest of one assignment: title, and points per exercise (default root: the
    active course's assignments, see dlgrade.assignments.active_source)."""
    root = Path(active_source().assignments_dir) if root is None else Path(root)
    with open(root / assignment / "manifest.toml", "rb") as f:
        return tomllib.load(f)


def all_exercises() -> tuple[Exercise, ...]:
    """Every exercise of every assignment of the active course, in declaration order, with
    points filled in from the course's manifests."""
    return course_exercises(active_source())


@cache
def course_exercises(source: CourseSource) -> tuple[Exercise, ...]:
    """Every exercise of the course `source`: for each of its assignments, the bundled
    declarations (`checkers/specs/<assignment>`, where the kit has them) then the instructor's
    (`<checks_dir>/specs/<assignment>.py`), each a copy with the points and weights of the
    course's manifest. Raises ValueError for a declaration without points, points without a
    declaration, or a name declared twice."""
    found, seen = [], {}
    for assignment in source.names():
        declared = [e for module in _spec_modules(source, assignment) for e in module.EXERCISES]
        manifest = read_manifest(assignment, source.assignments_dir)
        points = manifest.get("points", {})
        where = f"{assignment}/manifest.toml"
        for exercise in declared:
            if exercise.name in seen:
                raise ValueError(f"{exercise.name} is declared twice (in {seen[exercise.name]} and {assignment})")
            if exercise.assignment != assignment:
                raise ValueError(f"{exercise.name} is declared for {assignment} but says it is of {exercise.assignment}")
            if exercise.name not in points:
                raise ValueError(f"{exercise.name} is declared but has no points in {where}")
            seen[exercise.name] = assignment
            # A copy: the declarations are module-level objects, shared by every course of the process.
            exercise = replace(exercise, properties=list(exercise.properties), points=float(points[exercise.name]))
            _reweigh(exercise, manifest.get("weights", {}), assignment)
            found.append(exercise)
        undeclared = sorted(set(points) - {e.name for e in declared})
        if undeclared:
            raise ValueError(f"{where} gives points to {', '.join(undeclared)}, which no declaration of "
                             f"{assignment} has (a spec module's EXERCISES)")
        general = {k for k, v in manifest.get("weights", {}).items() if not isinstance(v, dict)}
        known = {p.name for e in declared for p in e.properties} | {e.name for e in declared}
        if general - known:
            raise ValueError(f"{where} weighs {', '.join(sorted(general - known))}: "
                             "no exercise of the assignment has such a property")
    return tuple(found)


def _spec_modules(source: CourseSource, assignment: str) -> list[ModuleType]:
    """The declaration modules of `assignment`: the kit's, then the course's own."""
    modules = []
    bundled = f"{specs.__name__}.{assignment}"
    if importlib.util.find_spec(bundled) is not None:
        modules.append(importlib.import_module(bundled))
    if source.checks_dir is not None and (Path(source.checks_dir) / "specs" / f"{assignment}.py").is_file():
        modules.append(importlib.import_module(f"{course_checks(Path(source.checks_dir)).__name__}.specs.{assignment}"))
    if not modules:
        raise ValueError(f"{assignment} has a manifest but no declarations: add specs/{assignment}.py "
                         "to the course's checks")
    return modules


def course_checks(checks_dir: Path) -> ModuleType:
    """The instructor's checks folder imported as a package (trusted code: the course's, never a
    submission's), under a name of its own per folder so that its modules import each other
    relatively (`from ..reference import activations`) and two courses never share a module."""
    checks_dir = checks_dir.resolve()
    name = "dlgrade_course_checks_" + hashlib.sha256(str(checks_dir).encode()).hexdigest()[:12]
    if name not in sys.modules:
        init = checks_dir / "__init__.py"
        if not init.is_file():
            raise ValueError(f"{checks_dir} is not a package (it has no __init__.py)")
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(checks_dir)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


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
