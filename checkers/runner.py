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

from dlgrade.checkers.exercise import (BACKWARD_NOT_CHECKED, Case, Context, Exercise, ExerciseResult, Property, PropertyFailure,
                               PropertyResult)
from dlgrade.checkers.profiles import GradingProfile
from dlgrade.checkers.registry import contract_module, contract_modules, read_manifest
from dlgrade.checkers.student_errors import KNOWN_EXCEPTIONS, WITHHELD, numpy2_hints, student_error_text
from dlgrade.grader.boundary.submission import StudentError, Submission

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
    goes with them, see `grader.boundary.submission.wait_allowance`).

    When the wall clock stopped a call because the machine was busy (the call was ready to run
    but got little CPU), nothing is recorded: the exercise is checked again, once, alone on the
    machine (see grader.boundary.machine), and that verdict is the one kept."""
    from dlgrade.grader.boundary import machine

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
    modules, problem, missing = locate(exercise, submission)
    if problem is not None:
        result.status = problem.kind if problem.kind in ("missing", "forbidden", "timeout") else "module_error"
        result.reason = (f"needs {missing}: " if missing != exercise.name else "") + _error_text(
            problem, profile, exercise, missing, modules.get(missing))
        result.properties = [PropertyResult(p.name, False, result.reason, p.weight, p.essential, checked=False)
                             for p in exercise.properties]
        result.student_seconds = submission.student_seconds() - student_start
        submission.set_deadline(None)
        return result
    ctx = Context(exercise, submission, modules)
    # A stub left in the contract's module (it raises NotImplementedError) counts as absent where
    # another module of the assignment defines the function: that one is checked, from the start.
    tried: dict[str, set[str]] = {}
    while True:
        stub = _check_properties(ctx, exercise, profile, only, replay, result)
        if not stub:
            break
        tried.setdefault(stub, set()).add(ctx.module_of(stub))
        elsewhere = _defined_elsewhere(exercise, submission, stub, tried[stub])
        if elsewhere is None:
            break
        ctx.modules[stub] = elsewhere
        result.properties, result.status, result.reason = [], "checked", ""
    result.note = _location_note(exercise, ctx.modules)
    if result.properties and all(p.skipped for p in result.properties):
        result.reason = "nothing was checked on this machine (every property was skipped), so no points"
    result.seconds = time.perf_counter() - start
    result.student_seconds = submission.student_seconds() - student_start
    submission.set_deadline(None)
    return result


def _check_properties(ctx: Context, exercise: Exercise, profile: GradingProfile, only: str | None, replay: str,
                      result: ExerciseResult) -> str:
    """Check each property in turn into `result`; returns the name of a student function found to
    raise NotImplementedError (a stub), or ''. A property whose function does not run leaves the
    rest unchecked.

    Properties are judged together (`one_pass`): each case is drawn once and every property that
    draws from the same strategy is checked on it; a property's own hypothesis search runs only
    where the pass found it failing, to find the smallest failing input (or with `only`, to
    replay one property exactly)."""
    properties = [p for p in exercise.properties if only is None or p.name == only]
    found = one_pass(ctx, properties, profile) if only is None else {}
    blocked, stub = None, ""
    for prop in properties:
        if blocked is not None:
            result.properties.append(PropertyResult(prop.name, False, f"not checked: {blocked}", prop.weight,
                                                    prop.essential, checked=False))
            continue
        try:
            if prop.name in found and found[prop.name] is None:
                verdict = PropertyResult(prop.name, True, "", prop.weight, prop.essential)
            else:
                verdict = check_property(ctx, prop, profile, replay, found.get(prop.name))
        except Exception as e:  # noqa: BLE001 - one property's trouble never costs the exercise its verdict
            verdict = PropertyResult(prop.name, False, _checker_trouble(e, profile), prop.weight, prop.essential)
        result.properties.append(verdict)
        stub = stub or verdict.not_implemented
        if prop.name == "runs_on_valid_inputs" and not verdict.passed:
            blocked = "the function does not run"
            if verdict.not_implemented:
                result.status = "not_implemented"
                result.reason = verdict.message.splitlines()[0]
                blocked = "not implemented"
            elif verdict.message.startswith(BACKWARD_NOT_CHECKED):
                blocked = verdict.message.splitlines()[0].removeprefix(BACKWARD_NOT_CHECKED + ": ")
    return stub


#: The property whose failure leaves the others of its exercise unchecked.
RUNS = "runs_on_valid_inputs"


def one_pass(ctx: Context, properties: list[Property], profile: GradingProfile) -> dict[str, Case | None]:
    """Judge the properties that draw from the same strategy on the same cases: each case is
    drawn once (as many as the most demanding of them asks for; each property is judged on its
    own count, the profile's or fewer) and every property is checked on it in declaration
    order, with the student's calls that one property made served to the next (see
    `Context.try_call`). Returns, by property, None where it held on every case, or the first
    case it failed on; a property left out (skipped) is not in it.

    The pass only tells which properties fail: the message of a failure comes from the
    property's own search (see `check_property`), so it is the same as when the property is
    replayed alone. Once the function does not run, nothing else is judged."""
    groups: dict[int, list[Property]] = {}
    for prop in properties:
        if prop.skip_if is not None and prop.skip_if(ctx):
            continue
        strategy = prop.cases if prop.cases is not None else ctx.exercise.cases
        groups.setdefault(id(strategy), []).append(prop)
    found: dict[str, Case | None] = {}
    for group in groups.values():
        if found.get(RUNS) is not None:
            break
        found.update(_pass_over(ctx, group, profile))
    return found


def _examples(prop: Property, profile: GradingProfile) -> int:
    return min(profile.max_examples, prop.max_examples or profile.max_examples)


def _pass_over(ctx: Context, group: list[Property], profile: GradingProfile) -> dict[str, Case | None]:
    """One pass of hypothesis over the group's strategy, judging every property of the group on
    each case; nothing is shrunk and nothing raises (see `one_pass`)."""
    strategy = group[0].cases if group[0].cases is not None else ctx.exercise.cases
    failed: dict[str, Case] = {}
    drawn = [0]

    @seed(profile.seed_for(ctx.exercise.name, "one pass: " + group[0].name))
    @settings(max_examples=max(_examples(p, profile) for p in group), database=None, deadline=None,
              derandomize=False, suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=(Phase.explicit, Phase.generate), print_blob=False)
    @given(strategy)
    def judge_all(case: Case) -> None:
        if RUNS in failed:
            return
        drawn[0] += 1
        ctx.on_case()
        try:
            for prop in group:
                if prop.name in failed or drawn[0] > _examples(prop, profile):
                    continue
                ctx.for_property()
                try:
                    prop.check(ctx, case)
                except HypothesisException:
                    raise
                except Exception:  # noqa: BLE001 - a failure of any kind; its search tells which
                    failed[prop.name] = case
                    if prop.name == RUNS:
                        return
        finally:
            ctx.off_case()

    judge_all()
    return {p.name: failed.get(p.name) for p in group}


def locate(exercise: Exercise, submission: Submission) -> tuple[dict[str, str], StudentError | None, str]:
    """Where the exercise's function and the functions it needs are: in the module the contract
    puts each in or, when that module does not define it, in the first other module of the
    assignment that does (a CS231n `layers.py` holds `softmax_loss` and `svm_loss`). Returns the
    modules by function, and the error that makes the exercise uncheckable with the function it
    is about (None and '' when there is none).

    Which definition is checked is decided by where it is, never by how well it does: the
    contract's module wins whenever it defines the function (a definition there that raises
    NotImplementedError, a stub, counts as absent: see `check_exercise`), and only one definition
    is ever judged, so a second, different definition elsewhere can never earn a point."""
    modules = {}
    for name in (exercise.name, *exercise.needs):
        home = contract_module(exercise.assignment, name) or exercise.module
        problem = submission.function_status(exercise.assignment, home, name)
        if problem is not None and problem.kind == "missing":
            found = _defined_elsewhere(exercise, submission, name, {home})
            if found is not None:
                modules[name] = found
                continue
        modules[name] = home
        if problem is not None:
            return modules, problem, name
    return modules, None, ""


def _defined_elsewhere(exercise: Exercise, submission: Submission, function: str, tried: set[str]) -> str | None:
    """The first contract module of the assignment (in its declaration order), other than those
    already tried, that defines `function` (a module that imports a stub re-exports it: trying
    it finds the stub again, and the search goes on)."""
    for module in contract_modules(exercise.assignment):
        if module not in tried and submission.function_status(exercise.assignment, module, function) is None:
            return module
    return None


def _location_note(exercise: Exercise, modules: dict[str, str]) -> str:
    moved = [(name, module) for name, module in modules.items()
             if module != (contract_module(exercise.assignment, name) or exercise.module)]
    return "; ".join(f"{name} was checked in {module}.py: the contract puts it in "
                     f"{contract_module(exercise.assignment, name) or exercise.module}.py" for name, module in moved)


def _error_text(error: StudentError, profile: GradingProfile, exercise: Exercise, function: str = "",
                module: str | None = None) -> str:
    """A student error as the profile lets it be told (see `checkers.student_errors`), with the
    numpy 2 hint where one applies. module: the module `function` was looked up in."""
    files = [f"{m}.py" for m in contract_modules(exercise.assignment)] or [f"{exercise.module}.py"]
    module = module or contract_module(exercise.assignment, function) or exercise.module
    text = student_error_text(error, profile.reveal_examples, function or exercise.name,
                              f"{exercise.assignment}/{module}.py", files, _forbidden(exercise.assignment))
    hints = numpy2_hints(f"{error.message}\n{error.traceback}")
    return text + "".join(f" (hint: {hint})" for hint in hints)


def _forbidden(assignment: str) -> list[str]:
    """The packages the assignment's (trusted) manifest forbids."""
    try:
        return list(read_manifest(assignment).get("forbidden", []))
    except OSError:
        return []


def _checker_trouble(e: Exception, profile: GradingProfile) -> str:
    """The message of a property whose judging raised on the trusted side (an odd value from the
    student's code that the checker did not expect, or a checker bug)."""
    name = type(e).__name__ if type(e).__name__ in KNOWN_EXCEPTIONS else "an unexpected exception"
    what = f"{name}: {e}" if profile.reveal_examples else f"{name}; its message is {WITHHELD}"
    return (f"the checker could not judge this property on what your code returned ({what}); this counts as a "
            f"failure of the property: if your code looks right to you, please report it")


def check_property(ctx: Context, prop: Property, profile: GradingProfile, replay: str = "",
                   failing: Case | None = None) -> PropertyResult:
    """Search for a counterexample to one property; shrink it; describe it. failing: a case the
    property failed on in its exercise's pass: where the property's own search finds no failure,
    the property is judged on that case (a failure is never lost for being rare), and where it
    holds there too, the failure did not come back: it is told as nondeterminism."""
    strategy = prop.cases if prop.cases is not None else ctx.exercise.cases
    reason = prop.skip_if(ctx) if prop.skip_if is not None else None
    if reason:
        return PropertyResult(prop.name, False, f"skipped: {reason}", prop.weight, prop.essential, checked=False,
                              skipped=True)
    examples = min(profile.max_examples, prop.max_examples or profile.max_examples)
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if prop.shrink else ())

    def search_on(case: Case) -> None:
        """The property on the case its exercise's pass saw it fail on, as the search judges
        it. Where it holds there now, the failure did not come back: nondeterminism, as when
        hypothesis replays a failure that does not fail again."""
        search.hypothesis.inner_test(case)
        raise Flaky("the property failed on a case in its exercise's pass, and held on that case alone")

    @seed(profile.seed_for(ctx.exercise.name, prop.name))
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False,
              phases=phases, print_blob=False)
    @given(strategy)
    def search(case: Case) -> None:
        try:
            prop.check(ctx, case)
        except PropertyFailure as failure:
            if failure.case is None:
                failure.case = case
            raise
        except HypothesisException:
            raise
        except Exception as e:  # noqa: BLE001 - the trusted side's trouble with this case is the property's failure
            failure = PropertyFailure(_checker_trouble(e, profile))
            failure.case = case
            raise failure from e

    result = PropertyResult(prop.name, True, "", prop.weight, prop.essential)
    try:
        search()
        if failing is not None:
            search_on(failing)
    except PropertyFailure as failure:
        result.passed = False
        result.hints = list(dict.fromkeys(failure.hints))
        result.message = describe_failure(failure, profile, ctx)
        result.replay = replay.format(exercise=ctx.exercise.name, property=prop.name) if replay else ""
        if failure.error is not None and failure.error.kind == "not_implemented":
            result.not_implemented = failure.function or ctx.exercise.name
    except Flaky as e:
        result.passed = False
        if _out_of_time(ctx.submission):
            # The time ran out between a failing run and its replay: not the code's doing.
            result.message = (f"{ctx.exercise.name} ran out of time during this property: "
                              f"{ctx.submission.budget_spent().message}")
        else:
            result.message = "the result changes between calls with the same input (nondeterministic)" + (
                f": {str(e).splitlines()[0]}" if profile.reveal_examples else "")
    except HypothesisException as e:  # pragma: no cover - a checker bug, shown rather than hidden
        result.passed = False
        result.message = f"the checker could not run this property ({type(e).__name__}: {e}); please report it"
    return result


def _out_of_time(submission: Any) -> bool:
    """Whether the exercise's (or the submission's) time is spent."""
    return submission.time_left() <= 0 or submission.wall_left() <= 0


def describe_failure(failure: PropertyFailure, profile: GradingProfile, ctx: Context | None = None) -> str:
    """The failure as the student reads it; values, and text the submission wrote, only where the
    profile reveals examples."""
    summary = failure.summary if profile.reveal_examples or failure.hidden_summary is None else failure.hidden_summary
    if failure.error is not None and not profile.reveal_examples:
        told = failure.error.describe()
        exercise = ctx.exercise if ctx is not None else None
        files = [f"{m}.py" for m in contract_modules(exercise.assignment)] if exercise is not None else []
        module = f"{exercise.assignment}/{ctx.module_of(failure.function or exercise.name)}.py" if exercise else ""
        hidden = student_error_text(failure.error, False, failure.function or "", module, files,
                                    _forbidden(exercise.assignment) if exercise is not None else ())
        summary = summary.replace(told, hidden) if told and told in summary else hidden
    lines = [summary]
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
    """The case's arguments: dtype and shape of arrays always, their values when allowed; the
    small numbers and strings that set the configuration (stride, pad, pool size, heads, T, p,
    mode) always, since they locate a bug without revealing the hidden arrays."""
    parts = [f"{name}={_describe(value, values)}" for name, value in case.args.items()]
    return ", ".join(parts)


#: Integers up to this size are configuration (a stride, a length, a number of heads).
SMALL_INT = 10_000


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
    if values or _configuration(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


def _configuration(value: Any) -> bool:
    """Whether a non-array argument is configuration, shown even for hidden examples: a string,
    a bool, None, a float, a small int, or a short tuple of small ints (a shape)."""
    if value is None or isinstance(value, (str, bool, float)):
        return True
    if isinstance(value, int):
        return abs(value) <= SMALL_INT
    return isinstance(value, tuple) and len(value) <= 4 and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= SMALL_INT for v in value)
