"""The generic properties, written once, and the three shapes of declaration that use them.

- `layer(...)`: a forward `NAME_forward(...) -> (out, cache)` and its backward
  `NAME_backward(dout, cache) -> grads` become two exercises;
- `loss(...)`: `NAME(...) -> (loss, grads)`;
- `function(...)`: `NAME(...) -> out`, no gradient.

Every declaration gets, for free: it runs on every drawn input; exact output shapes and dtypes;
values against the torch reference in float64; the backward against the reference's
vector-Jacobian product for a random upstream gradient, with finite differences of the student's
own forward as a diagnosis; input hygiene (arguments unchanged, gradients that are fresh arrays,
independent caches); float32 kept as float32 (advice, unless the manifest gives it weight). The
hygiene properties are written once, over a `Run`, in `checkers/hygiene.py`; every call takes its
arguments in the order of the contract's parameters (`checkers/contract.py`), whatever the order
of a case's dict.

A declaration may add `Variant`s: the same comparison with the reference on cases of their own
(an edge the contract fixes, a convention beyond CS231n's as a minor property, stability at
inputs of very different scales, configurations kept out of the main properties). Other
exercise-specific properties are written with the helpers at the end of this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from dlgrade.checkers.contract import contract_parameters, in_call_order
from dlgrade.checkers.compare import (FLOAT32, FLOAT64, Tolerance, assert_matches, count_text, flatten, require_array,
                              require_scalar, values_close)
from dlgrade.checkers.exercise import BACKWARD_NOT_CHECKED, Case, Context, Exercise, Mistake, Property, PropertyFailure
from dlgrade.checkers.hygiene import Run, Unchanged, assert_no_trouble, float32_property, fresh_property, unchanged_property
# Where these lived before hygiene.py: kept importable from here.
from dlgrade.checkers.hygiene import (FLOAT32_WEIGHT, FLOATING_POINT_TROUBLE, HYGIENE_WEIGHT,  # noqa: F401
                                      floating_point_trouble, on_float32)
from dlgrade.checkers.oracle import Evaluation, evaluate
from dlgrade.checkers.strategies import direction, upstream
from dlgrade.grader.boundary.submission import CallOutcome, Handle

#: Weights of the generic properties within an exercise's points.
CORRECTNESS_WEIGHT = 4.0
#: A convention the contract picks beyond CS231n's (the derivative at an exact kink, stability at
#: logit gaps beyond exp's range, strides that do not divide the input) costs only this share.
CONVENTION_WEIGHT = 1.0
#: Central finite-difference step relative to the input's scale: about eps**(1/3) for float64.
FD_STEP = 6e-6

#: How a modified argument of a call is told, and of a backward's upstream gradient (`dout`, ...).
ARGUMENTS = Unchanged("{function} modified its argument {path} in place{where}",
                      "Work on a copy (x.copy()) or build a new array: callers reuse their arrays.")
UPSTREAM = Unchanged("{function} modified the upstream gradient {path} in place{where}",
                     "Build dx as a new array (dout * mask, or dout.copy() before editing it).")

INDEPENDENT_CACHES = ("Keep everything the backward needs in the cache it returns, not in globals, "
                      "and do not modify the cache in the backward.")


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
    """What one call of a target gave back: its outputs by name, its cache handle, and the case
    as it was sent (its arguments in call order)."""

    outputs: dict[str, Any]
    cache: Handle | None
    outcome: CallOutcome
    sent: Case | None = None


def call_target(ctx: Context, target: Target, case: Case) -> Called:
    """Call `target` with the case's arguments, in the order of its parameters in the contract,
    and check the structure of what comes back."""
    (function, args, _, keep, _), sent = target_call(ctx, target, case)
    return called_from(target, sent, ctx.call(function, *args, keep=keep))


def call_targets(ctx: Context, target: Target, cases: Sequence[Case]) -> list[Called]:
    """`call_target` on each case, the calls made in one message to the worker (see
    `Context.call_together`); the first call that failed, in order, is the failure."""
    made = [target_call(ctx, target, case) for case in cases]
    outcomes = ctx.call_together([call for call, _ in made])
    return [called_from(target, sent, ctx.raise_for(target.function, outcome))
            for (_, sent), outcome in zip(made, outcomes)]


def target_call(ctx: Context, target: Target, case: Case) -> tuple[tuple, Case]:
    """The call (function, args, kwargs, keep, via) of `target` on the case, and the case in
    call order (as it is sent)."""
    keep = (len(target.outputs),) if target.cache else ()
    case = in_call_order(ctx.exercise.assignment, target.function, case)
    return (target.function, tuple(case.args.values()), {}, keep, None), case


def called_from(target: Target, case: Case, outcome: CallOutcome) -> Called:
    """What a call of `target` on `case` gave back, its structure checked."""
    n = len(target.outputs)
    value = outcome.value
    if target.cache or n > 1:
        expected_len = n + int(target.cache)
        names = ", ".join(target.outputs + (("cache",) if target.cache else ()))
        if not isinstance(value, tuple) or len(value) != expected_len:
            got = f"a tuple of {count_text(len(value))}" if isinstance(value, tuple) else f"a {type(value).__name__}"
            raise PropertyFailure(f"{target.function} should return a tuple ({names}); got {got}")
        outputs = dict(zip(target.outputs, value[:n]))
        return Called(outputs, value[n] if target.cache else None, outcome, case)
    return Called({target.outputs[0]: value}, None, outcome, case)


def unpack_gradients(function: str, returned: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The gradients a backward returned, by input name: a single array for one input, else a
    tuple in the order of the inputs (a dict input gets a dict of gradients)."""
    names = list(inputs)
    if len(names) == 1:
        return {names[0]: returned}
    wanted = ", ".join(f"d{n}" for n in names)
    if not isinstance(returned, (tuple, list)) or len(returned) != len(names):
        got = f"a tuple of {count_text(len(returned))}" if isinstance(returned, (tuple, list)) else f"a {type(returned).__name__}"
        raise PropertyFailure(f"{function} should return a tuple ({wanted}); got {got}")
    return dict(zip(names, returned))


def require_like(name: str, actual: Any, like: Any, dtype: Any = None, reduced_from: tuple[int, ...] | None = None,
                 axes: tuple[int, ...] | None = None) -> None:
    """`actual` has the structure and exact shapes of `like` (an array, or a dict of arrays).
    reduced_from, axes: the upstream gradient's shape and the axes a gradient of this shape sums
    it over, for a hint on a gradient summed over too many axes (see `require_array`).
    Keys the submission made up are told in the details only (they are its text)."""
    if isinstance(like, dict):
        if not isinstance(actual, dict):
            raise PropertyFailure(f"{name} should be a dict with the keys {sorted(like)}, got a {type(actual).__name__}")
        missing, extra = sorted(set(like) - set(actual)), sorted(set(actual) - set(like))
        if missing or extra:
            raise PropertyFailure(f"{name} should have exactly the keys {sorted(like)}"
                                  + (f"; missing {missing}" if missing else "")
                                  + (f"; {count_text(len(extra))} unexpected key{'s' * (len(extra) > 1)}" if extra else ""),
                                  details=[f"unexpected keys: {extra}"] if extra else [])
        for key in like:
            require_like(f"{name}[{key!r}]", actual[key], like[key], dtype)
    else:
        require_array(name, actual, np.shape(like), dtype, reduced_from, axes)


def gradient_names(grads: dict[str, Any]) -> dict[str, Any]:
    """`{"x": gx}` as the student knows it: `{"dx": gx}`, with dict leaves flattened."""
    named = {}
    for name, g in grads.items():
        named.update(flatten(g, f"d{name}"))
    return named


def best_effort(compute: Callable[[], Any], default: Any = None) -> Any:
    """What `compute()` gives, or `default` where it raises: hints and diagnoses explain a failure
    and must never replace it (a model or a diagnosis may not apply to odd student values)."""
    try:
        return compute()
    except Exception:  # noqa: BLE001 - an explanation that does not apply is left out
        return default


def mistake_hints(mistakes: Sequence[Mistake], quantity: str, case: Case, right: Any, actual: Any,
                  dout: Any = None, tol: Tolerance = FLOAT64) -> list[str]:
    """The hints of the known mistakes whose result the student's value matches."""
    hints = []
    with np.errstate(all="ignore"):  # a model of a mistake may overflow where the mistake does
        for m in mistakes:
            if m.quantity == quantity and best_effort(lambda: values_close(actual, m.expected(case, right, dout), tol),
                                                      False):
                hints.append(m.hint)
    return hints


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
    direction v is set against <gradient, v>. No diagnosis where it cannot be made.
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
    except Exception:  # noqa: BLE001 - the student's forward does not run (or gives odd values) nearby
        return None
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
# Variants: the main comparison on cases of their own


@dataclass(frozen=True)
class Variant:
    """The exercise's comparison with the reference (values; vector-Jacobian product; loss and
    gradient) on cases of its own, as a property of its own.

    description may name `{function}`; where: for a layer, "forward", "backward" or "both";
    essential and weight as for any property (a convention is minor); hint: shown with every
    failure (a convention names itself); context(case): said before the failure (what is special
    about the case, in words that are safe for hidden examples); warnings_free: the call must
    also report no overflow, invalid value or division by zero; diagnose: finite differences
    where a gradient is wrong (meaningless at an exact kink)."""

    name: str
    description: str
    cases: st.SearchStrategy
    where: str = "both"
    essential: bool = True
    weight: float = 1.0
    hint: str = ""
    context: Callable[[Case], str] | None = None
    warnings_free: bool = False
    diagnose: bool = True
    max_examples: int | None = None

    def property(self, function: str, check: Callable[[Context, Case, "Variant"], Any]) -> Property:
        def run(ctx, case):
            try:
                check(ctx, case, self)
            except PropertyFailure as failure:
                if self.context is not None:
                    failure.summary = f"{best_effort(lambda: self.context(case), '')}{failure.summary}"
                if self.hint:
                    failure.hints.append(self.hint)
                raise
        return Property(self.name, self.description.format(function=function), run, self.cases, self.weight,
                        self.essential, max_examples=self.max_examples)


def convention(name: str, description: str, cases: st.SearchStrategy, hint: str, where: str = "backward",
               context: Callable[[Case], str] | None = None) -> Variant:
    """A value at a kink or an edge that is the contract's convention rather than a bug (ReLU's
    derivative at exactly 0): a minor property of its own, whose failure names the convention."""
    return Variant(name, description, cases, where, essential=False, weight=CONVENTION_WEIGHT, hint=hint,
                   context=context, diagnose=False)


# ---------------------------------------------------------------------------------------------
# Property builders


def _prop(name: str, description: str, check, cases=None, weight: float = 1.0, essential: bool = True) -> Property:
    return Property(name=name, description=description, check=check, cases=cases, weight=weight, essential=essential)


def _as_outputs(target: Target, out: Any) -> dict[str, Any]:
    return dict(zip(target.outputs, out if len(target.outputs) > 1 else (out,)))


def output_properties(target: Target, reference: Callable, cases: st.SearchStrategy,
                      mistakes: Sequence[Mistake] = (), variants: Sequence[Variant] = ()) -> list[Property]:
    """Properties of a function or a layer forward: runs, shapes, values, hygiene, float32, and
    the variants (`where` "forward" or "both")."""

    def expected(case: Case) -> dict[str, Any]:
        return _as_outputs(target, evaluate(reference, case.args).output)

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

    def values(ctx, case) -> Called:
        called = run(ctx, case)
        outs, want = called.outputs, expected(case)
        for name in target.outputs:
            require_like(name, outs[name], want[name])
        try:
            assert_matches("output", outs, want)
        except PropertyFailure as failure:
            actual = outs if len(outs) > 1 else outs[target.outputs[0]]
            right = want if len(want) > 1 else want[target.outputs[0]]
            failure.hints += mistake_hints(mistakes, "output", case, right, actual)
            raise
        return called

    def variant(ctx, case, v: Variant):
        called = values(ctx, case)
        if v.warnings_free:
            assert_no_trouble(Run.single(target.function, called.outcome, {}))

    def one_call(ctx, case) -> Run:
        called = run(ctx, case)
        return Run.single(target.function, called.outcome, called.sent, target.mutable)

    def float32(ctx, case32):
        outs, want = run(ctx, case32).outputs, expected(case32)
        for name in target.outputs:
            require_like(name, outs[name], want[name], np.float32)
        assert_matches("output", outs, want, FLOAT32, what="the reference (float32 tolerance)")

    f = target.function
    return [
        _prop("runs_on_valid_inputs", f"{f} runs on every valid input and returns the contract's structure", runs, cases),
        _prop("output_shape_and_dtype", f"{f}'s outputs have exactly the reference's shapes, in float64", shapes, cases),
        _prop("matches_reference", f"{f}'s outputs match the torch reference in float64", values, cases, CORRECTNESS_WEIGHT),
        *[v.property(f, variant) for v in variants if v.where in ("forward", "both")],
        unchanged_property(one_call, f"{f} leaves its inputs unchanged", cases, said=ARGUMENTS),
        float32_property(float32, f"{f} gives float32 outputs for float32 inputs (advice unless the manifest weighs it)",
                         cases),
    ]


def forward_for_backward(ctx: Context, forward: Target, reference: Callable, case: Case,
                         differentiable: Sequence[str] = ()) -> tuple[Called, Evaluation]:
    """The student's forward on `case`, for a backward to be checked on its cache, and the
    reference's evaluation of the case. The forward's outputs must have the reference's
    structure and shapes: otherwise the backward cannot be judged (the upstream gradient has the
    reference's shapes) and the failure blames the forward."""
    return _checked_forwards(ctx, forward, reference, [case], differentiable,
                             lambda: [call_target(ctx, forward, case)])[0]


def forwards_for_backward(ctx: Context, forward: Target, reference: Callable, cases: Sequence[Case],
                          differentiable: Sequence[str] = ()) -> list[tuple[Called, Evaluation]]:
    """`forward_for_backward` on several cases, the forwards made in one message to the worker."""
    return _checked_forwards(ctx, forward, reference, cases, differentiable, lambda: call_targets(ctx, forward, cases))


def _checked_forwards(ctx: Context, forward: Target, reference: Callable, cases: Sequence[Case],
                      differentiable: Sequence[str], make: Callable[[], list[Called]],
                      evaluated: Sequence[Evaluation] | None = None) -> list[tuple[Called, Evaluation]]:
    """The forwards `make()` made on `cases`, each checked against the reference's outputs
    (evaluated: the reference's evaluations of the cases, where they are at hand)."""
    try:
        made = make()
    except PropertyFailure as failure:
        failure.summary = f"could not get a cache from {forward.function}: {failure.summary}"
        failure.args = (failure.summary,)
        raise
    checked = []
    for i, (called, case) in enumerate(zip(made, cases)):
        ev = evaluated[i] if evaluated is not None else evaluate(reference, case.args, differentiable)
        want = _as_outputs(forward, ev.output)
        for name in forward.outputs:
            try:
                require_like(name, called.outputs[name], want[name])
            except PropertyFailure as failure:
                if called.cache is not None:
                    ctx.forget(called.cache)
                raise PropertyFailure(f"{BACKWARD_NOT_CHECKED}: your {forward.function}'s {failure.summary}",
                                      details=failure.details,
                                      hints=[f"Fix {forward.function} first (see its own checks): the backward is "
                                             f"checked on the cache of a forward whose outputs have the contract's "
                                             f"shapes."])
        checked.append((called, ev))
    return checked


def backward_properties(forward: Target, backward: str, reference: Callable, cases: st.SearchStrategy,
                        differentiable: Sequence[str], mistakes: Sequence[Mistake] = (),
                        variants: Sequence[Variant] = (), sum_axes: dict[str, tuple[int, ...]] | None = None
                        ) -> list[Property]:
    """Properties of a layer backward, fed by the student's own forward's cache, and the variants
    (`where` "backward" or "both"). sum_axes: for a gradient that sums the upstream gradient over
    axes other than the leading ones (a convolution's db: (0, 2, 3)), those axes, for the hint."""
    sum_axes = dict(sum_axes or {})
    differentiable = tuple(differentiable)

    def upstream_for(case: Case, ev: Evaluation, dtype=None) -> dict[str, Any]:
        rng = case.rng(1)
        ups = {name: upstream(rng, np.shape(out)) for name, out in _as_outputs(forward, ev.output).items()}
        return ups if dtype is None else {k: v.astype(dtype) for k, v in ups.items()}

    def reference_grads(ev: Evaluation, upstreams: dict[str, Any]) -> dict[str, Any]:
        return ev.vjp(tuple(upstreams.values()) if len(upstreams) > 1 else next(iter(upstreams.values())))

    def forward_then_backward(ctx, case, dtype=None, dx=differentiable):
        """The student's forward on the case and, where its outputs have the reference's
        shapes, the backward on its cache (the two in one message to the worker)."""
        ev = evaluate(reference, case.args, dx)
        ups = upstream_for(case, ev, dtype)
        want = _as_outputs(forward, ev.output)
        call, sent = target_call(ctx, forward, case)
        shapes = tuple(np.shape(want[name]) for name in forward.outputs)
        made, after = ctx.try_call_then(call, (backward, tuple(ups.values()), {}, (), None), shapes)
        (called, ev), = _checked_forwards(ctx, forward, reference, [case], dx,
                                          lambda: [called_from(forward, sent, ctx.raise_for(forward.function, made))],
                                          evaluated=[ev])
        if after is None:  # outputs that are not plain arrays: the backward is called now
            after = ctx.try_call(backward, *ups.values(), called.cache)
        ctx.forget(called.cache)
        return called, ev, ups, ctx.raise_for(backward, after)

    def forward_and_backward(ctx, case, dtype=None):
        called, ev, ups, outcome = forward_then_backward(ctx, case, dtype)
        inputs = {n: case.args[n] for n in differentiable}
        return called, ev, ups, unpack_gradients(backward, outcome.value, inputs), outcome

    def check_shapes(case, grads, ups, dtype=None):
        source = np.shape(next(iter(ups.values())))
        for name in differentiable:
            require_like(f"d{name}", grads[name], case.args[name], dtype, reduced_from=source, axes=sum_axes.get(name))

    def runs(ctx, case):
        forward_and_backward(ctx, case)

    def shapes(ctx, case):
        _, _, ups, grads, _ = forward_and_backward(ctx, case)
        check_shapes(case, grads, ups, np.float64)

    def vjp(ctx, case, diagnose: bool = True):
        called, ev, ups, grads, _ = forward_and_backward(ctx, case)
        check_shapes(case, grads, ups)
        right = reference_grads(ev, ups)
        try:
            assert_matches("gradients", gradient_names(grads), gradient_names(right))
        except PropertyFailure as failure:
            dout = next(iter(ups.values())) if len(ups) == 1 else ups
            failure.hints += mistake_hints(mistakes, "gradients", case, right, grads, dout)
            if diagnose:
                failure.diagnosis = best_effort(lambda: _diagnosis(ctx, case, called, ev, ups, grads, right))
            raise

    def _diagnosis(ctx, case, called, ev, ups, grads, right):
        forward_right = values_close(called.outputs, _as_outputs(forward, ev.output))
        wrong = [n for n, g in gradient_names(grads).items() if not values_close(g, gradient_names(right)[n])]
        return diagnose_with_finite_differences(lambda c: _own_outputs(ctx, forward, c), case, ups, grads, wrong,
                                                forward_right, forward.function, backward)

    def variant(ctx, case, v: Variant):
        vjp(ctx, case, diagnose=v.diagnose)

    def upstream_run(ctx, case) -> Run:
        _, _, ups, outcome = forward_then_backward(ctx, case, dx=())
        return Run.single(backward, outcome, {f"d{name}": u for name, u in ups.items()})

    def backward_run(ctx, case) -> Run:
        *_, outcome = forward_and_backward(ctx, case)
        return Run.single(backward, outcome, {})

    def alone_is_right(ctx, case) -> bool:
        """One forward, one backward: whether the backward is right without a second cache around."""
        _, ev, ups, grads, _ = forward_and_backward(ctx, case)
        return values_close(gradient_names(grads), gradient_names(reference_grads(ev, ups)))

    def independent(ctx, pair):
        first, second = pair.args["first"], pair.args["second"]
        # Two messages to the worker (the forwards, then the backwards), in the order that one
        # call after another would make them.
        (a, ev_a), (b, ev_b) = forwards_for_backward(ctx, forward, reference, (first, second), differentiable)
        ups_a, ups_b = upstream_for(first, ev_a), upstream_for(second, ev_b)
        order = (("second", second, b, ev_b, ups_b), ("first", first, a, ev_a, ups_a),
                 ("first, again", first, a, ev_a, ups_a))
        outcomes = ctx.call_together([(backward, (*ups.values(), called.cache), {}, (), None)
                                      for _, _, called, _, ups in order])
        for (label, case, called, ev, ups), outcome in zip(order, outcomes):
            ctx.raise_for(backward, outcome)
            grads = unpack_gradients(backward, outcome.value, {n: case.args[n] for n in differentiable})
            try:
                check_shapes(case, grads, ups)
                assert_matches("gradients", gradient_names(grads), gradient_names(reference_grads(ev, ups)))
            except PropertyFailure as failure:
                failure.summary = f"after two forwards, the backward of the {label} cache is wrong: {failure.summary}"
                explain_interference(failure, best_effort(lambda: alone_is_right(ctx, case), False),
                                     INDEPENDENT_CACHES, "vjp_matches_reference")
                raise
        ctx.forget(a.cache)
        ctx.forget(b.cache)

    def float32(ctx, case32):
        _, ev, ups, grads, _ = forward_and_backward(ctx, case32, np.float32)
        check_shapes(case32, grads, ups, np.float32)
        assert_matches("gradients", gradient_names(grads), gradient_names(reference_grads(ev, ups)), FLOAT32,
                       what="the reference (float32 tolerance)")

    pairs = st.builds(lambda a, b: Case(args={"first": a, "second": b}, seed=a.seed), cases, cases)
    b, f = backward, forward.function
    return [
        _prop("runs_on_valid_inputs", f"{b} runs on the cache of {f} for every valid input", runs, cases),
        _prop("gradient_shapes", f"each gradient of {b} has exactly its input's shape, in float64", shapes, cases),
        _prop("vjp_matches_reference", f"{b} matches the reference's vector-Jacobian product for a random upstream gradient",
              vjp, cases, CORRECTNESS_WEIGHT),
        *[v.property(b, variant) for v in variants if v.where in ("backward", "both")],
        _prop("caches_are_independent", "two forwards then their backwards (one twice) each give the right gradients",
              independent, pairs),
        unchanged_property(upstream_run, f"{b} leaves the upstream gradient unchanged", cases, said=UPSTREAM),
        fresh_property(backward_run, f"{b}'s gradients are new arrays, not views of its inputs or of each other",
                       "Return new arrays: a view of dout or of a cached input changes when they do.", cases),
        float32_property(float32, f"{b} gives float32 gradients for float32 inputs (advice unless the manifest weighs it)",
                         cases),
    ]


def explain_interference(failure: PropertyFailure, alone_right: bool, hint: str, single: str,
                         history_dependent: bool = False) -> None:
    """A failure of an independence property (two caches, two optimizers) explained: the hint
    about state kept outside the cache (or config) only where the function is right on its own,
    or where the same call, made twice, gives two results (state carried between calls);
    otherwise the failure points to the property `single` that already shows the bug."""
    if alone_right or history_dependent:
        failure.hints.append(hint)
    else:
        failure.summary += f" (it is wrong on its own too: see {single})"
        failure.args = (failure.summary,)


def _own_outputs(ctx: Context, target: Target, case: Case) -> dict[str, Any]:
    called = call_target(ctx, target, case)
    if called.cache is not None:
        ctx.forget(called.cache)
    return called.outputs


def loss_properties(name: str, reference: Callable, cases: st.SearchStrategy, differentiable: Sequence[str],
                    mistakes: Sequence[Mistake] = (), variants: Sequence[Variant] = ()) -> list[Property]:
    """Properties of `NAME(...) -> (loss, grads)`: the gradient is of the loss itself; each
    variant checks the loss and the gradient on its own cases."""
    differentiable = tuple(differentiable)
    target = Target(name, outputs=("loss", "grads"))

    def run(ctx, case) -> tuple[float, dict[str, Any], Called]:
        called = call_target(ctx, target, case)
        loss_value = require_scalar("loss", called.outputs["loss"])
        grads = unpack_gradients(name, called.outputs["grads"], {n: case.args[n] for n in differentiable})
        return loss_value, grads, called

    def right(case) -> tuple[float, dict[str, Any]]:
        ev = evaluate(reference, case.args, differentiable)
        return float(ev.output), ev.vjp(np.array(1.0))

    def runs(ctx, case):
        call_target(ctx, target, case)

    def shapes(ctx, case):
        _, grads, _ = run(ctx, case)
        for n in differentiable:
            require_like(f"d{n}", grads[n], case.args[n], np.float64)

    def loss_value(ctx, case) -> CallOutcome:
        value, _, called = run(ctx, case)
        want, _ = right(case)
        try:
            assert_matches("loss", {"loss": np.array(value)}, {"loss": np.array(want)})
        except PropertyFailure as failure:
            failure.hints += mistake_hints(mistakes, "loss", case, want, value)
            raise
        return called.outcome

    def gradient(ctx, case, diagnose: bool = True):
        _, grads, _ = run(ctx, case)
        for n in differentiable:
            require_like(f"d{n}", grads[n], case.args[n])
        want_loss, want = right(case)
        try:
            assert_matches("gradients", gradient_names(grads), gradient_names(want))
        except PropertyFailure as failure:
            failure.hints += mistake_hints(mistakes, "gradients", case, want, grads)
            if diagnose:
                failure.diagnosis = best_effort(lambda: _diagnosis(ctx, case, grads, want_loss, want))
            raise

    def _diagnosis(ctx, case, grads, want_loss, want):
        own_loss = require_scalar("loss", call_target(ctx, target, case).outputs["loss"])
        wrong = [n for n, g in gradient_names(grads).items() if not values_close(g, gradient_names(want)[n])]
        return diagnose_with_finite_differences(
            lambda c: {"loss": require_scalar("loss", call_target(ctx, target, c).outputs["loss"])},
            case, {"loss": 1.0}, grads, wrong, values_close(own_loss, want_loss), "loss", "the gradient")

    def variant(ctx, case, v: Variant):
        outcome = loss_value(ctx, case)
        gradient(ctx, case, diagnose=v.diagnose)
        if v.warnings_free:
            assert_no_trouble(Run.single(name, outcome, {}))

    def one_call(ctx, case) -> Run:
        *_, called = run(ctx, case)
        return Run.single(name, called.outcome, called.sent)

    def float32(ctx, case32):
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
        *[v.property(name, variant) for v in variants],
        unchanged_property(one_call, f"{name} leaves its inputs unchanged", cases, said=ARGUMENTS),
        fresh_property(one_call, f"{name}'s gradients are new arrays", "Return new arrays for the gradients.", cases),
        float32_property(float32, f"{name} gives float32 gradients for float32 inputs (advice unless the manifest weighs "
                         "it)", cases),
    ]


# ---------------------------------------------------------------------------------------------
# The three declarations


def in_contract_order(assignment: str, function: str, cases: st.SearchStrategy,
                      variants: Sequence[Variant] = ()) -> tuple[st.SearchStrategy, list[Variant]]:
    """`cases` and the variants' cases, each drawn case put in the order of `function`'s parameters
    in the contract, and checked against them (`DeclarationError` as the case is drawn, before any
    student code runs). Raises DeclarationError at once where the contract has no `function`."""
    params = contract_parameters(assignment, function)
    return cases.map(params.order), [replace(v, cases=v.cases.map(params.order)) for v in variants]



def layer(assignment: str, module: str, forward: str, backward: str, reference: Callable, cases: st.SearchStrategy,
          differentiable: Sequence[str], outputs: Sequence[str] = ("out",), mutable: Sequence[str] = (),
          forward_mistakes: Sequence[Mistake] = (), backward_mistakes: Sequence[Mistake] = (),
          forward_extra: Sequence[Property] = (), backward_extra: Sequence[Property] = (),
          variants: Sequence[Variant] = (), sum_axes: dict[str, tuple[int, ...]] | None = None,
          summary: str = "") -> list[Exercise]:
    """A forward/backward pair: two exercises sharing one reference and one input strategy.
    variants: the comparison on cases of their own, for the forward, the backward or both;
    sum_axes: see `backward_properties`. Each case's keys are the forward's parameters, in any
    order: the calls follow the contract's parameter order."""
    target = Target(forward, tuple(outputs), cache=True, mutable=tuple(mutable))
    contract_parameters(assignment, backward)
    cases, variants = in_contract_order(assignment, forward, cases, variants)
    return [
        Exercise(forward, assignment, module, f"{summary}: forward",
                 output_properties(target, reference, cases, forward_mistakes, variants) + list(forward_extra), cases),
        Exercise(backward, assignment, module, f"{summary}: backward",
                 backward_properties(target, backward, reference, cases, differentiable, backward_mistakes, variants,
                                     sum_axes)
                 + list(backward_extra), cases, needs=(forward,), reference=reference,
                 differentiable=tuple(differentiable)),
    ]


def loss(assignment: str, module: str, name: str, reference: Callable, cases: st.SearchStrategy,
         differentiable: Sequence[str] = ("x",), mistakes: Sequence[Mistake] = (), extra: Sequence[Property] = (),
         variants: Sequence[Variant] = (), summary: str = "") -> list[Exercise]:
    """A function returning (loss, gradients); variants: loss and gradient on cases of their own.
    Each case's keys are the function's parameters, in any order (see `layer`)."""
    cases, variants = in_contract_order(assignment, name, cases, variants)
    return [Exercise(name, assignment, module, summary,
                     loss_properties(name, reference, cases, differentiable, mistakes, variants) + list(extra), cases,
                     reference=reference, differentiable=tuple(differentiable))]


def function(assignment: str, module: str, name: str, reference: Callable, cases: st.SearchStrategy,
             mistakes: Sequence[Mistake] = (), extra: Sequence[Property] = (), variants: Sequence[Variant] = (),
             summary: str = "") -> list[Exercise]:
    """A function returning one array, checked against its reference. Each case's keys are the
    function's parameters, in any order (see `layer`)."""
    cases, variants = in_contract_order(assignment, name, cases, variants)
    return [Exercise(name, assignment, module, summary,
                     output_properties(Target(name), reference, cases, mistakes, variants) + list(extra), cases)]


# ---------------------------------------------------------------------------------------------
# Stability: inputs of very different scales side by side, and inputs beyond exp's range


#: Examples of the stability and configuration variants at most (the grading profile draws 60).
STABILITY_EXAMPLES = 25

UNSTABLE_EXP = ("Never evaluate exp of a large positive number: rewrite with exp(-|x|), or subtract the row "
                "maximum before exp (and take logs of sums, not of probabilities that underflow to 0).")
ROW_MAXIMUM = ("Subtract EACH ROW's own maximum before exp (x.max(axis=-1, keepdims=True)), not one maximum of the "
               "whole array: a row far below the largest row then underflows to 0/0 = NaN, and without any shift a "
               "row near +1e3 overflows.")
LOG_SUM_EXP = ("At logit gaps beyond ~745 exp underflows to 0 and log(0) = -inf: compute log-probabilities as "
               "shifted - log(sum(exp(shifted))) (log-sum-exp), not log(softmax(x)). (CS231n's own starter code "
               "takes log(probs) and is off here: this costs only this property's share.)")


def stability(cases: st.SearchStrategy, extreme: Sequence[Case], where: str = "forward", hint: str = ROW_MAXIMUM,
              extreme_hint: str = LOG_SUM_EXP, what: str = "rows") -> list[Variant]:
    """The two stability properties of a function with exp inside:

    - `stable_at_large_inputs` (essential): finite and the reference's values on drawn inputs whose
      `what` have very different scales side by side (one near +1e3, another near -1e3, ...),
      so that a shift by the maximum of the whole batch, or no shift, is caught;
    - `stable_at_extreme_inputs` (minor, a convention beyond CS231n's): finite, right and free of
      floating-point warnings at explicit inputs far beyond exp's range (logit gaps of 1e5)."""
    largest = max(float(np.max(np.abs(v))) for c in extreme for v in c.args.values()
                  if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating))
    return [
        # A shift by the batch's maximum, or none, fails on nearly every such case: a few dozen suffice.
        Variant("stable_at_large_inputs", "{function} is finite and right on inputs whose " + what + " have very "
                "different scales side by side (near +1e3 and -1e3 in one batch)", cases, where, hint=hint,
                max_examples=STABILITY_EXAMPLES),
        Variant("stable_at_extreme_inputs", "{function} is finite, right and warning-free at inputs up to "
                f"{largest:g} (a convention beyond CS231n's: minor)", examples(*extreme), where, essential=False,
                weight=CONVENTION_WEIGHT, hint=extreme_hint, warnings_free=True),
    ]


SPREAD_SCALES = ("Each group is normalised with its own statistics, whatever the scale of the others: compute the "
                 "variance from the centred values (np.var, or np.mean((x - mean)**2)), not as mean(x**2) - mean**2, "
                 "which cancels catastrophically when the mean is large; and keep eps inside the square root.")


def mixed_scales(cases: st.SearchStrategy, hint: str = SPREAD_SCALES) -> Variant:
    """A normalisation's values and gradients on inputs whose normalised groups (features,
    examples, channels, groups) differ by orders of magnitude side by side."""
    return Variant("matches_reference_at_mixed_scales", "{function} matches the reference where the normalised groups "
                   "have very different means (up to ±1e4) and spreads (0.05 to 50) side by side", cases,
                   hint=hint, max_examples=STABILITY_EXAMPLES)


def examples(*cases: Case) -> st.SearchStrategy[Case]:
    """Explicit cases (an edge that is meant to be tested, like ReLU at exactly 0)."""
    return st.sampled_from(list(cases))
