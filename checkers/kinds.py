"""Declaration kinds beyond a layer, a loss and a function.

- `update_rule(...)`: a stateful rule `RULE(w, dw, config=None) -> (next_w, config)` (an
  optimizer), checked as a state machine over several consecutive steps, each step getting back
  the config the student's own rule returned, against the reference run from the same start.

- `sampler(...)`: `NAME(shape, rng) -> array`, random values judged by the statistics of its
  samples, whose randomness must come from the generator it is given.

A case of an update rule holds `w`, `dw_steps` (step k's gradient is `dw_steps[k]`) and, unless
it is left out of the first call, `config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from dlgrade.checkers.compare import FLOAT32, FLOAT64, Tolerance, assert_matches, count_text, require_array, values_close
from dlgrade.checkers.contract import DeclarationError, contract_parameters
from dlgrade.checkers.exercise import Case, Context, Exercise, Mistake, Property, PropertyFailure
from dlgrade.checkers.hygiene import HYGIENE_WEIGHT, Call, Run, Unchanged, float32_property, unchanged_property
from dlgrade.checkers.properties import CORRECTNESS_WEIGHT, Target, best_effort, call_target, explain_interference
from dlgrade.grader.boundary.submission import CallOutcome, SeededGenerator

#: The parameters an update rule has in the contract, in this order.
RULE_PARAMETERS = ("w", "dw", "config")


@dataclass
class Step:
    """What one call of the student's rule gave back."""

    next_w: Any
    config: Any
    outcome: CallOutcome | None
    #: The arguments it was sent, by name, in call order.
    sent: dict[str, Any]


@dataclass(frozen=True)
class RuleWords:
    """What an update rule's failures say where the rule keeps its state wrongly (the
    assignment's words for its contract): `returns_config` where the config returned is not a
    dict; `interfere` where two rules interfere; `state_names` where the state is not in config
    under the contract's names; `dw_unchanged` where dw is written into; `defaults` where the
    defaults are not used (it may name {defaults}, the contract's defaults in words)."""

    returns_config: str
    interfere: str
    state_names: str
    dw_unchanged: Unchanged
    defaults: str


def unpack_step(rule: str, value: Any, w: np.ndarray, step: int, strict: bool, words: RuleWords) -> tuple[Any, Any]:
    """(next_w, config) from what one call of the rule returned; strict: next_w has w's shape and
    config is a dict."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        got = f"a tuple of {count_text(len(value))}" if isinstance(value, (tuple, list)) else f"a {type(value).__name__}"
        raise PropertyFailure(f"{rule} should return a tuple (next_w, config); got {got} at step {step}")
    next_w, config = value
    if strict:
        require_array(f"next_w (step {step})", next_w, w.shape)
        if not isinstance(config, dict):
            raise PropertyFailure(f"{rule} should return its config as a dict holding the hyperparameters and the "
                                  f"state; got a {type(config).__name__} at step {step}", hints=[words.returns_config])
    return next_w, config


def student_steps(ctx: Context, rule: str, case: Case, words: RuleWords, strict: bool = True) -> list[Step]:
    """Call the student's rule once per gradient, each call getting the config the previous
    call returned (and w the previous next_w)."""
    w, config = case.args["w"], case.args.get("config")
    dws = case.args["dw_steps"]
    first = ((w, dws[0]) if "config" not in case.args else (w, dws[0], config)) if len(dws) else ()
    # A run no other property made on this case goes to the worker in one message.
    run = ctx.call_steps(rule, first, dws[1:], w.shape if strict else None) \
        if len(dws) and ctx.would_call(rule, *first) else None
    done = []
    for k, dw in enumerate(dws):
        args = (w, dw) if (k == 0 and "config" not in case.args) else (w, dw, config)
        outcome = ctx.call(rule, *args) if run is None else ctx.raise_for(rule, run[k])
        next_w, config = unpack_step(rule, outcome.value, w, k + 1, strict, words)
        done.append(Step(next_w, config, outcome, dict(zip(RULE_PARAMETERS, args))))
        w = next_w
    return done


def trajectory(steps: list[Step]) -> dict[str, np.ndarray]:
    """next_w after each step, by name."""
    return {f"next_w after step {k + 1}": np.asarray(s.next_w) for k, s in enumerate(steps)}


def _finite(a: np.ndarray) -> np.ndarray:
    """NaN and infinities as numbers, so that a mistake that gives NaN (a division by 1 - beta**0)
    is recognised by giving NaN in the same places."""
    return np.nan_to_num(np.asarray(a, dtype=np.float64), nan=1e300, posinf=1e301, neginf=-1e301)


def trajectory_hints(mistakes: Sequence[Mistake], case: Case, got: np.ndarray) -> list[str]:
    """The hints of the mistakes whose trajectory (`Mistake.expected(case, None, None)`, stacked
    next_w) the student's matches."""
    return [m.hint for m in mistakes
            if best_effort(lambda: values_close(_finite(got), _finite(m.expected(case, None, None))), False)]


def update_rule(assignment: str, module: str, name: str, reference: Callable[[Case], tuple[np.ndarray, tuple[dict, ...]]],
                cases: st.SearchStrategy, default_cases: st.SearchStrategy, pairs: st.SearchStrategy,
                state: Sequence[str], defaults_text: str, words: RuleWords, mistakes: Sequence[Mistake] = (),
                summary: str = "") -> list[Exercise]:
    """A stateful update rule as one exercise, checked as a state machine over several steps.

    reference(case): the reference's next_w after every step, stacked, and its config after every
    step; cases: drawn runs; default_cases: runs whose config is None, left out or empty;
    pairs: cases `{"first": run, "second": run}` of two rules whose steps alternate; state: the
    keys of config that hold the rule's state; defaults_text: the contract's defaults, in words;
    mistakes: known mistakes recognised by their trajectory."""
    params = contract_parameters(assignment, name)
    if params.names != RULE_PARAMETERS:
        raise DeclarationError(f"{name}{params.names} is declared as an update rule, which takes {RULE_PARAMETERS}")
    state = tuple(state)

    def steps_of(ctx, case, strict: bool = True) -> list[Step]:
        return student_steps(ctx, name, case, words, strict)

    def assert_steps(ctx, case, tol: Tolerance = FLOAT64, dtype=None):
        steps = steps_of(ctx, case)
        want, _ = reference(case)
        got = trajectory(steps)
        if dtype is not None:
            for label, w in got.items():
                require_array(label, w, w.shape, dtype)
        try:
            assert_matches("next_w", got, {f"next_w after step {k + 1}": w for k, w in enumerate(want)}, tol,
                           what="the reference run from the same start" if dtype is None else "the reference (float32 tolerance)")
        except PropertyFailure as failure:
            if dtype is None:
                failure.hints += trajectory_hints(mistakes, case, np.stack(list(got.values())))
            raise
        return steps

    def runs(ctx, case):
        steps_of(ctx, case, strict=False)

    def structure(ctx, case):
        for k, s in enumerate(steps_of(ctx, case)):
            require_array(f"next_w (step {k + 1})", s.next_w, case.args["w"].shape, np.float64)

    def over_steps(ctx, case):
        assert_steps(ctx, case)

    def with_defaults(ctx, case):
        try:
            assert_steps(ctx, case)
        except PropertyFailure as failure:
            failure.hints.append(words.defaults.format(defaults=defaults_text))
            raise

    def independent(ctx, pair):
        first, second = pair.args["first"], pair.args["second"]
        runs_of = {"first": (first, first.args["w"], first.args.get("config"), []),
                   "second": (second, second.args["w"], second.args.get("config"), [])}
        longest = max(len(c.args["dw_steps"]) for c in (first, second))
        # The two runs' steps alternate, in one message to the worker: each step is given what
        # the same run's step before returned.
        calls, links, order, last = [], {}, [], {}
        for k in range(longest):
            for label, (case, w, config, _) in runs_of.items():
                if k >= len(case.args["dw_steps"]):
                    continue
                dw = case.args["dw_steps"][k]
                # Each step comes after the call before it, of either run (with that run's shape):
                # where that one did not return a step, one call after the other stops there.
                after = ((-1, len(calls) - 1, 0, runs_of[order[-1][1]][1].shape),) if calls else ()
                if label in last:
                    links[len(calls)] = {"chained": ((0, last[label], 0, w.shape), (2, last[label], 1, w.shape)) + after}
                    calls.append((name, (None, dw, None), {}, (), None))
                else:
                    links[len(calls)] = {"chained": after}
                    calls.append((name, (w, dw) + (() if "config" not in case.args else (config,)), {}, (), None))
                last[label] = len(calls) - 1
                order.append((k, label))
        try:
            for (k, label), outcome in zip(order, ctx.call_together(calls, links)):
                case, w, config, got = runs_of[label]
                next_w, config = unpack_step(name, ctx.raise_for(name, outcome).value, w, k + 1, True, words)
                got.append(Step(next_w, config, None, {}))
                runs_of[label] = (case, next_w, config, got)
            for label, (case, _, _, got) in runs_of.items():
                want, _ = reference(case)
                assert_matches("next_w", trajectory(got), {f"next_w after step {k + 1}": w for k, w in enumerate(want)})
        except PropertyFailure as failure:
            failure.summary = f"with two optimizers whose steps alternate: {failure.summary}"
            alone_right = best_effort(lambda: all(alone_is_right(ctx, c) for c in (first, second)), False)
            explain_interference(failure, alone_right, words.interfere, "matches_reference_over_steps",
                                 history_dependent=best_effort(lambda: depends_on_history(ctx, first), False))
            raise

    def alone_is_right(ctx, case) -> bool:
        got = trajectory(steps_of(ctx, case))
        want, _ = reference(case)
        return values_close(list(got.values()), list(want))

    def depends_on_history(ctx, case) -> bool:
        """The same run twice gives two trajectories: the rule keeps state between calls."""
        runs = [list(trajectory(steps_of(ctx, case)).values()) for _ in range(2)]
        return not values_close(runs[0], runs[1])

    def holds_state(ctx, case):
        steps = steps_of(ctx, case)
        _, configs = reference(case)
        for k, (s, want) in enumerate(zip(steps, configs)):
            missing = [key for key in state if key not in s.config]
            if missing:
                raise PropertyFailure(f"the config returned at step {k + 1} has no {', '.join(map(repr, missing))}",
                                      hints=[words.state_names])
            got = {f"config[{key!r}] after step {k + 1}": np.asarray(s.config[key], dtype=np.float64) for key in state}
            expected = {f"config[{key!r}] after step {k + 1}": np.asarray(want[key], dtype=np.float64) for key in state}
            for label, value in got.items():
                require_array(label, value, expected[label].shape)
            try:
                assert_matches("state", got, expected)
            except PropertyFailure as failure:
                failure.hints.append(words.state_names)
                raise

    def steps_run(ctx, case) -> Run:
        return Run(name, [Call.of(s.outcome, s.sent, only=("dw",), where=f" (step {k + 1})")
                          for k, s in enumerate(steps_of(ctx, case))])

    def float32(ctx, case32):
        assert_steps(ctx, case32, FLOAT32, np.float32)

    props = [
        Property("runs_on_valid_inputs", f"{name} runs over several steps, returning (next_w, config) each time", runs, cases),
        Property("returns_next_w_and_config", "next_w has exactly w's shape, in float64, and config is returned as a dict",
                 structure, cases),
        Property("matches_reference_over_steps", "next_w matches the reference at every step of a run of 3 to 6 steps, "
                 "each step getting back the config the previous one returned (drawn hyperparameters, resumed states)",
                 over_steps, cases, CORRECTNESS_WEIGHT),
        Property("applies_defaults", f"with config None, left out or empty, the defaults are used ({defaults_text})",
                 with_defaults, default_cases),
        Property("optimizers_are_independent", "two optimizers whose steps alternate each follow their own reference run",
                 independent, pairs),
        *([Property("config_holds_state", f"the returned config holds the state ({', '.join(state)}) "
                    "with the reference's values after every step", holds_state, cases, HYGIENE_WEIGHT, essential=False)]
          if state else []),
        unchanged_property(steps_run, f"{name} never modifies dw", cases, said=words.dw_unchanged, name="dw_unchanged"),
        float32_property(float32, "float32 w and dw give a float32 next_w at every step (advice unless the "
                         "manifest weighs it)", cases),
    ]
    return [Exercise(name, assignment, module, summary, props, cases)]


# ---------------------------------------------------------------------------------------------
# A sampler judged by statistics


def sample(ctx: Context, name: str, case: Case, dtype=None) -> tuple[np.ndarray, CallOutcome]:
    """What the student's sampler drew on `case` (an array of exactly `case.args["shape"]`, of
    `dtype` where given), and the call's outcome."""
    called = call_target(ctx, Target(name), case)
    out = called.outputs["out"]
    require_array("out", out, case.args["shape"], dtype)
    return out, called.outcome


def sampler(assignment: str, module: str, name: str, cases: st.SearchStrategy, statistics: Sequence[Property],
            runs_description: str, only_rng_hint: str, summary: str = "") -> list[Exercise]:
    """`NAME(shape, rng) -> array` as one exercise: it runs and returns a float64 array of the
    shape; `statistics`, its own properties (checks that use `sample`), judge what it draws; and
    its randomness comes from `rng` alone (the same seed gives the same array, another seed
    another, numpy's global random state untouched; `only_rng_hint` says how)."""
    contract_parameters(assignment, name)

    def runs(ctx, case):
        call_target(ctx, Target(name), case)

    def shapes(ctx, case):
        sample(ctx, name, case, np.float64)

    def only_rng(ctx, case):
        shape, seed = case.args["shape"], case.args["rng"].seed
        outcomes = [sample(ctx, name, case.with_args(rng=SeededGenerator(s)))[1] for s in (seed, seed, seed + 1)]
        first, again, other = (o.value for o in outcomes)
        if any(o.global_random_used for o in outcomes):
            raise PropertyFailure(f"{name} used numpy's global random state (np.random.*)", hints=[only_rng_hint])
        if not np.array_equal(first, again):
            raise PropertyFailure(f"{name} gave different arrays for two generators with the same seed",
                                  details=[f"shape {shape}, seed {seed}"], hints=[only_rng_hint])
        if np.array_equal(first, other):
            raise PropertyFailure(f"{name} gave the same array for generators with different seeds",
                                  details=[f"shape {shape}, seeds {seed} and {seed + 1}"], hints=[only_rng_hint])

    properties = [
        Property("runs_on_valid_inputs", runs_description, runs),
        Property("output_shape_and_dtype", f"{name} returns a float64 array of exactly the given shape", shapes),
        *statistics,
        Property("draws_only_from_rng", f"{name}'s randomness comes from rng alone: the same seed gives the same "
                 "array, another seed another array, and numpy's global random state is untouched", only_rng),
    ]
    return [Exercise(name, assignment, module, summary, properties, cases)]
