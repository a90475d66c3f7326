"""The generic properties, written once, and the three shapes of declaration that use them.

- `layer(...)`: a forward `NAME_forward(...) -> (out, cache)` and its backward
  `NAME_backward(dout, cache) -> grads` become two exercises;
- `loss(...)`: `NAME(...) -> (loss, grads)`;
- `function(...)`: `NAME(...) -> out`, no gradient.

Every declaration gets, for free: it runs on every drawn input; exact output shapes and dtypes;
values against the torch reference in float64; the backward against the reference's
vector-Jacobian product for a random upstream gradient, with finite differences of the student's
own forward as a diagnosis; input hygiene (arguments unchanged, gradients that are fresh arrays,
independent caches); float32 kept as float32. Exercise-specific properties come on top, written
with the helpers at the end of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from checkers.compare import (FLOAT32, FLOAT64, Tolerance, assert_matches, flatten, require_array,
                              require_scalar, values_close)
from checkers.exercise import Case, Context, Exercise, Mistake, Property, PropertyFailure
from checkers.oracle import evaluate
from checkers.strategies import as_float32, direction, upstream
from grader.submission import CallOutcome, Handle

#: Weights of the generic properties within an exercise's points.
CORRECTNESS_WEIGHT = 4.0
HYGIENE_WEIGHT = 1.0
FLOAT32_WEIGHT = 0.5
#: Central finite-difference step relative to the input's scale: about eps**(1/3) for float64.
FD_STEP = 6e-6


# ---------------------------------------------------------------------------------------------
# Calling the student's functions


@dataclass(frozen=True)
class Target:
    """How one student function is called and what it returns.

    outputs: names of the arrays it returns first (`out`, or `next_h, next_c`);
    cache: whether a cache follows them (it stays on the student's side as a Handle);
    mutable: arguments the contract lets it update in place (`bn_param`, optimizer `config`).
    """

    function: str
    outputs: tuple[str, ...] = ("out",)
    cache: bool = False
    mutable: tuple[str, ...] = ()


@dataclass
class Called:
    """What one call of a target gave back: its outputs by name, and its cache handle."""

    outputs: dict[str, Any]
    cache: Handle | None
    outcome: CallOutcome


def call_target(ctx: Context, target: Target, case: Case) -> Called:
    """Call `target` with the case's arguments and check the structure of what comes back."""
    n = len(target.outputs)
    keep = (n,) if target.cache else ()
    outcome = ctx.call(target.function, *case.args.values(), keep=keep)
    value = outcome.value
    if target.cache or n > 1:
        expected_len = n + int(target.cache)
        names = ", ".join(target.outputs + (("cache",) if target.cache else ()))
        if not isinstance(value, tuple) or len(value) != expected_len:
            got = f"a tuple of {len(value)}" if isinstance(value, tuple) else f"a {type(value).__name__}"
            raise PropertyFailure(f"{target.function} should return a tuple ({names}); got {got}")
        outputs = dict(zip(target.outputs, value[:n]))
        return Called(outputs, value[n] if target.cache else None, outcome)
    return Called({target.outputs[0]: value}, None, outcome)


def unpack_gradients(function: str, returned: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The gradients a backward returned, by input name: a single array for one input, else a
    tuple in the order of the inputs (a dict input gets a dict of gradients)."""
    names = list(inputs)
    if len(names) == 1:
        return {names[0]: returned}
    wanted = ", ".join(f"d{n}" for n in names)
    if not isinstance(returned, (tuple, list)) or len(returned) != len(names):
        got = f"a tuple of {len(returned)}" if isinstance(returned, (tuple, list)) else f"a {type(returned).__name__}"
        raise PropertyFailure(f"{function} should return a tuple ({wanted}); got {got}")
    return dict(zip(names, returned))


def require_like(name: str, actual: Any, like: Any, dtype: Any = None) -> None:
    """`actual` has the structure and exact shapes of `like` (an array, or a dict of arrays)."""
    if isinstance(like, dict):
        if not isinstance(actual, dict):
            raise PropertyFailure(f"{name} should be a dict with the keys {sorted(like)}, got a {type(actual).__name__}")
        missing, extra = sorted(set(like) - set(actual)), sorted(set(actual) - set(like))
        if missing or extra:
            raise PropertyFailure(f"{name} should have exactly the keys {sorted(like)}"
                                  + (f"; missing {missing}" if missing else "") + (f"; unexpected {extra}" if extra else ""))
        for key in like:
            require_like(f"{name}[{key!r}]", actual[key], like[key], dtype)
    else:
        require_array(name, actual, np.shape(like), dtype)


def gradient_names(grads: dict[str, Any]) -> dict[str, Any]:
    """`{"x": gx}` as the student knows it: `{"dx": gx}`, with dict leaves flattened."""
    named = {}
    for name, g in grads.items():
        named.update(flatten(g, f"d{name}"))
    return named


def mistake_hints(mistakes: Sequence[Mistake], quantity: str, case: Case, right: Any, actual: Any,
                  dout: Any = None, tol: Tolerance = FLOAT64) -> list[str]:
    """The hints of the known mistakes whose result the student's value matches."""
    hints = []
    for m in mistakes:
        if m.quantity != quantity:
            continue
        try:
            wrong = m.expected(case, right, dout)
        except Exception:  # noqa: BLE001 - a mistake model that does not apply to this case
            continue
        if values_close(actual, wrong, tol):
            hints.append(m.hint)
    return hints


def inputs_unchanged(function: str, case: Case, outcome: CallOutcome, sent: list, mutable: Sequence[str] = ()) -> None:
    """Every argument that the contract does not let `function` update is as it was sent."""
    names = list(case.args)
    for name, before, after in zip(names, sent, outcome.args_after):
        if name in mutable:
            continue
        paths_before, paths_after = flatten(before, name), flatten(after, name)
        if paths_before.keys() != paths_after.keys():
            changed = sorted(set(paths_before) ^ set(paths_after))
            raise PropertyFailure(f"{function} added or removed entries of its argument {name}: {', '.join(changed)}",
                                  hints=["Work on a copy (x.copy()) or build a new array: callers reuse their arrays."])
        for path, b in paths_before.items():
            a = paths_after.get(path)
            if isinstance(b, np.ndarray) and not (isinstance(a, np.ndarray) and a.shape == b.shape
                                                   and np.array_equal(a, b, equal_nan=True)):
                raise PropertyFailure(f"{function} modified its argument {path} in place",
                                      hints=["Work on a copy (x.copy()) or build a new array: callers reuse their arrays."])


# ---------------------------------------------------------------------------------------------
# Finite differences on the student's own function: a diagnosis, never a verdict


def _perturbed(case: Case, name: str, key: str | None, delta: np.ndarray) -> Case:
    value = case.args[name]
    if key is None:
        return case.with_args(**{name: value + delta})
    return case.with_args(**{name: {**value, key: value[key] + delta}})


def diagnose_with_finite_differences(own: Callable[[Case], dict[str, Any]], case: Case, upstreams: dict[str, Any],
                                     grads: dict[str, Any], wrong: Sequence[str], forward_right: bool,
                                     forward: str, backward: str) -> str | None:
    """Tell "the backward disagrees with your own forward" from "your forward is wrong".

    own(case) runs the student's forward (or loss) and returns its outputs by name; `forward`
    and `backward` name the two parts in the message ("relu_forward", or "the loss value").
    For each wrong gradient, a central difference of <upstream, own(x + h·v)> along a random
    direction v is set against <gradient, v>.
    """
    rng = case.rng(7)
    inconsistent = []
    try:
        for name, g in grads.items():
            for key, leaf in (g.items() if isinstance(g, dict) else [(None, g)]):
                label = f"d{name}" if key is None else f"d{name}[{key!r}]"
                if label not in wrong:
                    continue
                x = case.args[name] if key is None else case.args[name][key]
                v = direction(rng, np.shape(x))
                h = FD_STEP * max(1.0, float(np.max(np.abs(x), initial=0.0)))
                plus, minus = own(_perturbed(case, name, key, h * v)), own(_perturbed(case, name, key, -h * v))
                numeric = sum(float(np.sum(upstreams[o] * (np.asarray(plus[o]) - np.asarray(minus[o])))) for o in upstreams) / (2 * h)
                analytic = float(np.sum(np.asarray(leaf, dtype=np.float64) * v))
                if abs(numeric - analytic) > 1e-4 * max(abs(numeric), abs(analytic)) + 1e-7:
                    inconsistent.append(label)
    except PropertyFailure:
        return None  # the student's forward does not run on a nearby input: no diagnosis
    names = ", ".join(inconsistent or wrong)
    if inconsistent:
        text = (f"{names} {'disagrees' if len(inconsistent) == 1 else 'disagree'} with finite differences of your own "
                f"{forward} too: the bug is in {backward}")
        return text + (f" (and {forward} is wrong as well)." if not forward_right else ".")
    if not forward_right:
        return (f"{names} {'agrees' if len(wrong) == 1 else 'agree'} with finite differences of your own {forward}, "
                f"which is itself wrong on this input: fix your {forward} first.")
    return None


# ---------------------------------------------------------------------------------------------
# Property builders


def _prop(name: str, description: str, check, cases=None, weight: float = 1.0, essential: bool = True) -> Property:
    return Property(name=name, description=description, check=check, cases=cases, weight=weight, essential=essential)


def output_properties(target: Target, reference: Callable, cases: st.SearchStrategy,
                      mistakes: Sequence[Mistake] = (), edges: Sequence[Case] = ()) -> list[Property]:
    """Properties of a function or a layer forward: runs, shapes, values, hygiene, float32;
    `edges` are explicit cases (exact kinks) checked against the reference on their own."""

    def expected(case: Case) -> dict[str, Any]:
        out = evaluate(reference, case.args).output
        return dict(zip(target.outputs, out if len(target.outputs) > 1 else (out,)))

    def run(ctx: Context, case: Case) -> Called:
        called = call_target(ctx, target, case)
        if called.cache is not None:
            ctx.forget(called.cache)
        return called

    def runs(ctx, case):
        run(ctx, case)

    def shapes(ctx, case):
        outs, want = run(ctx, case).outputs, expected(case)
        for name in target.outputs:
            require_like(name, outs[name], want[name], np.float64)

    def values(ctx, case):
        outs, want = run(ctx, case).outputs, expected(case)
        for name in target.outputs:
            require_like(name, outs[name], want[name])
        try:
            assert_matches("output", outs, want)
        except PropertyFailure as failure:
            actual = outs if len(outs) > 1 else outs[target.outputs[0]]
            right = want if len(want) > 1 else want[target.outputs[0]]
            failure.hints += mistake_hints(mistakes, "output", case, right, actual)
            raise

    def unchanged(ctx, case):
        called = run(ctx, case)
        inputs_unchanged(target.function, case, called.outcome, list(case.args.values()), target.mutable)

    def float32(ctx, case):
        case32 = as_float32(case)
        outs, want = run(ctx, case32).outputs, expected(case32)
        for name in target.outputs:
            require_like(name, outs[name], want[name], np.float32)
        assert_matches("output", outs, want, FLOAT32, what="the reference (float32 tolerance)")

    f = target.function
    return [
        _prop("runs_on_valid_inputs", f"{f} runs on every valid input and returns the contract's structure", runs, cases),
        _prop("output_shape_and_dtype", f"{f}'s outputs have exactly the reference's shapes, in float64", shapes, cases),
        _prop("matches_reference", f"{f}'s outputs match the torch reference in float64", values, cases, CORRECTNESS_WEIGHT),
        *([_prop("matches_reference_at_edges", f"{f} matches the reference at the edge cases the contract fixes",
                 values, examples(*edges))] if edges else []),
        _prop("inputs_unchanged", f"{f} leaves its inputs unchanged", unchanged, cases, HYGIENE_WEIGHT, essential=False),
        _prop("preserves_float32", f"{f} gives float32 outputs for float32 inputs", float32, cases, FLOAT32_WEIGHT, essential=False),
    ]


def backward_properties(forward: Target, backward: str, reference: Callable, cases: st.SearchStrategy,
                        differentiable: Sequence[str], mistakes: Sequence[Mistake] = (),
                        edges: Sequence[Case] = ()) -> list[Property]:
    """Properties of a layer backward, fed by the student's own forward's cache; `edges` are
    explicit cases (the derivative at an exact kink) checked on their own."""
    differentiable = tuple(differentiable)

    def forward_for(ctx: Context, case: Case) -> Called:
        try:
            return call_target(ctx, forward, case)
        except PropertyFailure as failure:
            failure.summary = f"could not get a cache from {forward.function}: {failure.summary}"
            failure.args = (failure.summary,)
            raise

    def grads_of(ctx: Context, case: Case, upstreams: dict[str, Any], cache: Handle) -> tuple[dict[str, Any], CallOutcome]:
        outcome = ctx.call(backward, *upstreams.values(), cache)
        inputs = {n: case.args[n] for n in differentiable}
        return unpack_gradients(backward, outcome.value, inputs), outcome

    def upstream_for(case: Case, outputs: dict[str, Any]) -> dict[str, Any]:
        rng = case.rng(1)
        return {name: upstream(rng, np.shape(out)) for name, out in outputs.items()}

    def reference_grads(case: Case, upstreams: dict[str, Any]) -> dict[str, Any]:
        ev = evaluate(reference, case.args, differentiable)
        return ev.vjp(tuple(upstreams.values()) if len(upstreams) > 1 else next(iter(upstreams.values())))

    def forward_and_backward(ctx, case, dtype=None):
        called = forward_for(ctx, case)
        ups = upstream_for(case, called.outputs)
        if dtype is not None:
            ups = {k: v.astype(dtype) for k, v in ups.items()}
        grads, outcome = grads_of(ctx, case, ups, called.cache)
        ctx.forget(called.cache)
        return called, ups, grads, outcome

    def check_shapes(case, grads, dtype=None):
        for name in differentiable:
            require_like(f"d{name}", grads[name], case.args[name], dtype)

    def runs(ctx, case):
        forward_and_backward(ctx, case)

    def shapes(ctx, case):
        _, _, grads, _ = forward_and_backward(ctx, case)
        check_shapes(case, grads, np.float64)

    def vjp(ctx, case):
        called, ups, grads, _ = forward_and_backward(ctx, case)
        check_shapes(case, grads)
        assert_vjp(ctx, case, called, ups, grads)

    def assert_vjp(ctx, case, called, ups, grads):
        right = reference_grads(case, ups)
        try:
            assert_matches("gradients", gradient_names(grads), gradient_names(right))
        except PropertyFailure as failure:
            dout = next(iter(ups.values())) if len(ups) == 1 else ups
            failure.hints += mistake_hints(mistakes, "gradients", case, right, grads, dout)
            ev_out = evaluate(reference, case.args).output
            want = dict(zip(forward.outputs, ev_out if len(forward.outputs) > 1 else (ev_out,)))
            forward_right = values_close(called.outputs, want)
            wrong = [n for n, g in gradient_names(grads).items() if not values_close(g, gradient_names(right)[n])]
            failure.diagnosis = diagnose_with_finite_differences(
                lambda c: _own_outputs(ctx, forward, c), case, ups, grads, wrong, forward_right, forward.function, backward)
            raise

    def unchanged(ctx, case):
        called = forward_for(ctx, case)
        ups = upstream_for(case, called.outputs)
        outcome = ctx.call(backward, *ups.values(), called.cache)
        ctx.forget(called.cache)
        for name, (sent, after) in zip(ups, zip(ups.values(), outcome.args_after)):
            if not (isinstance(after, np.ndarray) and np.array_equal(sent, after)):
                raise PropertyFailure(f"{backward} modified the upstream gradient d{name} in place",
                                      hints=["Build dx as a new array (dout * mask, or dout.copy() before editing it)."])

    def fresh(ctx, case):
        _, _, _, outcome = forward_and_backward(ctx, case)
        if outcome.aliases:
            raise PropertyFailure(f"{backward} returned arrays that share memory with others: {'; '.join(outcome.aliases)}",
                                  hints=["Return new arrays: a view of dout or of a cached input changes when they do."])

    def independent(ctx, pair):
        first, second = pair.args["first"], pair.args["second"]
        a, b = forward_for(ctx, first), forward_for(ctx, second)
        ups_a, ups_b = upstream_for(first, a.outputs), upstream_for(second, b.outputs)
        for label, case, called, ups in (("second", second, b, ups_b), ("first", first, a, ups_a),
                                         ("first, again", first, a, ups_a)):
            grads, _ = grads_of(ctx, case, ups, called.cache)
            try:
                check_shapes(case, grads)
                assert_matches("gradients", gradient_names(grads), gradient_names(reference_grads(case, ups)))
            except PropertyFailure as failure:
                failure.summary = (f"after two forwards, the backward of the {label} cache is wrong: {failure.summary}")
                failure.hints.append("Keep everything the backward needs in the cache it returns, not in globals, "
                                     "and do not modify the cache in the backward.")
                raise
        ctx.forget(a.cache)
        ctx.forget(b.cache)

    def float32(ctx, case):
        case32 = as_float32(case)
        _, ups, grads, _ = forward_and_backward(ctx, case32, np.float32)
        check_shapes(case32, grads, np.float32)
        assert_matches("gradients", gradient_names(grads), gradient_names(reference_grads(case32, ups)), FLOAT32,
                       what="the reference (float32 tolerance)")

    pairs = st.builds(lambda a, b: Case(args={"first": a, "second": b}, seed=a.seed), cases, cases)
    b, f = backward, forward.function
    return [
        _prop("runs_on_valid_inputs", f"{b} runs on the cache of {f} for every valid input", runs, cases),
        _prop("gradient_shapes", f"each gradient of {b} has exactly its input's shape, in float64", shapes, cases),
        _prop("vjp_matches_reference", f"{b} matches the reference's vector-Jacobian product for a random upstream gradient",
              vjp, cases, CORRECTNESS_WEIGHT),
        *([_prop("vjp_at_edges", f"{b} gives the contract's derivative at the edge cases it fixes (an exact kink)",
                 vjp, examples(*edges))] if edges else []),
        _prop("caches_are_independent", "two forwards then their backwards (one twice) each give the right gradients",
              independent, pairs),
        _prop("inputs_unchanged", f"{b} leaves the upstream gradient unchanged", unchanged, cases, HYGIENE_WEIGHT, essential=False),
        _prop("gradients_are_fresh_arrays", f"{b}'s gradients are new arrays, not views of its inputs or of each other",
              fresh, cases, HYGIENE_WEIGHT, essential=False),
        _prop("preserves_float32", f"{b} gives float32 gradients for float32 inputs", float32, cases, FLOAT32_WEIGHT, essential=False),
    ]


def _own_outputs(ctx: Context, target: Target, case: Case) -> dict[str, Any]:
    called = call_target(ctx, target, case)
    if called.cache is not None:
        ctx.forget(called.cache)
    return called.outputs


def loss_properties(name: str, reference: Callable, cases: st.SearchStrategy, differentiable: Sequence[str],
                    mistakes: Sequence[Mistake] = (), edges: Sequence[Case] = ()) -> list[Property]:
    """Properties of `NAME(...) -> (loss, grads)`: the gradient is of the loss itself; `edges`
    are explicit cases at a kink (L1 where pred == target) whose gradient the contract fixes."""
    differentiable = tuple(differentiable)
    target = Target(name, outputs=("loss", "grads"))

    def run(ctx, case) -> tuple[float, dict[str, Any], CallOutcome]:
        called = call_target(ctx, target, case)
        loss_value = require_scalar("loss", called.outputs["loss"])
        grads = unpack_gradients(name, called.outputs["grads"], {n: case.args[n] for n in differentiable})
        return loss_value, grads, called.outcome

    def right(case) -> tuple[float, dict[str, Any]]:
        ev = evaluate(reference, case.args, differentiable)
        return float(ev.output), ev.vjp(np.array(1.0))

    def runs(ctx, case):
        call_target(ctx, target, case)

    def shapes(ctx, case):
        _, grads, _ = run(ctx, case)
        for n in differentiable:
            require_like(f"d{n}", grads[n], case.args[n], np.float64)

    def loss_value(ctx, case):
        value, _, _ = run(ctx, case)
        want, _ = right(case)
        try:
            assert_matches("loss", {"loss": np.array(value)}, {"loss": np.array(want)})
        except PropertyFailure as failure:
            failure.hints += mistake_hints(mistakes, "loss", case, want, value)
            raise

    def gradient(ctx, case):
        _, grads, _ = run(ctx, case)
        for n in differentiable:
            require_like(f"d{n}", grads[n], case.args[n])
        want_loss, want = right(case)
        try:
            assert_matches("gradients", gradient_names(grads), gradient_names(want))
        except PropertyFailure as failure:
            failure.hints += mistake_hints(mistakes, "gradients", case, want, grads)
            own_loss = require_scalar("loss", call_target(ctx, target, case).outputs["loss"])
            wrong = [n for n, g in gradient_names(grads).items() if not values_close(g, gradient_names(want)[n])]
            failure.diagnosis = diagnose_with_finite_differences(
                lambda c: {"loss": require_scalar("loss", call_target(ctx, target, c).outputs["loss"])},
                case, {"loss": 1.0}, grads, wrong, values_close(np.array(own_loss), np.array(want_loss)),
                "loss", "the gradient")
            raise

    def unchanged(ctx, case):
        _, _, outcome = run(ctx, case)
        inputs_unchanged(name, case, outcome, list(case.args.values()))

    def fresh(ctx, case):
        _, _, outcome = run(ctx, case)
        if outcome.aliases:
            raise PropertyFailure(f"{name} returned arrays that share memory with others: {'; '.join(outcome.aliases)}",
                                  hints=["Return new arrays for the gradients."])

    def float32(ctx, case):
        case32 = as_float32(case)
        value, grads, _ = run(ctx, case32)
        for n in differentiable:
            require_like(f"d{n}", grads[n], case32.args[n], np.float32)
        want_loss, want = right(case32)
        assert_matches("loss", {"loss": np.array(value)}, {"loss": np.array(want_loss)}, FLOAT32, "the reference (float32 tolerance)")
        assert_matches("gradients", gradient_names(grads), gradient_names(want), FLOAT32, "the reference (float32 tolerance)")

    return [
        _prop("runs_on_valid_inputs", f"{name} runs on every valid input and returns (loss, gradients)", runs, cases),
        _prop("output_shapes", "the loss is a scalar and each gradient has exactly its input's shape, in float64", shapes, cases),
        _prop("loss_matches_reference", f"{name}'s loss matches the torch reference", loss_value, cases, CORRECTNESS_WEIGHT / 2),
        _prop("gradient_matches_reference", f"{name}'s gradients match autograd of the reference loss", gradient, cases, CORRECTNESS_WEIGHT / 2),
        *([_prop("gradient_at_edges", f"{name}'s gradient is the contract's at the edge cases it fixes (an exact kink)",
                 gradient, examples(*edges))] if edges else []),
        _prop("inputs_unchanged", f"{name} leaves its inputs unchanged", unchanged, cases, HYGIENE_WEIGHT, essential=False),
        _prop("gradients_are_fresh_arrays", f"{name}'s gradients are new arrays", fresh, cases, HYGIENE_WEIGHT, essential=False),
        _prop("preserves_float32", f"{name} gives float32 gradients for float32 inputs", float32, cases, FLOAT32_WEIGHT, essential=False),
    ]


# ---------------------------------------------------------------------------------------------
# The three declarations


def layer(assignment: str, module: str, forward: str, backward: str, reference: Callable, cases: st.SearchStrategy,
          differentiable: Sequence[str], outputs: Sequence[str] = ("out",), mutable: Sequence[str] = (),
          forward_mistakes: Sequence[Mistake] = (), backward_mistakes: Sequence[Mistake] = (),
          forward_extra: Sequence[Property] = (), backward_extra: Sequence[Property] = (),
          edges: Sequence[Case] = (), summary: str = "") -> list[Exercise]:
    """A forward/backward pair: two exercises sharing one reference and one input strategy.
    edges: explicit cases at exact kinks, checked by both."""
    target = Target(forward, tuple(outputs), cache=True, mutable=tuple(mutable))
    return [
        Exercise(forward, assignment, module, f"{summary}: forward",
                 output_properties(target, reference, cases, forward_mistakes, edges) + list(forward_extra), cases),
        Exercise(backward, assignment, module, f"{summary}: backward",
                 backward_properties(target, backward, reference, cases, differentiable, backward_mistakes, edges)
                 + list(backward_extra), cases, needs=(forward,)),
    ]


def loss(assignment: str, module: str, name: str, reference: Callable, cases: st.SearchStrategy,
         differentiable: Sequence[str] = ("x",), mistakes: Sequence[Mistake] = (), extra: Sequence[Property] = (),
         edges: Sequence[Case] = (), summary: str = "") -> list[Exercise]:
    """A function returning (loss, gradients); edges: explicit cases at a kink."""
    return [Exercise(name, assignment, module, summary,
                     loss_properties(name, reference, cases, differentiable, mistakes, edges) + list(extra), cases)]


def function(assignment: str, module: str, name: str, reference: Callable, cases: st.SearchStrategy,
             mistakes: Sequence[Mistake] = (), extra: Sequence[Property] = (), summary: str = "") -> list[Exercise]:
    """A function returning one array, checked against its reference."""
    return [Exercise(name, assignment, module, summary,
                     output_properties(Target(name), reference, cases, mistakes) + list(extra), cases)]


UNSTABLE_EXP = ("Never evaluate exp of a large positive number: rewrite with exp(-|x|), or subtract the row "
                "maximum before exp (and take logs of sums, not of probabilities that underflow to 0).")


def stable_at_large_inputs(name: str, reference: Callable, big: Case, outputs: Sequence[str] = ("out",),
                           cache: bool = True, hint: str = UNSTABLE_EXP) -> Property:
    """No overflow (or log of 0) and the reference's values at inputs far beyond exp's range."""
    target = Target(name, tuple(outputs), cache=cache)

    def check(ctx, case):
        called = call_target(ctx, target, case)
        if called.cache is not None:
            ctx.forget(called.cache)
        unstable = [w for w in called.outcome.warnings if any(k in w for k in ("overflow", "invalid", "divide by zero"))]
        if unstable:
            raise PropertyFailure(f"{name} is not numerically stable at large inputs: {unstable[0]}", hints=[hint])
        want = evaluate(reference, case.args).output
        got = called.outputs[outputs[0]]
        if outputs[0] == "loss":
            got = np.array(require_scalar("loss", got))
        require_like(outputs[0], got, want)
        assert_matches("output", {outputs[0]: got}, {outputs[0]: want})

    largest = max(float(np.max(np.abs(v))) for v in big.args.values() if np.issubdtype(v.dtype, np.floating))
    return Property("stable_at_large_inputs", f"{name} is finite, right and warning-free at inputs up to {largest:g}",
                    check, cases=examples(big))


def examples(*cases: Case) -> st.SearchStrategy[Case]:
    """Explicit cases (an edge that is meant to be tested, like ReLU at exactly 0)."""
    return st.sampled_from(list(cases))
