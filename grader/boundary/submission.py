"""The call boundary between the trusted checker and a student's code.

The checker never calls a student function directly. It asks a `Submission` to call a named
function with plain values and gets plain values back:

- what crosses is only numpy arrays (exactly `np.ndarray`, never a subclass, never of objects),
  Python numbers, strings, None, and tuples, lists and str-keyed dicts of them;
- anything the student function returns that must stay on the student's side (a layer's cache)
  comes back as a `Handle`, which the checker passes to a later call;
- a random generator argument crosses as a `SeededGenerator` (its seed), which the student's
  side turns into `np.random.default_rng(seed)`; whether the call used numpy's global random
  state comes back with the outcome;
- the arguments as they are after the call come back too, so the checker can see in-place
  changes (running statistics written into `bn_param`, an input mutated by mistake);
- an exception, a timeout or an unsupported return value is a `StudentError`, never a crash of
  the checker.

`InProcessSubmission` runs the student's modules in this process (for local debugging); a
sandboxed worker can implement the same interface from another process, since nothing here
needs more than the values listed above.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import os
import resource
import signal
import sys
import threading
import time
import traceback
import types
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dlgrade.grader.boundary.wire import Handle, SeededGenerator  # the values that cross as references and seeds

#: CPU seconds one call may take before it is stopped, unless the caller says otherwise.
DEFAULT_CALL_TIMEOUT = 20.0
#: How long the checker may wait on student code of a CPU budget of B seconds: WAIT_FACTOR * B +
#: WAIT_SLACK seconds. Budgets are CPU time; this only stops code that sleeps or deadlocks. A wait
#: is counted without the time the student's processes spent ready to run but without a CPU (the
#: kernel says how long), so that a busy machine does not use it up.
WAIT_FACTOR = 2.0
WAIT_SLACK = 2.0
#: Against what that count cannot see (or code that stays runnable without running): a call is
#: also stopped after RAW_WAIT_FACTOR times its waiting allowance plus RAW_WAIT_SLACK seconds of
#: plain wall-clock time; with little CPU used, the machine is blamed and the exercise checked
#: again alone (see grader.boundary.machine).
RAW_WAIT_FACTOR = 5.0
RAW_WAIT_SLACK = 10.0
#: A submission may be waited for, in all, the sum of its exercises' CPU budgets plus this many
#: seconds; past it, every exercise left is a verdict (see `Submission.overall_allowance`).
OVERALL_SLACK = 10.0
#: How much of a student's printed output is kept for the failure message.
MAX_CAPTURED_OUTPUT = 2000


@dataclass(frozen=True)
class StudentError:
    """What went wrong inside a student call, as plain strings.

    kind is one of: "not_implemented", "exception", "timeout", "bad_return", "missing",
    "module_error", "forbidden", "crash".
    """

    kind: str
    message: str
    traceback: str = ""
    #: What the message carries beyond the checker's own words (a worker's stderr, a parser's
    #: complaint): shown where examples may be revealed, never at the grading profile.
    detail: str = ""
    #: The error came across the boundary from a sandboxed worker: every word of it is the
    #: submission's to choose, and it is never of the kinds only the trusted side may report.
    told_by_worker: bool = False

    def describe(self) -> str:
        """One line a student can act on."""
        if self.kind == "not_implemented":
            return "not implemented (raises NotImplementedError)"
        return self.message + (f" {self.detail}" if self.detail else "")


@dataclass
class CallOutcome:
    """The plain result of one call across the boundary."""

    value: Any = None
    args_after: list = field(default_factory=list)
    kwargs_after: dict = field(default_factory=dict)
    error: StudentError | None = None
    aliases: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0
    #: Whether the call changed numpy's global random state (np.random.seed, np.random.rand, ...).
    global_random_used: bool = False


@dataclass(frozen=True)
class BatchCall:
    """One call of `Submission.call_batch`."""

    assignment: str
    module: str
    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    keep: tuple[int, ...] = ()
    via: str | None = None
    #: Make the call only where the call whose cache it is given (`earlier(i)`) returned arrays
    #: of exactly these shapes first (`outputs_have_shapes`): a backward is made on a forward's
    #: cache only where the checker, one call after the other, would have gone on to make it.
    requires_shapes: tuple[tuple[int, ...], ...] | None = None
    #: Arguments that are what an earlier call of the batch returned, as (argument position,
    #: call index, item index, shape): that call's value must be a step (`is_step` with the
    #: shape, None for any), or the call is not made. The argument is sent as None and becomes
    #: a copy of the item, as if it had crossed to the checker and back. Position -1 only
    #: requires the step (the call is made after that one, one after the other).
    chained: tuple[tuple[int, int, int, tuple[int, ...] | None], ...] = ()


def outputs_have_shapes(value: Any, shapes: tuple[tuple[int, ...], ...]) -> bool:
    """Whether `value` is a tuple whose first items are arrays of real numbers of exactly
    `shapes`, in order (what the checker requires of a forward before it calls the backward)."""
    if not isinstance(value, tuple) or len(value) < len(shapes):
        return False
    return all(isinstance(v, np.ndarray) and v.shape == tuple(shape) and v.dtype.kind in "fiub"
               for v, shape in zip(value, shapes))


def is_step(value: Any, shape: tuple[int, ...] | None) -> bool:
    """Whether `value` is a pair (next_w, config) as an update rule returns it: a tuple or list
    of two and, where `shape` is given, an array of real numbers of that shape and a dict."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return False
    return shape is None or (outputs_have_shapes(tuple(value[:1]), (shape,)) and isinstance(value[1], dict))


def earlier(index: int) -> Handle:
    """In a batch, the cache that call `index` of the same batch keeps (its first Handle)."""
    return Handle(-1 - index)


def _first_handle(value: Any) -> Handle | None:
    if isinstance(value, Handle):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            found = _first_handle(v)
            if found is not None:
                return found
    return None


def resolve_earlier(call: BatchCall, outcomes: list[CallOutcome],
                    crossed: Callable[[Any], Any] = lambda value: value) -> tuple[list, dict, CallOutcome | None]:
    """The call's arguments with each `earlier(i)` replaced by the cache call i kept, and each
    chained argument by `crossed(item)` of what call i returned (see `BatchCall.chained`);
    where that call failed, kept no cache, or returned what the call may not be given, the
    outcome that says so (the call is not made)."""
    problem: list[CallOutcome] = []
    args = list(call.args)
    for position, index, item, shape in call.chained:
        made = outcomes[index] if 0 <= index < len(outcomes) else None
        if made is None or made.error is not None or not is_step(made.value, shape) \
                or not -1 <= position < len(args):
            return args, dict(call.kwargs), CallOutcome(error=StudentError(
                "crash", f"not called: call {index + 1} of its batch, which it comes after, did not return "
                         f"what it needs"))
        if position >= 0:
            args[position] = crossed(made.value[item])

    def swap(value: Any) -> Any:
        if isinstance(value, Handle) and value.id < 0:
            index = -1 - value.id
            made = outcomes[index] if index < len(outcomes) else None
            handle = _first_handle(made.value) if made is not None and made.error is None else None
            if handle is None:
                problem.append(CallOutcome(error=StudentError(
                    "crash", f"not called: call {index + 1} of its batch, which makes its cache, did not succeed")))
                return value
            if call.requires_shapes is not None and not outputs_have_shapes(made.value, call.requires_shapes):
                problem.append(CallOutcome(error=StudentError(
                    "crash", f"not called: the outputs of call {index + 1} of its batch do not have the shapes "
                             f"it needs")))
                return value
            return handle
        if isinstance(value, (list, tuple)):
            return type(value)(swap(v) for v in value)
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    args, kwargs = [swap(a) for a in args], {k: swap(v) for k, v in call.kwargs.items()}
    return args, kwargs, (problem[0] if problem else None)


class UnsupportedValue(TypeError):
    """A value of a type that may not cross the boundary."""


def to_plain(value: Any, where: str = "result", keep: dict[int, Any] | None = None) -> Any:
    """Copy `value` into the plain types that may cross the boundary.

    Numpy scalars become 0-d arrays (so their dtype survives); arrays are copied so that nothing
    returned can alias what the student keeps. Raises UnsupportedValue naming `where`.
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is np.ndarray:
        if value.dtype.hasobject or value.dtype.fields is not None:
            raise UnsupportedValue(f"{where} is an array of dtype {value.dtype}; expected numbers")
        return np.array(value, copy=True)
    if isinstance(value, np.ndarray):
        raise UnsupportedValue(f"{where} is a {type(value).__name__} (a numpy subclass); return a plain np.ndarray")
    if isinstance(value, np.generic) and type(value) in _NUMPY_SCALARS:
        return np.asarray(value).copy()
    if type(value) in (tuple, list):
        items = [to_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if type(value) is tuple else items
    if type(value) is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise UnsupportedValue(f"{where} has a key {k!r} that is not a string")
            out[k] = to_plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, Handle):
        return value
    raise UnsupportedValue(f"{where} is a {type(value).__module__}.{type(value).__qualname__}; expected numpy arrays or numbers")


_NUMPY_SCALARS = {np.float16, np.float32, np.float64, np.longdouble, np.int8, np.int16, np.int32, np.int64,
                  np.uint8, np.uint16, np.uint32, np.uint64, np.bool_}


class Submission(ABC):
    """A student's folder of assignment modules, seen only through plain-value calls."""

    @abstractmethod
    def function_status(self, assignment: str, module: str, function: str) -> StudentError | None:
        """None when `function` can be called, else why not ("missing", "module_error")."""

    @abstractmethod
    def call(self, assignment: str, module: str, function: str, args: list, kwargs: dict | None = None,
             keep: tuple[int, ...] = (), timeout: float | None = None, via: str | None = None) -> CallOutcome:
        """Call `function(*args, **kwargs)` on the student's side and return a plain outcome.

        keep: positions in the returned tuple that stay on the student's side as Handles.
        via: the name of a trusted adapter in `grader.boundary.tensor_driver` that makes the call instead,
        as `adapter(function, *args, **kwargs)` (torch exercises: plain arrays become tensors,
        process groups are started, and plain arrays come back).
        Numpy floating-point errors (overflow, invalid, divide by zero) are reported in
        `CallOutcome.warnings` even where the student's module silenced them.
        """

    def call_batch(self, calls: list["BatchCall"]) -> list[CallOutcome]:
        """Several calls in one go, in order: a sandboxed worker gets them in one message and
        answers each (see `SandboxedSubmission.call_batch`). A call's arguments may name the
        cache that an earlier call of the batch keeps (`earlier(i)`). Every limit holds per
        call, as for `call`; a call that crashes the worker gets that verdict, and the calls
        after it are not made."""
        outcomes: list[CallOutcome] = []
        for call in calls:
            args, kwargs, lost = resolve_earlier(call, outcomes)
            outcomes.append(lost or self.call(call.assignment, call.module, call.function, args, kwargs,
                                              keep=call.keep, via=call.via))
        return outcomes

    @abstractmethod
    def forget(self, handle: Handle) -> None:
        """Drop a kept object."""

    def student_seconds(self) -> float:
        """CPU seconds the student's code has used so far (every process it started included,
        where the implementation can see them)."""
        return 0.0

    def waited_seconds(self) -> float:
        """Wall-clock seconds spent waiting on the student's code so far."""
        return 0.0

    def gpu_count(self, assignment: str) -> int:
        """How many CUDA devices the student's code of `assignment` can use, as the trusted side
        knows it (never as the student's code reports it)."""
        return 0

    _budget: float | None = None
    _budget_end: float | None = None
    _wall_end: float | None = None
    _overall_end: float | None = None
    #: Whether a call of the current exercise ran out of wall-clock time because the machine was
    #: busy (it was ready to run but got little CPU), rather than because it slept or hung.
    load_blamed: bool = False

    def set_deadline(self, seconds: float | None) -> None:
        """Give what follows (one exercise) at most `seconds` of CPU time in student code, and
        `wait_allowance(seconds)` of waiting on it (the checker's own time between calls counts
        in neither)."""
        self._budget = seconds
        if seconds is None:
            self._budget_end = self._wall_end = None
        else:
            self._budget_end = self.student_seconds() + seconds
            self._wall_end = self.waited_seconds() + wait_allowance(seconds)

    def overall_allowance(self, exercises: int, budget: float) -> float:
        """The waiting a submission of `exercises` exercises, each of CPU budget `budget`, may
        cost in all: correct code is waited for about as long as it computes, so the sum of its
        budgets is generous (waits are counted without the time spent waiting for a CPU)."""
        return exercises * budget + OVERALL_SLACK

    def set_overall(self, seconds: float | None) -> None:
        """Give the rest of the grading of this submission at most `seconds` of waiting on
        student code, whatever the exercises' own allowances (None: no such cap), and at most
        `raw_allowance(seconds)` of plain wall-clock time in its calls: what a submission does to
        look like the victim of a busy machine (waiting for a CPU it arranged not to get) cannot
        stretch its grading without end."""
        if seconds is None:
            self._overall_end = self._overall_raw_end = None
        else:
            self._overall_end = self.waited_seconds() + seconds
            self._overall_raw_end = self.raw_waited_seconds() + raw_allowance(seconds)

    _overall_raw_end: float | None = None

    def raw_waited_seconds(self) -> float:
        """Wall-clock seconds spent waiting on student code, the machine's share included."""
        return self.waited_seconds()

    def raw_left(self) -> float | None:
        """The wall-clock seconds left of the submission's overall cap (None: no cap)."""
        return None if self._overall_raw_end is None else self._overall_raw_end - self.raw_waited_seconds()

    def overall_spent(self) -> bool:
        """Whether the submission has used up its overall waiting time."""
        if self._overall_raw_end is not None and self.raw_waited_seconds() >= self._overall_raw_end:
            return True
        return self._overall_end is not None and self.waited_seconds() >= self._overall_end

    #: CPU seconds of one call where no exercise budget is set (nor a timeout given).
    call_timeout: float = DEFAULT_CALL_TIMEOUT

    def time_left(self, timeout: float | None = None) -> float:
        """The CPU time of the next call: what remains of the exercise's budget (else
        `call_timeout`), cut to `timeout` where one is given."""
        left = self.call_timeout if self._budget_end is None else self._budget_end - self.student_seconds()
        return left if timeout is None else min(timeout, left)

    def wall_left(self, timeout: float | None = None) -> float:
        """How long the next call may be waited for (counted as in `waited_seconds`)."""
        if self.overall_spent():
            return 0.0
        waited = self.waited_seconds()
        ends = [end - waited for end in (self._wall_end, self._overall_end) if end is not None]
        if self._wall_end is None or timeout is not None:
            ends.append(wait_allowance(self.call_timeout if timeout is None else timeout))
        return min(ends)

    def budget_words(self, used: float) -> str:
        """How a call that used `used` CPU seconds stands against the budget in force."""
        if self._budget is None:
            return f"{used:.3g} s of CPU time"
        return f"{used:.3g} s of CPU time, past what was left of the exercise's budget of {self._budget:g} s"

    def wait_words(self, waited: float, cpu: float) -> str:
        """How a call that was waited for `waited` seconds stands against the allowance in force."""
        allowance = f"the exercise's {wait_allowance(self._budget):g} s" if self._budget is not None else \
            f"{waited:.3g} s"
        if self.overall_spent():
            allowance = "what was left of the submission's overall time"
        return (f"it was waited for {waited:.3g} s ({allowance}) and used {cpu:.2g} s of CPU time: "
                "it sleeps, waits or is deadlocked")

    _last_timeout = ""

    def timed_out(self, message: str) -> StudentError:
        """A call ran past its time: remembered, so that later calls can say why none is left."""
        self._last_timeout = message
        return StudentError("timeout", message)

    def budget_spent(self) -> StudentError:
        """The error of a call made after the exercise's time budget ran out."""
        if self.overall_spent():
            return StudentError("timeout", "no time left: the submission used up its overall time")
        why = f" after: {self._last_timeout}" if self._last_timeout else ""
        return StudentError("timeout", f"no time left for this exercise{why}")

    def close(self) -> None:
        """Release whatever the submission holds."""

    def __enter__(self) -> "Submission":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wait_allowance(cpu_seconds: float) -> float:
    """The seconds of waiting that go with a CPU budget of `cpu_seconds`."""
    return cpu_seconds * WAIT_FACTOR + WAIT_SLACK


def raw_allowance(wait_seconds: float) -> float:
    """The plain wall-clock seconds after which a call that may be waited for `wait_seconds` is
    stopped whatever the count of its waiting says."""
    return wait_seconds * RAW_WAIT_FACTOR + RAW_WAIT_SLACK


def blame_the_machine(cpu_used: float, cpu_limit: float, wall: float, stalled: float | None) -> bool:
    """Whether a call stopped by the wall clock was stopped because the machine was busy: it got
    less than half its CPU budget, and waited, ready to run, for a CPU during a quarter of the
    time or more (or the kernel does not say). Code that sleeps or deadlocks waits for nothing."""
    return cpu_used < 0.5 * cpu_limit and (stalled is None or stalled >= 0.25 * wall)


class CallTimeout(BaseException):
    """Raised inside a student call that ran past its time (a BaseException so that a bare
    `except Exception` in student code does not swallow it). clock: "cpu" or "wall"."""

    def __init__(self, clock: str = "cpu"):
        super().__init__(clock)
        self.clock = clock


_package_counter = itertools.count()


class InProcessSubmission(Submission):
    """Student modules imported into this process, each assignment folder as its own package.

    Every instance gets a fresh package name, so two submissions (or a solution and a planted
    mistake) loaded in one process never share module objects.
    """

    def __init__(self, root: Path | str, call_timeout: float = DEFAULT_CALL_TIMEOUT,
                 forbidden: dict[str, list[str]] | None = None, only_student_code: bool = False):
        """forbidden: per assignment, the top-level packages its modules may not import.
        only_student_code: nothing but the submission's code runs in this process between calls
        (the sandboxed worker), so numpy's global random state after one call is the state
        before the next; in the checker's process, hypothesis reseeds it between calls."""
        self.only_student_code = only_student_code
        self._random_after: tuple | None = None
        self.root = Path(root)
        self.call_timeout = call_timeout
        self.forbidden = forbidden if forbidden is not None else forbidden_imports()
        self._prefix = f"_dlgrade_submission_{next(_package_counter)}"
        self._modules: dict[tuple[str, str], types.ModuleType | StudentError] = {}
        self._kept: dict[int, Any] = {}
        self._next_handle = itertools.count(1)
        self._student_seconds = 0.0
        self._waited_seconds = 0.0

    # -- loading -----------------------------------------------------------------------------

    def _module(self, assignment: str, module: str) -> types.ModuleType | StudentError:
        key = (assignment, module)
        if key not in self._modules:
            self._random_after = None  # an import is student code too, run outside any call
            self._modules[key] = self._load(assignment, module)
        return self._modules[key]

    def _load(self, assignment: str, module: str) -> types.ModuleType | StudentError:
        folder = self.root / assignment
        path = folder / f"{module}.py"
        if not path.is_file():
            return StudentError("missing", f"{assignment}/{module}.py not found in {self.root}")
        banned = imported_names(path) & set(self.forbidden.get(assignment, ()))
        if banned:
            return StudentError("forbidden", f"{module}.py imports {', '.join(sorted(banned))}, which {assignment} "
                                             f"does not allow: write it with numpy")
        package = f"{self._prefix}.{assignment}"
        self._ensure_package(package, folder)
        name = f"{package}.{module}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        clock = _Clock()
        cpu = max(self.time_left(), 0.01)
        try:
            with _student_context(cpu, max(self.wall_left(), 0.01)):
                spec.loader.exec_module(mod)
        except SyntaxError as e:
            del sys.modules[name]
            where = Path(e.filename).name if e.filename else f"{module}.py"
            via = "" if where == f"{module}.py" else f" (imported by {module}.py)"
            return StudentError("module_error", f"{assignment}/{where} has a syntax error at line {e.lineno}: {e.msg}{via}")
        except CallTimeout as e:
            del sys.modules[name]
            limit = f"{self.budget_words(clock.cpu())}" if e.clock == "cpu" else f"{clock.wall():.3g} s of wall-clock time"
            return StudentError("module_error", f"importing {assignment}/{module}.py did not finish within {limit}")
        except BaseException as e:  # noqa: BLE001 - anything the student's import does is a verdict
            del sys.modules[name]
            return StudentError("module_error", f"importing {assignment}/{module}.py raised {type(e).__name__}: {e}",
                                _student_traceback(e))
        finally:
            self._charge(clock)
        return mod

    def _ensure_package(self, package: str, folder: Path) -> None:
        for name, path in ((self._prefix, None), (package, folder)):
            if name not in sys.modules:
                pkg = types.ModuleType(name)
                pkg.__path__ = [str(path)] if path else []
                sys.modules[name] = pkg

    # -- the interface -----------------------------------------------------------------------

    def function_status(self, assignment: str, module: str, function: str) -> StudentError | None:
        mod = self._module(assignment, module)
        if isinstance(mod, StudentError):
            return mod
        if not callable(getattr(mod, function, None)):
            return StudentError("missing", f"{module}.py defines no function {function}")
        return None

    def call(self, assignment, module, function, args, kwargs=None, keep=(), timeout=None, via=None) -> CallOutcome:
        status = self.function_status(assignment, module, function)
        if status is not None:
            return CallOutcome(error=status)
        fn = getattr(self._modules[(assignment, module)], function)
        if via is not None:
            from dlgrade.grader.boundary.tensor_driver import adapter
            fn = adapter(via, fn)
        cpu_limit = self.time_left(timeout)
        wall_limit = self.wall_left(timeout)
        if cpu_limit <= 0 or wall_limit <= 0:
            return CallOutcome(error=self.budget_spent())
        # Fresh copies: nothing the student does to its arguments reaches the checker's arrays.
        call_args = [self._resolve(a) for a in args]
        call_kwargs = {k: self._resolve(v) for k, v in (kwargs or {}).items()}
        output = _Tail(MAX_CAPTURED_OUTPUT)
        floating_point: list[str] = []

        def record(kind: str, flag: int) -> None:
            message = f"RuntimeWarning: {kind} encountered"
            if message not in floating_point:
                floating_point.append(message)

        random_state = self._random_after if self.only_student_code and self._random_after is not None \
            else _global_random_state()
        clock = _Clock()
        try:
            with _student_context(cpu_limit, wall_limit), contextlib.redirect_stdout(output), \
                    contextlib.redirect_stderr(output), \
                    np.errstate(over="call", invalid="call", divide="call", call=record):
                value = fn(*call_args, **call_kwargs)
        except NotImplementedError as e:
            return self._outcome(StudentError("not_implemented", f"{function} raises NotImplementedError", _student_traceback(e)), clock, output)
        except CallTimeout as e:
            return self._outcome(self._timeout(function, e.clock, clock, cpu_limit), clock, output)
        except BaseException as e:  # noqa: BLE001 - a student's exception, SystemExit included, is a verdict
            if isinstance(e, KeyboardInterrupt):
                raise
            return self._outcome(StudentError("exception", f"{function} raised {type(e).__name__}: {e}", _student_traceback(e)), clock, output)
        finally:
            seconds = self._charge(clock)
            self._random_after = _global_random_state()
        outcome = CallOutcome(seconds=seconds, output=output.getvalue(), warnings=floating_point,
                              global_random_used=self._random_after != random_state)
        try:
            value = self._keep(value, keep)
            outcome.value = to_plain(value)
            # A generator argument comes back as the seed it was sent as.
            outcome.args_after = [args[i] if isinstance(args[i], SeededGenerator) else to_plain(a, f"argument {i}")
                                  for i, a in enumerate(call_args) if not isinstance(args[i], Handle)]
            outcome.kwargs_after = {k: kwargs[k] if isinstance(kwargs[k], SeededGenerator) else to_plain(v, f"argument {k}")
                                    for k, v in call_kwargs.items() if not isinstance(kwargs[k], Handle)}
        except UnsupportedValue as e:
            outcome.error = StudentError("bad_return", f"{function} returned a value the checker cannot use: {e}")
            return outcome
        outcome.aliases = _aliases(value, call_args, call_kwargs, keep)
        return outcome

    def forget(self, handle: Handle) -> None:
        self._kept.pop(handle.id, None)

    def student_seconds(self) -> float:
        return self._student_seconds

    def waited_seconds(self) -> float:
        return self._waited_seconds

    def gpu_count(self, assignment: str) -> int:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0

    def close(self) -> None:
        self._kept.clear()
        for name in [n for n in sys.modules if n == self._prefix or n.startswith(self._prefix + ".")]:
            del sys.modules[name]
        self._modules.clear()

    # -- helpers -----------------------------------------------------------------------------

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, Handle):
            if value.id not in self._kept:
                raise KeyError(f"unknown handle {value.id}")
            return self._kept[value.id]
        return _fresh_copy(value)

    def _keep(self, value: Any, keep: tuple[int, ...]) -> Any:
        if not keep:
            return value
        if not isinstance(value, tuple) or len(value) <= max(keep):
            raise UnsupportedValue(f"result should be a tuple of at least {max(keep) + 1} items, got {_kind_of(value)}")
        items = list(value)
        for i in keep:
            handle = Handle(next(self._next_handle))
            self._kept[handle.id] = items[i]
            items[i] = handle
        return tuple(items)

    def _charge(self, clock: "_Clock") -> float:
        """Add a call's CPU and waiting time to the totals; its CPU seconds."""
        used = clock.cpu()
        self._student_seconds += used
        self._waited_seconds += max(clock.wall() - (clock.stalled() or 0.0), 0.0)
        return used

    def _timeout(self, function: str, which: str, clock: "_Clock", cpu_limit: float) -> StudentError:
        if which == "cpu":
            return self.timed_out(f"{function} did not return within its time budget ({self.budget_words(clock.cpu())})")
        wall, cpu = clock.wall(), clock.cpu()
        if blame_the_machine(cpu, cpu_limit, wall, clock.stalled()):
            self.load_blamed = True
        return self.timed_out(f"{function} did not return: {self.wait_words(wall, cpu)}")

    def _outcome(self, error: StudentError, clock: "_Clock", output: "_Tail") -> CallOutcome:
        return CallOutcome(error=error, seconds=clock.cpu(), output=output.getvalue())


def forbidden_imports() -> dict[str, list[str]]:
    """Per assignment, the packages it forbids, from the course's manifests."""
    import tomllib

    from dlgrade.assignments import active_source

    source = active_source()
    found = {}
    for assignment in source.names():
        with open(source.assignments_dir / assignment / "manifest.toml", "rb") as f:
            found[assignment] = list(tomllib.load(f).get("forbidden", []))
    return found


def imported_names(path: Path) -> set[str]:
    """Top-level names a module imports: import statements, and calls of __import__ or
    importlib.import_module with a literal name. (The sandbox also hides forbidden packages, so
    a dynamic import that this misses still fails there.)"""
    import ast

    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return set()  # the import reports the syntax error
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("__import__", "import_module"):
                names.add(node.args[0].value.split(".")[0])
    return names


class _Tail(io.TextIOBase):
    """A text stream that keeps only the last `limit` characters written (printing gigabytes
    costs the student time, not the checker memory)."""

    def __init__(self, limit: int):
        self.limit, self._text = limit, ""

    def write(self, text: str) -> int:
        self._text = (self._text + str(text))[-self.limit:]
        return len(text)

    def getvalue(self) -> str:
        return self._text


def _kind_of(value: Any) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return f"a {type(value).__name__}"


def _global_random_state() -> tuple:
    """A fingerprint of numpy's global random state, to tell whether a call drew from it."""
    try:
        _, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    except Exception:  # noqa: BLE001 - a global state replaced by student code: no fingerprint
        return ()
    return keys.tobytes(), position, has_gauss, cached_gaussian


def _fresh_copy(value: Any) -> Any:
    if isinstance(value, SeededGenerator):
        return value.make()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _fresh_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_fresh_copy(v) for v in value)
    return value


def _arrays_in(value: Any, where: str, seen: set[int] | None = None):
    """Yield (description, array) for every array inside a nested value (caches included)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _arrays_in(v, f"{where}[{k!r}]", seen)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _arrays_in(v, f"{where}[{i}]", seen)


def _aliases(value: Any, args: list, kwargs: dict, keep: tuple[int, ...]) -> list[str]:
    """Which returned arrays share memory with an argument (a cache included) or with each other."""
    if keep and isinstance(value, tuple):
        value = tuple(v for i, v in enumerate(value) if i not in keep)
    returned = list(_arrays_in(value, "result"))
    inputs = [found for i, a in enumerate(args) for found in _arrays_in(a, f"argument {i}")]
    inputs += [found for k, v in kwargs.items() for found in _arrays_in(v, f"argument {k}")]
    found = []
    for i, (name, array) in enumerate(returned):
        for other_name, other in returned[i + 1:] + inputs:
            if array.size and other.size and np.shares_memory(array, other, max_work=10**6):
                found.append(f"{name} shares memory with {other_name}")
    return found


def _student_traceback(e: BaseException) -> str:
    """The last frames of the traceback, without the checker's own frame that made the call."""
    frames = traceback.extract_tb(e.__traceback__)[1:]
    return "".join(traceback.format_list(frames[-5:])) + f"{type(e).__name__}: {e}"


def _expire(signum, frame):
    raise CallTimeout("cpu" if signum == signal.SIGPROF else "wall")


class _Clock:
    """CPU time of this process and of the children it reaped, wall-clock time, and the time this
    thread was ready to run but had no CPU, from the moment it is made."""

    def __init__(self):
        self._cpu, self._wall, self._waited = self._cpu_now(), time.perf_counter(), run_delay()

    @staticmethod
    def _cpu_now() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def cpu(self) -> float:
        return self._cpu_now() - self._cpu

    def wall(self) -> float:
        return time.perf_counter() - self._wall

    def stalled(self) -> float | None:
        """Seconds this thread was ready to run but without a CPU; None where the kernel does not say."""
        now = run_delay()
        return None if now is None or self._waited is None else now - self._waited


_schedstat: dict[int, int] = {}


def run_delay() -> float | None:
    """Seconds this thread has waited, ready to run, for a CPU; None where the kernel does not say."""
    tid = threading.get_native_id()
    try:
        if tid not in _schedstat:  # kept open: it is read around every call
            _schedstat[tid] = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(_schedstat[tid], 128, 0).split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def _student_context(cpu_seconds: float, wall_seconds: float | None = None):
    """Stop the enclosed code after `cpu_seconds` of this process's CPU time, or `wall_seconds`
    of wall-clock time (main thread only; the sandboxed worker is stopped from outside). The
    handlers stay installed between calls: installing them costs more than most student calls."""
    if threading.current_thread() is not threading.main_thread() or not cpu_seconds:
        yield
        return
    for which in (signal.SIGPROF, signal.SIGALRM):
        if signal.getsignal(which) is not _expire:
            signal.signal(which, _expire)
    signal.setitimer(signal.ITIMER_PROF, max(cpu_seconds, 1e-3))
    signal.setitimer(signal.ITIMER_REAL, max(wall_seconds if wall_seconds else wait_allowance(cpu_seconds), 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
