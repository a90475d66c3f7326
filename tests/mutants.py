"""The planted-mistake ("mutant") harness shared by every assignment's tests.

A mutant is a function (or a few) written the way students get it wrong. Most are the solution
with a line or two changed: `edit(name, old, new)` is the solution's function `name` with the text
`old` replaced by `new` (it fails loudly unless `old` occurs exactly once in that function); the
others are written out in full. `plant` copies the instructor's solutions of its assignment into a
temporary folder and appends the mutant's source to the module of its exercise (a later `def`
replaces the solution's); `assert_caught` checks that one exercise at the grading profile and
asserts that

- the exercise does not pass and earns fewer than its points,
- every property the mutant names was checked and failed,
- each named hint (a substring) is among the failing properties' hints.

A mutant of advice (float32 kept as float32: worth no points unless the manifest weighs it) must
fail its advice property and keep every point. A `focused` mutant is checked on the properties it
names only (one hypothesis search each instead of the whole exercise): the many mutants of one
class (a wrong-shaped forward for every layer, a stability bug per softmax) stay cheap.

The coverage functions below are the other side: every property of an assignment is the target of
some mutant (so each is shown to pass on a right solution and to fail on a wrong one), every
`Mistake` hint of its spec is expected by some mutant, and each exercise meets at least three kinds
of mistake. Each assignment's `tests/test_*_mistakes.py` holds its table (`ASSIGNMENT`, `MUTANTS`);
`tests/test_mutants.py` applies these to every table, so an assignment's file needs no copy of them.

Mutants run with seed 0; set DLGRADE_MUTANT_SEEDS=0,1,2 to try more seeds.
"""

from __future__ import annotations

import ast
import importlib
import os
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.exercise import Exercise
from dlgrade.checkers.registry import all_exercises
from dlgrade.grader.grading.session import run_checks

CHECKERS = Path(__file__).resolve().parents[1] / "checkers"
SEEDS = [int(s) for s in os.environ.get("DLGRADE_MUTANT_SEEDS", "0").split(",") if s.strip()]


@dataclass(frozen=True)
class Mutant:
    """One planted mistake: `source` is appended to the module that holds `exercise`."""

    exercise: str
    id: str
    kind: str
    source: str
    must_fail: tuple[str, ...]
    hints: tuple[str, ...] = ()
    focused: bool = False

    @property
    def name(self) -> str:
        return f"{self.exercise}-{self.id}"


def M(exercise: str, id: str, kind: str, source: str, must_fail: list[str],
      hint: str | tuple[str, ...] = (), focused: bool = False) -> Mutant:
    """A mutant; `hint`: substring(s) that must each appear among the failing properties' hints;
    focused: check only the properties in must_fail."""
    hints = (hint,) if isinstance(hint, str) else tuple(hint)
    return Mutant(exercise, id, kind, textwrap.dedent(source), tuple(must_fail), hints, focused)


@cache
def _solution_functions() -> dict[str, list[tuple[str, str]]]:
    """Every top-level function of the course's solution modules: name -> [(where, source)]."""
    found = defaultdict(list)
    for path in sorted(ASSIGNMENTS_DIR.glob("*/*.py")):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                code = lines[node.lineno - 1:node.end_lineno]
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                    # the docstring goes: an edit is of the code, and a mutant needs none
                    code = code[:first.lineno - node.lineno] + code[first.end_lineno - node.lineno + 1:]
                found[node.name].append((f"{path.parent.name}/{path.name}", "\n".join(code) + "\n"))
    return dict(found)


def solution_function(name: str, assignment: str | None = None) -> str:
    """The source of the solution's function `name` as written, without its docstring (its fences
    are comments and stay); `assignment` tells apart helpers of the same name in two assignments."""
    found = [(where, source) for where, source in _solution_functions().get(name, [])
             if assignment is None or where.startswith(f"{assignment}/")]
    if len(found) != 1:
        raise LookupError(f"{len(found)} solutions define {name}{f' in {assignment}' if assignment else ''}: "
                          f"{[where for where, _ in found]}")
    return found[0][1]


def edit(name: str, old: str, new: str, *more: tuple[str, str], assignment: str | None = None) -> str:
    """The solution's function `name` with the text `old` replaced by `new`, then each further
    (old, new) pair of `more` in turn: a mutant's source. Each old text must occur exactly once in
    the function as edited so far, and the result must still be Python."""
    text = solution_function(name, assignment)
    for before, after in ((old, new), *more):
        count = text.count(before)
        if count != 1:
            raise ValueError(f"{before!r} occurs {count} times in {name}, not once:\n{text}")
        if before == after:
            raise ValueError(f"an edit of {name} that changes nothing: {before!r}")
        text = text.replace(before, after)
    try:
        ast.parse(text)
    except SyntaxError as e:
        raise ValueError(f"the edit of {name} is not Python: {e}\n{text}") from None
    return text


def exercises_of(assignment: str) -> list[Exercise]:
    """The declared exercises of one assignment."""
    return [e for e in all_exercises() if e.assignment == assignment]


def solution_sources(assignment: str) -> dict[str, str]:
    """The solutions' module sources of one assignment, by file name."""
    return {p.name: p.read_text() for p in sorted((ASSIGNMENTS_DIR / assignment).glob("*.py"))}


def plant(root: Path, assignment: str, sources: dict[str, str], mutant: Mutant) -> Path:
    """A copy of the solutions under root/<assignment> with the mutant appended to its module."""
    folder = root / assignment
    folder.mkdir(parents=True, exist_ok=True)
    module = next(e.module for e in exercises_of(assignment) if e.name == mutant.exercise) + ".py"
    assert module in sources, f"no {module} among the solutions"
    for name, text in sources.items():
        if name == module:
            text = text + "\n\n# ---- planted mistake ----\n" + mutant.source
        (folder / name).write_text(text)
    return root


def assert_caught(mutant: Mutant, root: Path, seed: int) -> None:
    """The mutant's exercise fails, loses points, fails each named property, and shows its hints
    (for a mutant of advice: fails its advice and keeps every point)."""
    if mutant.focused:
        properties = []
        for name in mutant.must_fail:
            _, (result,) = run_checks([mutant.exercise], root, "grading", seed=seed, only=name)
            properties += result.properties
        result.properties = properties
    else:
        _, (result,) = run_checks([mutant.exercise], root, "grading", seed=seed)
    verdicts = {p.name: p for p in result.properties}
    failed = [p for p in result.properties if not p.passed]
    report = f"seed {seed}: " + "; ".join(f"{p.name}: {p.message.splitlines()[0] if p.message else ''}" for p in failed)
    assert result.status == "checked", f"seed {seed}: {result.status}: {result.reason}"
    if failed and all(p.advice for p in failed):
        assert result.points == result.max_points, f"advice cost points; {report}"
    else:
        assert not result.passed, f"seed {seed}: the mutant passes every property"
        assert result.points < result.max_points, report
    for name in mutant.must_fail:
        assert name in verdicts, f"{mutant.exercise} has no property {name}"
        assert verdicts[name].checked, f"{name} was not checked; {report}"
        assert not verdicts[name].passed, f"{name} passed; {report}"
    shown = [h for p in failed for h in p.hints]
    for hint in mutant.hints:
        assert any(hint in h for h in shown), f"hint {hint!r} not among {shown}; {report}"


def check_planted(assignment: str, mutant: Mutant, root: Path) -> None:
    """Plant `mutant` under `root` and assert it is caught at every seed of DLGRADE_MUTANT_SEEDS."""
    plant(root, assignment, solution_sources(assignment), mutant)
    for seed in SEEDS:
        assert_caught(mutant, root, seed)


def assert_solutions_pass(assignment: str) -> None:
    """The unmodified solutions pass every exercise of the assignment with full points."""
    _, results = run_checks([assignment], ASSIGNMENTS_DIR, "grading", seed=SEEDS[0])
    assert {r.name for r in results} == {e.name for e in exercises_of(assignment)}
    failing = {r.name: [f"{p.name}: {p.message.splitlines()[0] if p.message else r.reason}"
                        for p in r.properties if not p.passed] or [r.reason] for r in results if not r.passed}
    assert not failing
    assert all(r.points == r.max_points for r in results)


def _declaration(exercise: Exercise) -> str:
    names = {p.name for p in exercise.properties}
    return "backward" if "gradient_shapes" in names else "loss" if "output_shapes" in names else "forward"


def assert_every_property_targeted(assignment: str, mutants: list[Mutant]) -> None:
    """Every property of every exercise is made to fail by some mutant of an exercise of the same
    kind (forwards/functions, backwards and losses each have their own inputs_unchanged, ...), and
    mutants name only properties that exist."""
    by_name = {e.name: e for e in exercises_of(assignment)}
    assert {m.exercise for m in mutants} <= set(by_name), "mutants of exercises that are not declared"
    properties = {p.name for e in by_name.values() for p in e.properties}
    targeted = {name for m in mutants for name in m.must_fail}
    assert not properties - targeted, f"no mutant makes these fail: {sorted(properties - targeted)}"
    assert not targeted - properties, f"mutants name properties that do not exist: {sorted(targeted - properties)}"
    wanted = {(_declaration(e), p.name) for e in by_name.values() for p in e.properties}
    kinds = {(_declaration(by_name[m.exercise]), name) for m in mutants for name in m.must_fail}
    assert not wanted - kinds, f"not targeted: {sorted(wanted - kinds)}"


def assert_three_kinds_each(assignment: str, mutants: list[Mutant]) -> None:
    """Each exercise meets at least three kinds of mistake, and mutant ids are unique."""
    kinds = defaultdict(set)
    for m in mutants:
        kinds[m.exercise].add(m.kind)
    short = {e.name: sorted(kinds[e.name]) for e in exercises_of(assignment) if len(kinds[e.name]) < 3}
    assert not short, f"fewer than three kinds of mutant: {short}"
    names = [m.name for m in mutants]
    assert len(names) == len(set(names)), "duplicate mutant ids"


def spec_files(assignment: str) -> dict[str, Path]:
    """The source files of an assignment's spec by module name: one module `specs/<assignment>.py`,
    or a package `specs/<assignment>/` and each of its modules."""
    package = CHECKERS / "specs" / assignment
    if package.is_dir():
        return {f"{assignment}{'' if p.stem == '__init__' else '.' + p.stem}": p for p in sorted(package.glob("*.py"))}
    return {assignment: CHECKERS / "specs" / f"{assignment}.py"}


def spec_mistake_hints(assignment: str) -> list[str]:
    """The hint of every `Mistake(...)` written in the assignment's spec (a name resolved in the
    module that writes it)."""
    hints = []
    for module_name, path in spec_files(assignment).items():
        module = importlib.import_module(f"dlgrade.checkers.specs.{module_name}")
        for node in ast.walk(ast.parse(path.read_text())):
            called = getattr(node, "func", None)
            if not isinstance(node, ast.Call) or "Mistake" not in (getattr(called, "id", None), getattr(called, "attr", None)):
                continue
            if node.args:       # a constant, or a name the module defines (else this fails loudly)
                first = node.args[0]
                hints.append(first.value if isinstance(first, ast.Constant) else getattr(module, first.id))
                continue
            hint = next((k.value for k in node.keywords if k.arg == "hint"), None)
            if isinstance(hint, ast.Constant):
                hints.append(hint.value)
            elif isinstance(hint, ast.Name) and hasattr(module, hint.id):
                hints.append(getattr(module, hint.id))
            # else `hint=` is computed at run time (a loop over a table of hints): not read here
    return hints


def assert_every_hint_shown(assignment: str, mutants: list[Mutant]) -> None:
    """Every `Mistake` hint of the spec is expected by some mutant, and every hint a mutant expects
    is written in the checker (its spec, or the engine's modules outside `specs/`)."""
    expected = [h for m in mutants for h in m.hints]
    unshown = [h for h in spec_mistake_hints(assignment) if not any(e in h for e in expected)]
    assert not unshown, f"no mutant expects these hints: {unshown}"
    engine = [p for p in sorted(CHECKERS.rglob("*.py")) if "specs" not in p.relative_to(CHECKERS).parts]
    text = "".join(p.read_text() for p in [*spec_files(assignment).values(), *engine])
    missing = sorted({h for m in mutants for h in m.hints if h not in text})
    assert not missing, f"hints not found in the checker: {missing}"
