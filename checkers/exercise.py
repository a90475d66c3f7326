"""What an exercise is: a named student function, the properties it is held to, and its points.

An exercise is declared once, in `checkers/specs/<assignment>/`; the generic property builders
in `checkers/properties.py` turn one declaration (a layer pair, a loss, a function) into the
`Exercise` objects defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from dlgrade.checkers.memo import Unkeyable, copied, fingerprint
from dlgrade.checkers.student_errors import numpy2_hints
from dlgrade.grader.boundary.submission import (BatchCall, CallOutcome, Handle, StudentError, Submission, earlier,
                                                is_step, outputs_have_shapes)


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
    #: The oracle whose gradients the exercise is judged against, and its differentiable inputs
    #: (a backward, a loss): the reference is itself checked against finite differences on the
    #: exercise's own cases (tests/test_reference_gradients.py).
    reference: Callable | None = None
    differentiable: tuple[str, ...] = ()


class Context:
    """What a property's check may use: calls into the submission, on behalf of one exercise.

    modules: where each student function was found, when not in the exercise's own module (a
    CS231n `layers.py` that holds `softmax_loss`; see `checkers.runner.locate`)."""

    def __init__(self, exercise: Exercise, submission: Submission, modules: dict[str, str] | None = None):
        self.exercise = exercise
        self.submission = submission
        self.modules = dict(modules or {})
        self._memory: _CallMemory | None = None
        #: How many calls went to the submission, and how many were served from the pass's memory.
        self.calls_made = 0
        self.calls_served = 0

    def module_of(self, function: str) -> str:
        """The module the student's `function` is called in."""
        return self.modules.get(function, self.exercise.module)

    # -- the memory of one case's calls (see `checkers.runner.one_pass`) ---------------------------

    def on_case(self) -> None:
        """Start remembering calls: every property of the pass is checked on one case from now
        on, and a call one property makes is served to the next property that makes it instead
        of calling the student again (see `try_call` for which calls)."""
        self.off_case()
        self._memory = _CallMemory()

    def for_property(self) -> None:
        """A property starts on the current case: none of its calls were made yet."""
        if self._memory is not None:
            self._memory.made, self._memory.pending = set(), {}

    def off_case(self) -> None:
        """Stop remembering calls, and drop the caches the case's calls kept."""
        memory, self._memory = self._memory, None
        if memory is not None:
            for handle in memory.kept:
                self.submission.forget(handle)

    def call(self, function: str, *args: Any, keep: tuple[int, ...] = (), via: str | None = None,
             **kwargs: Any) -> CallOutcome:
        """Call a student function; a student error becomes a PropertyFailure.
        via: a trusted adapter that makes the call (see `Submission.call`)."""
        return self.raise_for(function, self.try_call(function, *args, keep=keep, via=via, **kwargs))

    def raise_for(self, function: str, outcome: CallOutcome) -> CallOutcome:
        """The outcome of a call of `function`; a student error in it becomes a PropertyFailure."""
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
        """Call a student function; the outcome may hold a student error.

        While a pass remembers calls (`on_case`), a call that another property already made on
        this case is served from memory, as a copy, with everything it observed (the arguments
        after the call, aliases, warnings, printed output), where a fresh call would answer the
        same: never a call the same property already made on this case (a property that calls
        twice means to: the second call may differ where state is carried), nor one that failed
        or used numpy's global random state. A cache kept on the student's side is state: a
        call given one is served only while the cache is fresh (no call was made on it yet), and
        a property that goes on to use a cache it was served calls on it are made for real
        first, so the cache is in the state the property's own calls would have left it."""
        memory = self._memory
        key = memory.key(self, function, args, kwargs, keep, via) if memory is not None else None
        served = self._serve(key, function, args, kwargs, via)
        if served is not None:
            return served
        # Calls this property was served on the caches it now uses again are made first, for
        # real, in the same message to the worker as this one.
        replays = [c for h in _handles_in(args, kwargs) for c in memory.pending.pop(h.id, [])] if memory else []
        outcome = self.call_many([*replays, (function, args, kwargs, keep, via)])[-1]
        self._remember(key, args, kwargs, outcome)
        return outcome

    def try_call_then(self, first: tuple[str, tuple, dict, tuple[int, ...], str | None],
                      then: tuple[str, tuple, dict, tuple[int, ...], str | None],
                      shapes: tuple[tuple[int, ...], ...]) -> tuple[CallOutcome, CallOutcome | None]:
        """`try_call` of `first` (a call that keeps a cache), then, only where its first outputs
        are arrays of exactly `shapes` (see `outputs_have_shapes`: what a property checks before
        it goes on), `try_call` of `then` with that cache after its arguments. Where neither is
        served from the case's memory, the two go in one message to the worker, and the worker
        makes the second on the same condition: the student sees the calls that one call after
        the other would make. Returns both outcomes, None for a second call not made."""
        function, args, kwargs, keep, via = first
        second, second_args, second_kwargs, second_keep, second_via = then
        memory = self._memory
        key = memory.key(self, function, args, kwargs, keep, via) if memory is not None else None
        # Where the one call after the other would be served either call, they are made so.
        after_key = memory.key_on_fresh_cache(self, then, key) if key is not None else None
        if _handles_in(args, kwargs) or (memory is not None and (memory.servable(key) or memory.servable(after_key))):
            outcome = self.try_call(function, *args, keep=keep, via=via, **kwargs)
            cache = _cache_after(outcome, keep, shapes)
            if cache is None:
                return outcome, None
            return outcome, self.try_call(second, *second_args, cache, keep=second_keep, via=second_via, **second_kwargs)
        if key is not None:
            memory.made.add(key)
        outcome, after = self.call_many([first, (second, (*second_args, earlier(0)), second_kwargs, second_keep,
                                                 second_via)], conditions={1: {"requires_shapes": shapes}})
        self._remember(key, args, kwargs, outcome)
        cache = _cache_after(outcome, keep, shapes)
        if cache is None:
            return outcome, None
        made_args = (*second_args, cache)
        if after_key is not None and memory.origin.get(cache.id) != key:
            after_key = None  # the first call is not remembered: nor is a call on its cache
        if after_key is not None:
            memory.made.add(after_key)
        self._remember(after_key, made_args, second_kwargs, after)
        return outcome, after

    def _serve(self, key: bytes | None, function: str, args: tuple, kwargs: dict, via: str | None) -> CallOutcome | None:
        """A copy of the call another property made on this case, where it may be served (see
        `try_call`), else None; either way the current property has now made the call."""
        memory = self._memory
        if key is None:
            return None
        again = key in memory.made
        memory.made.add(key)
        served = memory.calls.get(key)
        if again or served is None or not memory.fresh(served.value):
            return None
        self.calls_served += 1
        for handle in _handles_in(args, kwargs):
            memory.pending.setdefault(handle.id, []).append((function, args, kwargs, (), via))
        return copied(served)

    def _remember(self, key: bytes | None, args: tuple, kwargs: dict, outcome: CallOutcome) -> None:
        """Note in the case's memory a call made for real (see `try_call`)."""
        memory = self._memory
        if memory is None:
            return
        memory.used |= {h.id for h in _handles_in(args, kwargs)}
        if outcome.error is None:
            memory.kept |= set(_handles_in(outcome.value, {}))
        earlier_call = memory.calls.get(key)
        # The first call is the one served (a second one, by the property that made the
        # first, may differ on purpose), unless the cache it kept has been used since.
        if key is not None and outcome.error is None and not outcome.global_random_used and (
                earlier_call is None or not memory.fresh(earlier_call.value)):
            memory.calls[key] = copied(outcome)
            memory.origin.update({h.id: key for h in _handles_in(outcome.value, {})})

    def call_many(self, calls: list[tuple[str, tuple, dict, tuple[int, ...], str | None]],
                  conditions: dict[int, dict[str, Any]] | None = None) -> list[CallOutcome]:
        """Several calls (function, args, kwargs, keep, via) made for real, in order, in one
        message to a sandboxed worker (`Submission.call_batch`); an argument may name the cache
        an earlier call of the same list keeps (`grader.boundary.submission.earlier`).
        conditions: by index, how a call depends on the calls before it (the fields
        `requires_shapes` and `chained` of `BatchCall`)."""
        ex = self.exercise
        conditions = conditions or {}
        self.calls_made += len(calls)
        return self.submission.call_batch([BatchCall(ex.assignment, self.module_of(function), function, tuple(args),
                                                     dict(kwargs), tuple(keep), via, **conditions.get(i, {}))
                                           for i, (function, args, kwargs, keep, via) in enumerate(calls)])

    def would_call(self, function: str, *args: Any) -> bool:
        """Whether `try_call(function, *args)` would reach the student (it is not served)."""
        memory = self._memory
        key = memory.key(self, function, args, {}, (), None) if memory is not None else None
        return not (memory is not None and memory.servable(key))

    def call_steps(self, function: str, first: tuple, later: Sequence[Any],
                   shape: tuple[int, ...] | None) -> list[CallOutcome]:
        """An update rule's run in one message to the worker: `function(*first)`, then for each
        dw of `later`, `function(next_w, dw, config)` with the (next_w, config) the call before
        returned, made only where that call returned a step (`is_step` with `shape`): the
        calls `try_call` one after the other would make. Each is noted in the case's memory as
        that call would be (a later step that another property had made with the same
        arguments is made again here, where one call after the other would be served it)."""
        calls = [(function, first, {}, (), None)] + [(function, (None, dw, None), {}, (), None) for dw in later]
        links = {k + 1: {"chained": ((0, k, 0, shape), (2, k, 1, shape))} for k in range(len(later))}
        outcomes = self.call_many(calls, links)
        memory, args = self._memory, first
        for k, outcome in enumerate(outcomes):
            if memory is not None:
                key = memory.key(self, function, args, {}, (), None)
                if key is not None:
                    memory.made.add(key)
                self._remember(key, args, {}, outcome)
            if outcome.error is not None or not is_step(outcome.value, shape) or k + 1 == len(outcomes):
                break
            args = (outcome.value[0], later[k], outcome.value[1])
        return outcomes


    def call_together(self, calls: list[tuple[str, tuple, dict, tuple[int, ...], str | None]],
                      conditions: dict[int, dict[str, Any]] | None = None) -> list[CallOutcome]:
        """Calls (function, args, kwargs, keep, via) of one property that depend on each other's
        results only through `conditions` (see `call_many`), made for real, in order, in one
        message to a sandboxed worker: the student sees the same calls in the same order as when
        they are made one by one. Nothing is served from the case's memory nor remembered for
        another property; the caches they keep are dropped with the case, like those of any call."""
        outcomes = self.call_many(calls, conditions)
        if self._memory is not None:
            for (_, args, kwargs, _, _), outcome in zip(calls, outcomes):
                self._memory.used |= {h.id for h in _handles_in(args, kwargs)}
                if outcome.error is None:
                    self._memory.kept |= set(_handles_in(outcome.value, {}))
        return outcomes

    def forget(self, handle: Handle) -> None:
        """Drop a cache the student's side keeps for us (a cache the pass may still serve is
        dropped when its case is over)."""
        if self._memory is not None and handle in self._memory.kept:
            return
        self.submission.forget(handle)


class _CallMemory:
    """The calls made on one case of a pass, by what identifies them (see `Context.try_call`)."""

    def __init__(self):
        self.calls: dict[bytes, CallOutcome] = {}
        #: The calls the property now running made (or was served) on this case.
        self.made: set[bytes] = set()
        #: Calls served to the property now running on a cache, by handle, not yet made for real.
        self.pending: dict[int, list] = {}
        #: Caches kept by the case's calls (dropped when the case is over), the ones a call was
        #: made on, and the call that made each (a fresh cache is known by the call that made it).
        self.kept: set[Handle] = set()
        self.used: set[int] = set()
        self.origin: dict[int, bytes] = {}

    def fresh(self, value: Any) -> bool:
        """Whether every cache in `value` is still as the call that made it left it."""
        return all(h.id not in self.used for h in _handles_in(value, {}))

    def servable(self, key: bytes | None) -> bool:
        """Whether the call `key` identifies would be served to the property now running."""
        served = self.calls.get(key) if key is not None else None
        return served is not None and key not in self.made and self.fresh(served.value)

    def key_on_fresh_cache(self, ctx: Context, call: tuple, made_by: bytes) -> bytes | None:
        """The key of `call` (function, args, kwargs, keep, via) given, after its arguments, the
        fresh cache of the call keyed `made_by` (before that call is made)."""
        function, args, kwargs, keep, via = call
        stand_in = Handle(-1)  # no cache the worker keeps has a negative id
        self.origin[stand_in.id] = made_by
        try:
            return self.key(ctx, function, (*args, stand_in), kwargs, keep, via)
        finally:
            del self.origin[stand_in.id]

    def key(self, ctx: Context, function: str, args: tuple, kwargs: dict, keep: tuple[int, ...],
            via: str | None) -> bytes | None:
        """What identifies a call that may be remembered, or None where it may not: a cache
        argument is identified by the call that made it, while it is fresh."""
        def named(value: Any) -> Any:
            if isinstance(value, Handle):
                if value.id in self.used or value.id not in self.origin:
                    raise Unkeyable("a cache that was used")
                return ("a fresh cache from", self.origin[value.id])
            if isinstance(value, (list, tuple)):
                return type(value)(named(v) for v in value)
            if isinstance(value, dict):
                return {k: named(v) for k, v in value.items()}
            return value

        try:
            return fingerprint((function, ctx.module_of(function), via, keep, named(list(args)), named(kwargs)))
        except Unkeyable:  # a cache in an unknown state, or an object of the student's
            return None


def _cache_after(outcome: CallOutcome, keep: tuple[int, ...], shapes: tuple[tuple[int, ...], ...]) -> Handle | None:
    """The cache a call kept, where it succeeded with outputs of `shapes`; else None."""
    if outcome.error is not None or not keep or not outputs_have_shapes(outcome.value, shapes):
        return None
    cache = outcome.value[keep[0]] if len(outcome.value) > keep[0] else None
    return cache if isinstance(cache, Handle) else None


def _handles_in(args: Any, kwargs: dict) -> list[Handle]:
    found: list[Handle] = []

    def walk(value: Any) -> None:
        if isinstance(value, Handle):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(args)
    walk(kwargs)
    return found


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
