"""What an exercise is: a named student function, the properties it is held to, and its points.

An exercise is declared once, in `checkers/specs/<assignment>.py`; the generic property builders
in `checkers/properties.py` turn one declaration (a layer pair, a loss, a function) into the
`Exercise` objects defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

from dlgrade.checkers.student_errors import numpy2_hints
from dlgrade.grader.boundary.submission import CallOutcome, Handle, StudentError, Submission


@dataclass(frozen=True)
class Case:
    """One drawn input: the call's arguments by their contract names, in call order, and a seed
    for whatever else the property draws on this case (upstream gradients, directions)."""

    args: dict[str, Any]
    seed: int = 0

    def rng(self, salt: int = 0) -> np.random.Generator:
        """A generator for the property's extra draws on this case."""
        return np.random.default_rng([self.seed, salt])

    def with_args(self, **changes: Any) -> "Case":
        """The same case with some arguments replaced."""
        return replace(self, args={**self.args, **changes})

    def without(self, *names: str) -> "Case":
        """The same case with some (defaulted) arguments left out of the call."""
        return replace(self, args={k: v for k, v in self.args.items() if k not in names})


#: How a backward's failure begins when its forward returned something it cannot be checked on.
BACKWARD_NOT_CHECKED = "backward not checked"


class PropertyFailure(Exception):
    """A property does not hold on a case.

    summary: one line with no values of the example (safe to show for hidden examples);
    details: lines with values (the worst element, the input), withheld when examples are hidden;
    hints: known mistakes that explain the failure;
    diagnosis: which of the student's own functions is at fault, where that can be told.
    """

    def __init__(self, summary: str, details: list[str] | None = None, hints: list[str] | None = None,
                 diagnosis: str | None = None, error: StudentError | None = None, function: str | None = None,
                 hidden_summary: str | None = None):
        super().__init__(summary)
        self.summary = summary
        #: The summary where examples are hidden, when `summary` repeats numbers the submission
        #: chose freely (the shape it returned could spell out a hidden input, 62 bits at a time).
        self.hidden_summary = hidden_summary
        self.details = list(details or [])
        self.hints = list(hints or [])
        self.diagnosis = diagnosis
        #: The student's error, when a call of `function` raised (its text is the submission's:
        #: see `checkers.student_errors`).
        self.error = error
        self.function = function
        self.case: Case | None = None


@dataclass(frozen=True)
class Mistake:
    """A known mistake, recognised by what it makes the student's function return.

    `quantity` names what it changes ("output", "gradients", "loss"); `expected` gets the case,
    the correct value of that quantity (in the same structure the property compares) and the
    upstream gradient (an array, a dict for several outputs, None for losses) and returns what
    the mistaken code would give. When the student's value matches it, `hint` is
    shown with the failure.
    """

    hint: str
    quantity: str
    expected: Callable[[Case, Any, Any], Any]


@dataclass(frozen=True)
class Property:
    """One checkable claim about an exercise.

    check(context, case) raises PropertyFailure when the claim does not hold on case.
    cases: the strategy it draws from (the exercise's inputs unless it needs its own).
    essential: a failure costs all of the exercise's points; otherwise only `weight`'s share.
    """

    name: str
    description: str
    check: Callable[["Context", Case], None]
    cases: st.SearchStrategy | None = None
    weight: float = 1.0
    essential: bool = True
    max_examples: int | None = None
    shrink: bool = True
    skip_if: Callable[["Context"], str | None] | None = None


@dataclass
class Exercise:
    """One contract function, graded on its own."""

    name: str
    assignment: str
    module: str
    summary: str
    properties: list[Property]
    cases: st.SearchStrategy
    points: float = 0.0
    #: Other student functions this one is checked through (a backward needs its forward).
    needs: tuple[str, ...] = ()


class Context:
    """What a property's check may use: calls into the submission, on behalf of one exercise.

    modules: where each student function was found, when not in the exercise's own module (a
    CS231n `layers.py` that holds `softmax_loss`; see `checkers.runner.locate`)."""

    def __init__(self, exercise: Exercise, submission: Submission, modules: dict[str, str] | None = None):
        self.exercise = exercise
        self.submission = submission
        self.modules = dict(modules or {})

    def module_of(self, function: str) -> str:
        """The module the student's `function` is called in."""
        return self.modules.get(function, self.exercise.module)

    def call(self, function: str, *args: Any, keep: tuple[int, ...] = (), via: str | None = None,
             **kwargs: Any) -> CallOutcome:
        """Call a student function; a student error becomes a PropertyFailure.
        via: a trusted adapter that makes the call (see `Submission.call`)."""
        outcome = self.try_call(function, *args, keep=keep, via=via, **kwargs)
        if outcome.error is not None:
            error = outcome.error
            details = _traceback_lines(error)
            if outcome.output.strip():
                details.append("it printed: " + " | ".join(outcome.output.strip().splitlines()[-3:])[-300:])
            raise PropertyFailure(error.describe(), details=details, error=error, function=function,
                                  hints=numpy2_hints(f"{error.message}\n{error.traceback}"))
        return outcome

    def try_call(self, function: str, *args: Any, keep: tuple[int, ...] = (), via: str | None = None,
                 **kwargs: Any) -> CallOutcome:
        """Call a student function; the outcome may hold a student error."""
        ex = self.exercise
        return self.submission.call(ex.assignment, self.module_of(function), function, list(args), kwargs,
                                    keep=keep, via=via)

    def forget(self, handle: Handle) -> None:
        """Drop a cache the student's side keeps for us."""
        self.submission.forget(handle)


def _traceback_lines(error: StudentError) -> list[str]:
    return [line for line in error.traceback.splitlines() if line.strip()][-6:] if error.traceback else []


@dataclass
class PropertyResult:
    """The verdict on one property."""

    name: str
    passed: bool
    message: str = ""
    weight: float = 1.0
    essential: bool = True
    checked: bool = True
    replay: str = ""
    hints: list[str] = field(default_factory=list)
    #: It could not run on this machine (message: why); never counted as passed.
    skipped: bool = False
    #: The student function found to raise NotImplementedError while checking this property.
    not_implemented: str = ""

    @property
    def advice(self) -> bool:
        """Reported but worth no points (weight 0, not essential): float32 kept as float32, unless
        the manifest gives it weight."""
        return not self.essential and self.weight == 0


@dataclass
class ExerciseResult:
    """The verdict on one exercise, with its points."""

    name: str
    assignment: str
    max_points: float
    properties: list[PropertyResult]
    status: str = "checked"  # checked | missing | not_implemented | module_error | forbidden | timeout
    reason: str = ""
    seconds: float = 0.0
    student_seconds: float = 0.0
    #: Something the student should know that is not a failure (a function found in another module).
    note: str = ""

    @property
    def passed(self) -> bool:
        """Every property that ran holds, advice aside (it is reported, and worth nothing),
        and at least one ran."""
        ran = [p for p in self.properties if not p.skipped]
        return self.status == "checked" and bool(ran) and all(p.passed or p.advice for p in ran)

    @property
    def skipped(self) -> list[PropertyResult]:
        """The properties that could not run on this machine."""
        return [p for p in self.properties if p.skipped]

    @property
    def points(self) -> float:
        """All points when every property holds; none when an essential one fails; otherwise
        the share of the weights that hold. A skipped property (a GPU check on a machine without
        one) never earns anything: the points are shared among the properties that ran, and an
        exercise of which nothing ran earns none."""
        ran = [p for p in self.properties if not p.skipped]
        if self.status != "checked" or not ran or any(p.essential and not p.passed for p in ran):
            return 0.0
        total = sum(p.weight for p in ran)
        earned = sum(p.weight for p in ran if p.passed)
        return round(self.max_points * earned / total, 2) if total else 0.0
