"""Grading at close to the cost of the student's own code: one pass per exercise, calls served
from the pass's memory, the reference's evaluations shared by the submissions of a batch, and
several calls to the sandboxed worker in one message. Counted, never timed."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.memo import fingerprint
from dlgrade.grader.boundary.submission import InProcessSubmission
from helpers import planted

A1 = "a1_backprop"


class CountingSubmission(InProcessSubmission):
    """The solutions in this process, counting the calls that reach the student's code."""

    def __init__(self, root):
        super().__init__(root)
        self.calls: Counter[str] = Counter()

    def call(self, assignment, module, function, args, kwargs=None, keep=(), timeout=None, via=None):
        self.calls[function] += 1
        return super().call(assignment, module, function, args, kwargs, keep, timeout, via)


def _check(names, root=ASSIGNMENTS_DIR, seed=0, submission=None):
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.runner import check_exercise

    profile = get_profile("grading", seed)
    own = submission is None
    submission = submission or CountingSubmission(root)
    try:
        return [check_exercise(e, submission, profile) for e in select(names)], submission
    finally:
        if own:
            submission.close()


# -- item 1: one pass per exercise -----------------------------------------------------------------


def test_properties_that_share_their_cases_share_the_student_s_calls():
    """relu_forward's runs, shapes, values and inputs_unchanged judge the same call on each case:
    60 calls for the four, 60 more for float32 (its own, float32, case), and each variant's
    own. Checked property by property, it was one call per property and case (360 and more)."""
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.profiles import get_profile

    (exercise,) = select(["relu_forward"])
    examples = get_profile("grading").max_examples
    main = [p for p in exercise.properties if p.cases in (None, exercise.cases)]
    variants = [p for p in exercise.properties if p.cases not in (None, exercise.cases)]
    assert len(main) >= 5, [p.name for p in main]
    (result,), submission = _check(["relu_forward"])
    assert result.passed, [(p.name, p.message) for p in result.properties]
    bound = 2 * examples + sum(min(examples, p.max_examples or examples) for p in variants)
    assert submission.calls["relu_forward"] <= bound, (submission.calls, bound)


def _affine_case():
    import numpy as np

    from dlgrade.checkers.exercise import Case

    rng = np.random.default_rng(0)
    return Case({"x": rng.normal(size=(2, 3)), "w": rng.normal(size=(3, 4)), "b": rng.normal(size=4)})


def test_a_backward_is_served_only_on_a_fresh_cache():
    """A cache is state on the student's side (a backward may change it): a forward that kept a
    cache is served again only while no call was made on that cache, and a backward is served
    only where it is given a fresh cache from the same forward call."""
    import numpy as np

    from dlgrade.checkers.exercise import Context
    from dlgrade.checkers.registry import select

    (exercise,) = select(["affine_backward"])
    case = _affine_case()
    with CountingSubmission(ASSIGNMENTS_DIR) as submission:
        ctx = Context(exercise, submission)
        ctx.on_case()
        grads = []
        for _ in range(3):  # three properties, one case
            ctx.for_property()
            out, cache = ctx.call("affine_forward", *case.args.values(), keep=(1,)).value
            grads.append(ctx.call("affine_backward", np.ones((2, 4)), cache).value)
            ctx.forget(cache)
        ctx.off_case()
    # The first property's forward and backward; the second's forward again (the first cache
    # was used), its backward served (on a fresh cache from the same call); the third is served
    # both (the second's cache was never used: its backward was served).
    assert submission.calls == {"affine_forward": 2, "affine_backward": 1}
    assert ctx.calls_served == 3
    assert all(np.array_equal(g, h) for g, h in zip(grads[0], grads[2]))
    assert not submission._kept, "the case's caches were not dropped"


def test_a_property_that_calls_again_on_a_cache_it_was_served_sees_the_cache_as_its_calls_left_it(tmp_path):
    """A backward that changes its cache (x *= 2) gives a different result the second time: a
    property that calls it twice sees that, though its first call was served from memory."""
    import numpy as np

    from dlgrade.checkers.exercise import Context
    from dlgrade.checkers.registry import select

    root = planted(tmp_path, "layers", """
def affine_backward(dout, cache):
    x, w = cache
    x *= 2
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
""")
    (exercise,) = select(["affine_backward"])
    case = _affine_case()
    with CountingSubmission(root) as submission:
        ctx = Context(exercise, submission)
        ctx.on_case()
        seen = []
        for _ in range(2):
            ctx.for_property()
            out, cache = ctx.call("affine_forward", *case.args.values(), keep=(1,)).value
            seen.append([ctx.call("affine_backward", np.ones((2, 4)), cache).value[1] for _ in range(2)])
        ctx.off_case()
    (first, again), (served, made) = seen
    assert np.array_equal(first, served) and not np.array_equal(first, again)
    assert np.array_equal(again, made), "the second call of the second property did not see the first's effect"


@pytest.mark.parametrize("mutant, failing", [
    # Fails a property of the pass's main group and one of its own strategy's (a variant).
    ("""
def relu_forward(x):
    out = np.maximum(x, 0) * 1.0001
    return out, x
""", {"matches_reference"}),
])
def test_a_failure_found_by_the_pass_is_shrunk_by_its_own_search_and_told_the_same_every_time(
        mutant, failing, tmp_path):
    """The pass only finds; the message (shrunk input, hints) comes from the property's own
    search, so it is the same as the property checked alone, and the same on every run."""
    from dlgrade.grader.grading.session import run_checks

    root = planted(tmp_path, "layers", mutant)
    runs = [_check(["relu_forward"], root)[0][0] for _ in range(2)]
    assert {p.name for p in runs[0].properties if not p.passed} >= failing
    assert [(p.name, p.passed, p.message, p.hints) for p in runs[0].properties] == \
        [(p.name, p.passed, p.message, p.hints) for p in runs[1].properties]
    for name in failing:
        _, (alone,) = run_checks(["relu_forward"], root, "grading", seed=0, only=name)
        (together,) = [p for p in runs[0].properties if p.name == name]
        (replayed,) = alone.properties
        assert (replayed.passed, replayed.message) == (together.passed, together.message)


def test_a_call_made_twice_by_one_property_reaches_the_student_twice(tmp_path):
    """A property that calls twice on the same case means to (a second call may differ where
    state is carried): only another property's call is served from memory."""
    from dlgrade.checkers.exercise import Context, Exercise, Property
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.runner import one_pass

    (relu,) = select(["relu_forward"])
    seen = []

    def twice(ctx, case):
        seen.append([ctx.call("relu_forward", *case.args.values()).value for _ in range(2)])

    def once(ctx, case):
        ctx.call("relu_forward", *case.args.values())

    exercise = Exercise("relu_forward", A1, "layers", "", [Property("once", "", once), Property("twice", "", twice)],
                        relu.cases)
    with CountingSubmission(ASSIGNMENTS_DIR) as submission:
        found = one_pass(Context(exercise, submission), exercise.properties,
                         dataclasses.replace(get_profile("grading", 0), max_examples=5))
    assert found == {"once": None, "twice": None}
    # Per case: once's call, twice's first call served from it, twice's second call made.
    assert submission.calls["relu_forward"] == 2 * len(seen)


def test_a_call_that_used_the_global_random_state_is_never_served(tmp_path):
    """Dropout written with np.random: two calls are two masks; serving the first to another
    property would hide what a fresh call does."""
    from dlgrade.checkers.exercise import Context, Exercise, Property
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.runner import one_pass

    root = planted(tmp_path, "layers", """
def relu_forward(x):
    return np.maximum(x, 0) + 0 * np.random.rand(), x
""")
    (relu,) = select(["relu_forward"])

    def call(ctx, case):
        ctx.call("relu_forward", *case.args.values())

    exercise = Exercise("relu_forward", A1, "layers", "", [Property("a", "", call), Property("b", "", call)],
                        relu.cases)
    with CountingSubmission(root) as submission:
        ctx = Context(exercise, submission)
        one_pass(ctx, exercise.properties, dataclasses.replace(get_profile("grading", 0), max_examples=5))
    assert ctx.calls_served == 0 and submission.calls["relu_forward"] == ctx.calls_made == 10


def test_one_pass_checks_each_property_on_as_many_cases_as_the_profile_asks():
    from dlgrade.checkers.exercise import Context, Exercise, Property
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.runner import one_pass

    (relu,) = select(["relu_forward"])
    seen: dict[str, set] = {"many": set(), "few": set()}

    def record(name):
        return lambda ctx, case: seen[name].add(fingerprint(case))

    exercise = Exercise("relu_forward", A1, "layers", "", [Property("many", "", record("many")),
                                                           Property("few", "", record("few"), max_examples=7)],
                        relu.cases)
    profile = get_profile("grading", 0)
    with InProcessSubmission(ASSIGNMENTS_DIR) as submission:
        one_pass(Context(exercise, submission), exercise.properties, profile)
    assert len(seen["many"]) >= profile.max_examples - 2  # hypothesis may draw a case twice
    assert len(seen["few"]) == 7 and seen["few"] <= seen["many"]


# -- item 3: the reference's evaluations, shared by the submissions of a batch -------------------


def test_the_reference_is_evaluated_once_for_two_submissions_graded_in_one_process(tmp_path):
    """At the grading profile every submission is checked on the same cases: the process that
    grades a batch (a pool worker) evaluates the reference on each case once."""
    from dlgrade.checkers.memo import references

    other = planted(tmp_path, "layers", """
def relu_backward(dout, cache):
    (x,) = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx
""")
    references.clear()
    (first,), _ = _check(["relu_backward"], ASSIGNMENTS_DIR, seed=3)
    evaluated = references.misses
    assert evaluated > 0 and first.passed
    (second,), _ = _check(["relu_backward"], other, seed=3)
    assert second.passed, [(p.name, p.message) for p in second.properties]
    assert references.misses == evaluated, "the second submission evaluated the reference again"
    assert references.hits > 0


def test_a_reference_evaluation_from_the_cache_is_a_copy_its_reader_cannot_spoil():
    import numpy as np

    from dlgrade.checkers.memo import ReferenceCache, references
    from dlgrade.checkers.oracle import evaluate
    from dlgrade.reference import layers as ref_layers

    references.clear()
    x = np.array([[-1.0, 2.0, 3.0]])
    first = evaluate(ref_layers.relu, {"x": x}, ("x",))
    first.output[...] = 99.0
    again = evaluate(ref_layers.relu, {"x": x.copy()}, ("x",))
    assert references.hits == 1 and np.array_equal(again.output, [[0.0, 2.0, 3.0]])
    assert np.array_equal(again.vjp(np.ones((1, 3)))["x"], [[0.0, 1.0, 1.0]])
    # A different dtype, shape or value is a different case; a full cache forgets the oldest.
    assert evaluate(ref_layers.relu, {"x": x.astype(np.float32)}).output.dtype == np.float64
    assert references.misses == 2
    small = ReferenceCache(limit_bytes=2000)
    for i in range(5):
        small.get_or_compute(ref_layers.relu, {"x": np.full(3, float(i))}, (), lambda: i)
    assert 0 < len(small) < 5


# -- item 2: several calls in one message to the sandboxed worker ---------------------------------


def _counting_messages(monkeypatch):
    from dlgrade.grader.boundary import sandbox

    sent: list[str] = []
    real = sandbox._Worker._send

    def send(self, message, *a, **k):
        sent.append(message.get("op", "config"))
        return real(self, message, *a, **k)

    monkeypatch.setattr(sandbox._Worker, "_send", send)
    return sent


def test_a_batch_of_calls_is_one_message_to_the_worker_and_a_call_may_use_an_earlier_one_s_cache(monkeypatch):
    import numpy as np

    from dlgrade.grader.boundary.sandbox import SandboxedSubmission
    from dlgrade.grader.boundary.submission import BatchCall, earlier

    sent = _counting_messages(monkeypatch)
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    with SandboxedSubmission(ASSIGNMENTS_DIR) as sub:
        assert sub.function_status(A1, "layers", "relu_forward") is None
        before = len(sent)
        forward, backward, again = sub.call_batch([
            BatchCall(A1, "layers", "relu_forward", (x,), keep=(1,)),
            BatchCall(A1, "layers", "relu_backward", (np.ones((2, 2)), earlier(0))),
            BatchCall(A1, "layers", "relu_forward", (x,)),
        ])
        assert sent[before:] == ["batch"]
        assert forward.error is None and backward.error is None and again.error is None, (forward, backward, again)
        assert np.array_equal(backward.value, [[0.0, 1.0], [1.0, 0.0]])
        assert np.array_equal(again.value[0], np.maximum(x, 0))
        # The cache the batch kept is the submission's like any other.
        assert sub.call(A1, "layers", "relu_backward", [np.ones((2, 2)), forward.value[1]]).error is None


def test_a_call_that_crashes_the_worker_mid_batch_gets_that_verdict_and_the_rest_are_not_made(tmp_path, monkeypatch):
    import numpy as np

    from dlgrade.grader.boundary.sandbox import SandboxedSubmission
    from dlgrade.grader.boundary.submission import BatchCall, earlier

    root = planted(tmp_path, "layers", """
def tanh_forward(x):
    import os
    os._exit(3)
""")
    x = np.ones((2, 2))
    with SandboxedSubmission(root) as sub:
        first, crash, after, uses = sub.call_batch([
            BatchCall(A1, "layers", "relu_forward", (x,), keep=(1,)),
            BatchCall(A1, "layers", "tanh_forward", (x,)),
            BatchCall(A1, "layers", "relu_forward", (x,)),
            BatchCall(A1, "layers", "relu_backward", (x, earlier(1))),
        ])
        assert first.error is None
        assert crash.error.kind == "crash" and "tanh_forward crashed the worker" in crash.error.message, crash.error
        assert after.error.kind == "crash" and "not called" in after.error.message
        assert uses.error.kind == "crash"
        # The worker starts afresh for the next call; the first call's cache went with the old one.
        assert sub.call(A1, "layers", "relu_forward", [x]).error is None
        assert "lost" in sub.call(A1, "layers", "relu_backward", [x, first.value[1]]).error.message


def test_a_pass_replays_the_calls_it_served_in_the_same_message_as_the_call_that_needs_them(tmp_path, monkeypatch):
    """A property that uses again a cache it was served a backward on: the served backward is
    made for real first, in one message with the new call."""
    import numpy as np

    from dlgrade.checkers.exercise import Context
    from dlgrade.checkers.registry import select
    from dlgrade.grader.boundary.sandbox import SandboxedSubmission

    sent = _counting_messages(monkeypatch)
    (exercise,) = select(["affine_backward"])
    case = _affine_case()
    with SandboxedSubmission(ASSIGNMENTS_DIR) as sub:
        ctx = Context(exercise, sub)
        ctx.on_case()
        for _ in range(2):
            ctx.for_property()
            out, cache = ctx.call("affine_forward", *case.args.values(), keep=(1,)).value
            first = ctx.call("affine_backward", np.ones((2, 4)), cache).value
            before = len(sent)
            second = ctx.call("affine_backward", np.ones((2, 4)), cache).value
        ctx.off_case()
    assert sent[before:before + 1] == ["batch"], sent
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_references_made_per_call_are_told_apart_by_what_they_close_over():
    """A reference written as a lambda per call (an optimizer's steps, one rule or another) is
    freed and the next one may get its address: the cache knows each by what it computes."""
    import numpy as np

    from dlgrade.checkers.memo import references
    from dlgrade.checkers.oracle import evaluate

    def double(x):
        return 2 * x

    def negate(x):
        return -x

    def steps(rule, x):
        return evaluate(lambda x: rule(x), {"x": x}).output

    x = np.array([1.0, 2.0])
    references.clear()
    assert np.array_equal(steps(double, x), [2.0, 4.0])
    assert np.array_equal(steps(negate, x), [-1.0, -2.0])
    assert np.array_equal(steps(double, x), [2.0, 4.0]) and references.hits == 1


class RecordingSubmission(CountingSubmission):
    """CountingSubmission that also keeps the order of the calls and counts the batches."""

    def __init__(self, root):
        super().__init__(root)
        self.order: list[str] = []
        self.batches = 0

    def call(self, assignment, module, function, *args, **kwargs):
        self.order.append(function)
        return super().call(assignment, module, function, *args, **kwargs)

    def call_batch(self, calls):
        self.batches += 1
        return super().call_batch(calls)


def test_a_forward_then_its_backward_is_one_message_and_the_calls_one_after_the_other_would_be():
    """`try_call_then` (a forward, then the backward on its cache) reaches the student with the
    calls that `try_call` of one then the other makes, in the same order, with the same calls
    served; where neither is served, the two go in one message."""
    import numpy as np

    from dlgrade.checkers.exercise import Context
    from dlgrade.checkers.registry import select

    (exercise,) = select(["affine_backward"])
    case = _affine_case()
    forward = ("affine_forward", tuple(case.args.values()), {}, (1,), None)
    seen = {}
    for paired in (False, True):
        with RecordingSubmission(ASSIGNMENTS_DIR) as submission:
            ctx = Context(exercise, submission)
            ctx.on_case()
            grads = []
            for _ in range(3):  # three properties, one case
                ctx.for_property()
                if paired:
                    made, after = ctx.try_call_then(forward, ("affine_backward", (np.ones((2, 4)),), {}, (), None),
                                                    ((2, 4),))
                else:
                    made = ctx.call("affine_forward", *case.args.values(), keep=(1,))
                    after = ctx.call("affine_backward", np.ones((2, 4)), made.value[1])
                grads.append(after.value)
                ctx.forget(made.value[1])
            ctx.off_case()
        seen[paired] = (submission.order, ctx.calls_served, submission.batches, grads)
    assert seen[True][0] == seen[False][0] == ["affine_forward", "affine_backward", "affine_forward"]
    assert seen[True][1] == seen[False][1] == 3
    assert (seen[False][2], seen[True][2]) == (3, 2), "the first property's two calls were not one message"
    assert all(np.array_equal(g, h) for a, b in zip(seen[True][3], seen[False][3]) for g, h in zip(a, b))


def test_an_update_rule_s_run_in_one_message_reaches_the_student_as_its_steps_one_by_one():
    """A rule's run, sent as one chained message, makes the calls (in order, with the results)
    that its steps made one after the other make."""
    from dlgrade.checkers.exercise import Context

    runs = {}
    for chained in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            if not chained:
                patch.setattr(Context, "would_call", lambda self, function, *args: False)
            submission = RecordingSubmission(ASSIGNMENTS_DIR)
            (result,), _ = _check(["adam"], submission=submission)
            submission.close()
        runs[chained] = (submission.order, [(p.name, p.passed, p.message) for p in result.properties],
                         submission.batches)
    assert runs[True][0] == runs[False][0] and runs[True][1] == runs[False][1]
    assert all(passed for _, passed, _ in runs[True][1])
    assert runs[True][2] < runs[False][2] / 2, (runs[True][2], runs[False][2])
