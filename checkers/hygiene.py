"""The hygiene properties, written once: inputs left unchanged, results that are fresh arrays,
float32 kept as float32, no floating-point trouble.

They judge a `Run`: what the calls an exercise makes on one case sent and got back. Every kind of
declaration (a layer, a loss, a function, an update rule over steps, a hand-built exercise) says
how to make its run on a case and gets the same properties, with the same names, weights and
words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from hypothesis import strategies as st
import numpy as np

from dlgrade.checkers.compare import flatten
from dlgrade.checkers.exercise import Case, Context, Property, PropertyFailure
from dlgrade.checkers.strategies import as_float32
from dlgrade.grader.boundary.submission import CallOutcome

#: Weight of a hygiene property within an exercise's points (minor: it costs only its share).
HYGIENE_WEIGHT = 1.0
#: float32 kept as float32 is advice (reported, no points): CS231n code upcasts (np.zeros(shape)).
#: An instructor gives it weight in the manifest (`[weights] preserves_float32 = 0.5`).
FLOAT32_WEIGHT = 0.0
#: The floating-point troubles a call may report, in the checker's own words.
FLOATING_POINT_TROUBLE = ("overflow", "invalid value", "divide by zero")


@dataclass(frozen=True)
class Call:
    """One call as the hygiene properties see it: the arguments checked, by name, as sent and as
    they were after the call, and its outcome. `where` is said after a failure's summary where a
    run makes several calls (" (step 2)")."""

    sent: dict[str, Any]
    after: dict[str, Any]
    outcome: CallOutcome
    where: str = ""

    @classmethod
    def of(cls, outcome: CallOutcome, sent: dict[str, Any], only: Sequence[str] | None = None, where: str = "") -> "Call":
        """The call that was sent `sent` (every non-handle argument, by name, in call order), its
        arguments after the call taken from `outcome`; `only`: the ones to check."""
        after = dict(zip(sent, outcome.args_after))
        names = [n for n in sent if n in after and (only is None or n in only)]
        return cls({n: sent[n] for n in names}, {n: after.get(n) for n in names}, outcome, where)


@dataclass
class Run:
    """What the calls of one exercise on one case gave: the student function named in messages,
    and each call."""

    function: str
    calls: list[Call] = field(default_factory=list)

    @classmethod
    def single(cls, function: str, outcome: CallOutcome, sent: Case | dict[str, Any], mutable: Sequence[str] = ()
               ) -> "Run":
        """A run of one call that was sent `sent` (its arguments in call order); the arguments the
        contract lets the function update (`mutable`) are left out of the checks."""
        args = sent.args if isinstance(sent, Case) else sent
        return cls(function, [Call.of(outcome, args, [n for n in args if n not in mutable])])


@dataclass(frozen=True)
class Unchanged:
    """How a modified argument is told: `summary` may name {function}, {path} (the argument, or
    the entry in it) and {where} (the call); `hint` is shown with it (see `properties.ARGUMENTS`)."""

    summary: str
    hint: str


def assert_unchanged(run: Run, said: Unchanged) -> None:
    """Every argument each call checks is as it was sent: arrays equal (NaN where NaN was), the
    same entries in dicts."""
    for call in run.calls:
        for name, before in call.sent.items():
            paths_before, paths_after = flatten(before, name), flatten(call.after.get(name), name)
            if paths_before.keys() != paths_after.keys():
                changed = sorted(set(paths_before) ^ set(paths_after))
                raise PropertyFailure(f"{run.function} added or removed entries of its argument {name}{call.where}",
                                      details=[f"entries added or removed: {', '.join(changed)}"], hints=[said.hint])
            for path, b in paths_before.items():
                a = paths_after.get(path)
                if isinstance(b, np.ndarray) and not (isinstance(a, np.ndarray) and a.shape == b.shape
                                                       and np.array_equal(a, b, equal_nan=True)):
                    raise PropertyFailure(said.summary.format(function=run.function, path=path, where=call.where),
                                          hints=[said.hint])


def assert_fresh(run: Run, hint: str) -> None:
    """The arrays each call returned share memory neither with its arguments nor with each other."""
    for call in run.calls:
        if call.outcome.aliases:
            raise PropertyFailure(f"{run.function} returned arrays that share memory with others{call.where}",
                                  details=list(call.outcome.aliases), hints=[hint])


def floating_point_trouble(outcome: CallOutcome) -> list[str]:
    """Which floating-point troubles (overflow, invalid value, divide by zero) a call reported,
    named in the checker's words (the reports come from the submission's side)."""
    return [kind for kind in FLOATING_POINT_TROUBLE
            if any(kind.split()[0] in str(w) for w in outcome.warnings)]


def assert_no_trouble(run: Run) -> None:
    """No call of the run reported overflow, an invalid value or a division by zero."""
    for call in run.calls:
        trouble = floating_point_trouble(call.outcome)
        if trouble:
            raise PropertyFailure(f"{run.function} is not numerically stable here: numpy reported "
                                  f"{' and '.join(trouble)}")


def on_float32(check: Callable[[Context, Case], Any]) -> Callable[[Context, Case], Any]:
    """`check` run on the float32 version of each case; a failure shows that float32 case."""
    def run(ctx, case):
        case32 = as_float32(case)
        try:
            return check(ctx, case32)
        except PropertyFailure as failure:
            failure.case = case32
            raise
    return run


# ---------------------------------------------------------------------------------------------
# The properties

MakeRun = Callable[[Context, Case], Run]


def unchanged_property(make_run: MakeRun, description: str, cases: st.SearchStrategy | None = None, *,
                       said: Unchanged, name: str = "inputs_unchanged") -> Property:
    """`inputs_unchanged` (minor): the run's calls leave their checked arguments as they were sent."""
    return Property(name, description, lambda ctx, case: assert_unchanged(make_run(ctx, case), said), cases,
                    HYGIENE_WEIGHT, essential=False)


def fresh_property(make_run: MakeRun, description: str, hint: str, cases: st.SearchStrategy | None = None,
                   name: str = "gradients_are_fresh_arrays") -> Property:
    """`gradients_are_fresh_arrays` (minor): what the run's calls return are new arrays."""
    return Property(name, description, lambda ctx, case: assert_fresh(make_run(ctx, case), hint), cases,
                    HYGIENE_WEIGHT, essential=False)


def float32_property(check: Callable[[Context, Case], Any], description: str,
                     cases: st.SearchStrategy | None = None) -> Property:
    """`preserves_float32` (advice unless the manifest weighs it): `check` holds on the float32
    version of each case."""
    return Property("preserves_float32", description, on_float32(check), cases, FLOAT32_WEIGHT, essential=False)
