"""Running an exercise's properties on a submission with hypothesis, and writing the verdicts.

Each property is its own hypothesis search, seeded from the profile, so the failing example is
shrunk per property and the same run seed replays it exactly. A property whose function does not
run (the first property fails) leaves the rest unchecked rather than failing them all again.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.errors import Flaky, HypothesisException

from checkers.exercise import Case, Context, Exercise, ExerciseResult, Property, PropertyFailure, PropertyResult
from checkers.profiles import GradingProfile
from grader.submission import StudentError, Submission

#: Arrays up to this many elements are printed in full in a failure message.
PRINT_LIMIT = 24


def _without_local_constants() -> None:
    """Hypothesis mixes into its draws the literal constants of every non-installed module loaded
    in this process. That would make a grade depend on what this process ran before (and, with
    --no-sandbox, on the student's own source), so the runs here draw from hypothesis's global
    constants only. Where a hypothesis version has no such mechanism, nothing needs doing."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a layout we do not know has nothing to switch off
        return
    if hasattr(providers, "_get_local_constants") and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty


_without_local_constants()


def check_exercise(exercise: Exercise, submission: Submission, profile: GradingProfile,
                   only: str | None = None, replay: str = "", timeout: float | None = None) -> ExerciseResult:
    """The verdict on one exercise. only: check just that property (for replays);
    timeout: CPU seconds the exercise may spend in student code (and a waiting allowance that
    goes with them, see `grader.submission.wait_allowance`).

    When the wall clock stopped a call because the machine was busy (the call was ready to run
    but got little CPU), nothing is recorded: the exercise is checked again, once, alone on the
    machine (see grader.machine), and that verdict is the one kept."""
    from grader import machine

    with machine.shared():
        result = _check_once(exercise, submission, profile, only, replay, timeout)
    if submission.load_blamed:
        with machine.alone():
            result = _check_once(exercise, submission, profile, only, replay, timeout)
    return result


def _check_once(exercise: Exercise, submission: Submission, profile: GradingProfile, only: str | None,
                replay: str, timeout: float | None) -> ExerciseResult:
    start, student_start = time.perf_counter(), submission.student_seconds()
    submission.set_deadline(timeout)
    result = ExerciseResult(exercise.name, exercise.assignment, exercise.points, [])
    problem = _unavailable(exercise, submission)
    if problem is not None:
        result.status = problem.kind if problem.kind in ("missing", "forbidden", "timeout") else "module_error"
        result.reason = problem.describe()
        result.properties = [PropertyResult(p.name, False, result.reason, p.weight, p.essential, checked=False)
                             for p in exercise.properties]
        result.student_seconds = submission.student_seconds() - student_start
        submission.set_deadline(None)
        return result
    ctx = Context(exercise, submission)
    blocked = None
    for prop in exercise.properties:
        if only is not None and prop.name != only:
            continue
        if blocked is not None:
            result.properties.append(PropertyResult(prop.name, False, f"not checked: {blocked}", prop.weight,
                                                    prop.essential, checked=False))
            continue
        verdict = check_property(ctx, prop, profile, replay)
        result.properties.append(verdict)
        if prop.name == "runs_on_valid_inputs" and not verdict.passed:
            blocked = "the function does not run"
            if "not implemented" in verdict.message:
                result.status = "not_implemented"
                result.reason = verdict.message.splitlines()[0]
                blocked = "not implemented"
    if result.properties and all(p.skipped for p in result.properties):
        result.reason = "nothing was checked on this machine (every property was skipped), so no points"
    result.seconds = time.perf_counter() - start
    result.student_seconds = submission.student_seconds() - student_start
    submission.set_deadline(None)
    return result


def _unavailable(exercise: Exercise, submission: Submission) -> StudentError | None:
    for name in (exercise.name, *exercise.needs):
        problem = submission.function_status(exercise.assignment, exercise.module, name)
        if problem is not None:
            if name != exercise.name:
                return StudentError(problem.kind, f"needs {name}: {problem.describe()}")
            return problem
    return None


def check_property(ctx: Context, prop: Property, profile: GradingProfile, replay: str = "") -> PropertyResult:
    """Search for a counterexample to one property; shrink it; describe it."""
    strategy = prop.cases if prop.cases is not None else ctx.exercise.cases
    reason = prop.skip_if(ctx) if prop.skip_if is not None else None
    if reason:
        return PropertyResult(prop.name, False, f"skipped: {reason}", prop.weight, prop.essential, checked=False,
                              skipped=True)
    examples = min(profile.max_examples, prop.max_examples or profile.max_examples)
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if prop.shrink else ())

    @seed(profile.seed_for(ctx.exercise.name, prop.name))
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False,
              phases=phases, print_blob=False)
    @given(strategy)
    def search(case: Case) -> None:
        try:
            prop.check(ctx, case)
        except PropertyFailure as failure:
            failure.case = case
            raise

    result = PropertyResult(prop.name, True, "", prop.weight, prop.essential)
    try:
        search()
    except PropertyFailure as failure:
        result.passed = False
        result.hints = list(dict.fromkeys(failure.hints))
        result.message = describe_failure(failure, profile)
        result.replay = replay.format(exercise=ctx.exercise.name, property=prop.name) if replay else ""
    except Flaky as e:
        result.passed = False
        result.message = f"the result changes between calls with the same input (nondeterministic): {str(e).splitlines()[0]}"
    except HypothesisException as e:  # pragma: no cover - a checker bug, shown rather than hidden
        result.passed = False
        result.message = f"the checker could not run this property ({type(e).__name__}: {e}); please report it"
    return result


def describe_failure(failure: PropertyFailure, profile: GradingProfile) -> str:
    """The failure as the student reads it; values only where the profile reveals examples."""
    lines = [failure.summary]
    if failure.case is not None:
        if profile.reveal_examples:
            lines.append("smallest failing input: " + describe_case(failure.case))
            lines += failure.details
        else:
            lines.append("on a hidden input: " + describe_case(failure.case, values=False))
    if failure.diagnosis:
        lines.append("diagnosis: " + failure.diagnosis)
    return "\n".join(lines)


def describe_case(case: Case, values: bool = True) -> str:
    """The case's arguments: dtype and shape always; the values of small arrays when allowed."""
    parts = [f"{name}={_describe(value, values)}" for name, value in case.args.items()]
    return ", ".join(parts)


def _describe(value: Any, values: bool) -> str:
    if isinstance(value, np.ndarray):
        head = f"{value.dtype}{list(value.shape)}"
        if values and value.size <= PRINT_LIMIT:
            body = np.array2string(value, precision=4, separator=", ", max_line_width=10**6).replace("\n", "")
            return f"{head} {body}"
        return head
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v, values)}" for k, v in value.items()) + "}"
    if isinstance(value, Case):
        return "(" + describe_case(value, values) + ")"
    return repr(value) if values or isinstance(value, (str, bool, type(None))) else type(value).__name__
