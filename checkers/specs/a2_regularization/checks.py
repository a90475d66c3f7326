"""a2_regularization's own properties: statistical bounds, dropout's mask and rescaling, the
normalisations' invariants, batch norm's running statistics, the initialisers' statistics.

Statistical checks are set for a false-failure rate of `FALSE_FAILURE_RATE` per check: a property
makes at most three checks on a case and the profiles draw at most 100 cases, so a correct solution
fails a statistical property in fewer than 1e-6 of runs.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st
import numpy as np

import dlgrade.reference.a2_regularization.init as ref_init
import dlgrade.reference.a2_regularization.normalization as ref_norm
from dlgrade.checkers.declare import (ARGUMENTS, assert_matches, BACKWARD_NOT_CHECKED, best_effort, call_target, Case,
                                      cases, CORRECTNESS_WEIGHT, evaluate, examples, explain_interference, FLOAT32,
                                      float32_property, FLOAT64, fresh_property, INDEPENDENT_CACHES, mistake_hints,
                                      mixed_scales, optional, Property, PropertyFailure, require_array, require_like,
                                      Run, sample, Target, Tolerance, unchanged_property, UPSTREAM, upstream)

from .inputs import (_bn_spread, _dropout_cases, _EPSILONS, _init_cases, _ln_spread, _spread_columns, bn_unit_cases,
                     dropout_rate_cases, dropout_seeded_cases, dropout_test_cases, dropout_train_cases, KEEP_ALL,
                     large_shapes, ln_unit_cases)
from .mistakes import (_dropout_expected, _dropout_vjp, _params, _variance_mistakes, bn_forward_mistakes,
                       dropout_backward_mistakes, dropout_forward_mistakes, fans_mistakes, KEEP_NOT_DROP,
                       keep_rate_mistakes, NEW_MASK, running_mistakes, UNIFORM_NOT_NORMAL, USE_SEED, WRITE_BACK)


# ---------------------------------------------------------------------------------------------
# Statistical bounds

#: The probability that one statistical check fails on a correct solution.
FALSE_FAILURE_RATE = 1e-9
#: log(2/δ): each bound below is two-sided, δ/2 on each side.
_LOG = math.log(2 / FALSE_FAILURE_RATE)


def hoeffding_bound(n: int, width: float) -> float:
    """t with P(|mean - E[mean]| >= t) <= FALSE_FAILURE_RATE for the mean of n independent values
    in an interval of length `width` (Hoeffding: 2·exp(-2·n·t² / width²))."""
    return width * math.sqrt(_LOG / (2 * n))


def normal_mean_bound(n: int, variance: float) -> float:
    """t with P(|mean| >= t) <= FALSE_FAILURE_RATE for n independent N(0, variance) values
    (the Gaussian tail P(|Z| >= z) <= 2·exp(-z²/2))."""
    return math.sqrt(2 * _LOG) * math.sqrt(variance / n)


def chi_square_interval(n: int) -> tuple[float, float]:
    """(low, high) holding mean(w²)/σ² for n independent N(0, σ²) values but with probability
    FALSE_FAILURE_RATE (Laurent and Massart 2000: for X ~ χ²_n, P(X - n >= 2√(nx) + 2x) <= e^-x and
    P(n - X >= 2√(nx)) <= e^-x, with x = log(2/δ))."""
    spread = 2 * math.sqrt(_LOG / n)
    return 1 - spread, 1 + spread + 2 * _LOG / n

DROPOUT = Target("dropout_forward", cache=True)


def _dropout_out(ctx, case: Case, dtype=None) -> tuple[np.ndarray, object]:
    called = call_target(ctx, DROPOUT, case)
    ctx.forget(called.cache)
    out = called.outputs["out"]
    require_like("out", out, case.args["x"], dtype)
    return out, called


def _assert_dropout_output(case: Case, out: np.ndarray, tol: Tolerance = FLOAT64) -> None:
    mask = out != 0 if case.args["dropout_param"]["mode"] == "train" else None
    want = _dropout_expected(case, mask)
    try:
        assert_matches("output", {"out": out}, {"out": want}, tol)
    except PropertyFailure as failure:
        failure.hints += mistake_hints(dropout_forward_mistakes, "output", case, want, out, tol=tol)
        raise


def _dropout_forward_properties() -> list[Property]:
    f = "dropout_forward"

    def runs(ctx, case):
        call_target(ctx, DROPOUT, case)

    def shapes(ctx, case):
        _dropout_out(ctx, case, np.float64)

    def train_values(ctx, case):
        out, _ = _dropout_out(ctx, case)
        _assert_dropout_output(case, out)

    def keep_rate(ctx, case):
        out, _ = _dropout_out(ctx, case)
        p, n = case.args["dropout_param"]["p"], out.size
        kept = float(np.mean(out != 0))
        bound = hoeffding_bound(n, 1.0)
        if abs(kept - p) > bound:
            raise PropertyFailure(
                f"{f} kept a fraction of the units that does not match p",
                details=[f"kept {kept:.4f} of {n} units with p = {p}; a correct dropout keeps p ± {bound:.4f} "
                         f"(failing wrongly with probability below {FALSE_FAILURE_RATE:g})"],
                hints=mistake_hints(keep_rate_mistakes, "keep_rate", case, p, np.array(kept), tol=Tolerance(0.0, bound)))

    def test_identity(ctx, case):
        out, _ = _dropout_out(ctx, case)
        _assert_dropout_output(case, out)

    def same_seed(ctx, case):
        first, _ = _dropout_out(ctx, case)
        second, _ = _dropout_out(ctx, case)
        if not np.array_equal(first != 0, second != 0):
            raise PropertyFailure(f"two calls of {f} with the same seed dropped different units",
                                  details=[f"seed {case.args['dropout_param']['seed']}: "
                                           f"{int(np.sum((first != 0) != (second != 0)))} of {first.size} units differ"],
                                  hints=[USE_SEED])

    def keeps_all(ctx, case):
        out, _ = _dropout_out(ctx, case)
        try:
            assert_matches("output", {"out": out}, {"out": case.args["x"]}, what="x (p = 1 keeps every unit)")
        except PropertyFailure as failure:
            failure.hints.append(KEEP_NOT_DROP)
            raise

    def one_call(ctx, case) -> Run:
        _, called = _dropout_out(ctx, case)
        return Run.single(f, called.outcome, called.sent)

    def float32(ctx, case32):
        out, _ = _dropout_out(ctx, case32, np.float32)
        _assert_dropout_output(case32, out, FLOAT32)

    return [
        Property("runs_on_valid_inputs", f"{f} runs in train and test mode and returns (out, cache)", runs),
        Property("output_shape_and_dtype", f"{f}'s output has exactly x's shape, in float64", shapes),
        Property("train_output_is_masked_and_rescaled",
                 f"in training, {f}'s output is x·mask/p, with the mask recovered from the output (x has no zeros)",
                 train_values, dropout_train_cases, CORRECTNESS_WEIGHT),
        Property("keep_rate_matches_p", f"{f} keeps a fraction p of the units, within a binomial bound "
                 f"(Hoeffding, false-failure rate {FALSE_FAILURE_RATE:g} per case) over 20 000 units or more",
                 keep_rate, dropout_rate_cases, 2.0),
        Property("test_mode_is_identity", f"in test mode {f} returns x", test_identity, dropout_test_cases, 2.0),
        Property("same_seed_same_mask", f"{f} drops the same units for the same seed", same_seed, dropout_seeded_cases),
        Property("keeps_everything_at_p_1", f"{f} with p = 1 returns x", keeps_all, examples(*KEEP_ALL)),
        unchanged_property(one_call, f"{f} leaves x and dropout_param unchanged", said=ARGUMENTS),
        float32_property(float32, f"{f} gives a float32 output for a float32 x (advice unless the manifest weighs it)",
                         dropout_train_cases),
    ]


def _dropout_backward_properties() -> list[Property]:
    b = "dropout_backward"

    def dropout_cache(ctx, case):
        """dropout_forward's output and cache, for the backward; an output of the wrong shape
        leaves the backward unchecked and blames the forward."""
        try:
            called = call_target(ctx, DROPOUT, case)
        except PropertyFailure as failure:
            failure.summary = f"could not get a cache from dropout_forward: {failure.summary}"
            raise
        try:
            require_like("out", called.outputs["out"], case.args["x"])
        except PropertyFailure as failure:
            ctx.forget(called.cache)
            raise PropertyFailure(f"{BACKWARD_NOT_CHECKED}: your dropout_forward's {failure.summary}",
                                  hints=["Fix dropout_forward first (see its own checks)."])
        return called

    def forward_backward(ctx, case, dtype=None):
        called = dropout_cache(ctx, case)
        dout = upstream(case.rng(1), case.args["x"].shape).astype(dtype or np.float64)
        outcome = ctx.call(b, dout, called.cache)
        ctx.forget(called.cache)
        return called.outputs["out"], dout, outcome

    def assert_dx(case, out, dout, dx, tol=FLOAT64):
        require_like("dx", dx, case.args["x"])
        mask = out != 0 if case.args["dropout_param"]["mode"] == "train" else np.ones(out.shape, bool)
        want = _dropout_vjp(case, mask, dout)
        try:
            assert_matches("gradients", {"dx": dx}, {"dx": want}, tol)
        except PropertyFailure as failure:
            failure.hints += mistake_hints(dropout_backward_mistakes, "gradients", case, {"x": want}, {"x": dx}, dout, tol)
            if case.args["dropout_param"]["mode"] == "train" and np.any((dx != 0) != mask):
                failure.hints.append(NEW_MASK)
            raise

    def runs(ctx, case):
        forward_backward(ctx, case)

    def shapes(ctx, case):
        _, _, outcome = forward_backward(ctx, case)
        require_like("dx", outcome.value, case.args["x"], np.float64)

    def vjp(ctx, case):
        out, dout, outcome = forward_backward(ctx, case)
        assert_dx(case, out, dout, outcome.value)

    def alone_is_right(ctx, case) -> bool:
        out, dout, outcome = forward_backward(ctx, case)
        return best_effort(lambda: assert_dx(case, out, dout, outcome.value) is None, False)

    def independent(ctx, pair):
        first, second = pair.args["first"], pair.args["second"]
        called = [dropout_cache(ctx, c) for c in (first, second)]
        douts = [upstream(c.rng(1), c.args["x"].shape) for c in (first, second)]
        for label, i in (("second", 1), ("first", 0), ("first, again", 0)):
            dx = ctx.call(b, douts[i], called[i].cache).value
            try:
                assert_dx((first, second)[i], called[i].outputs["out"], douts[i], dx)
            except PropertyFailure as failure:
                failure.summary = f"after two forwards, the backward of the {label} cache is wrong: {failure.summary}"
                explain_interference(failure, best_effort(lambda: alone_is_right(ctx, (first, second)[i]), False),
                                     INDEPENDENT_CACHES, "vjp_matches_reference")
                raise
        for c in called:
            ctx.forget(c.cache)

    def backward_run(ctx, case) -> Run:
        _, dout, outcome = forward_backward(ctx, case)
        return Run.single(b, outcome, {"dout": dout})

    def float32(ctx, case32):
        out, dout, outcome = forward_backward(ctx, case32, np.float32)
        require_like("dx", outcome.value, case32.args["x"], np.float32)
        assert_dx(case32, out, dout, outcome.value, FLOAT32)

    pairs = st.builds(lambda a, c: Case(args={"first": a, "second": c}, seed=a.seed),
                      _dropout_cases(["train"], seeded=False), _dropout_cases(["train"], seeded=False))
    return [
        Property("runs_on_valid_inputs", f"{b} runs on the cache of dropout_forward in train and test mode", runs),
        Property("gradient_shapes", f"{b}'s dx has exactly x's shape, in float64", shapes),
        Property("vjp_matches_reference", f"in training, {b} gives dout·mask/p for the mask of that forward call "
                 "(recovered from its output), for a random upstream gradient", vjp, dropout_train_cases,
                 CORRECTNESS_WEIGHT),
        Property("test_mode_passes_dout", f"in test mode, {b} returns dout", vjp, dropout_test_cases, 2.0),
        Property("caches_are_independent", "two forwards then their backwards (one twice) each use their own mask",
                 independent, pairs),
        unchanged_property(backward_run, f"{b} leaves the upstream gradient unchanged", dropout_train_cases,
                           said=UPSTREAM),
        # In training only: CS231n's own test-mode backward returns dout itself (`dx = dout`).
        fresh_property(backward_run, f"in training, {b}'s dx is a new array, not a view of dout",
                       "Return new arrays: a view of dout or of a cached input changes when they do.", dropout_train_cases),
        float32_property(float32, f"{b} gives a float32 dx for float32 inputs (advice unless the manifest weighs it)",
                         dropout_train_cases),
    ]


bn_spread_variant = mixed_scales(cases(_bn_spread, n=st.integers(2, 6), d=st.integers(2, 6),
                                       eps=optional("eps", _EPSILONS), running=st.booleans()))
ln_spread_variant = mixed_scales(cases(_ln_spread, n=st.integers(2, 6), d=st.integers(2, 6),
                                       eps=optional("eps", _EPSILONS)))

BATCHNORM = Target("batchnorm_forward", cache=True, mutable=("bn_param",))


def _normalises(target: Target, axis: int, per: str, mistakes) -> Property:
    """At gamma 1, beta 0 (and a batch variance well above eps), the output has mean 0 and
    biased variance var/(var + eps) ≈ 1 along `axis`."""
    def check(ctx, case):
        called = call_target(ctx, target, case)
        ctx.forget(called.cache)
        out, x = called.outputs["out"], case.args["x"]
        require_like("out", out, x)
        eps = _params(case).get("eps", 1e-5)
        var = x.var(axis=axis)
        try:
            assert_matches("statistics", {f"mean of out per {per}": out.mean(axis=axis),
                                          f"variance of out per {per}": out.var(axis=axis)},
                           {f"mean of out per {per}": np.zeros_like(var),
                            f"variance of out per {per}": var / (var + eps)}, what="mean 0 and variance var/(var + eps)")
        except PropertyFailure as failure:
            failure.summary = f"at gamma = 1, beta = 0 the output is not normalised per {per}: {failure.summary}"
            want = evaluate(ref_norm.batchnorm if axis == 0 else ref_norm.layernorm, case.args).output
            failure.hints += mistake_hints(mistakes, "output", case, want, out)
            raise
    return Property(f"normalises_per_{per}",
                    f"{target.function} at gamma 1, beta 0 gives each {per} mean 0 and variance var/(var + eps) ≈ 1",
                    check, bn_unit_cases if axis == 0 else ln_unit_cases)


def _running_statistics(ctx, case):
    """Two training steps on different batches, each carrying bn_param on from the last, then a
    test-mode call: the running statistics follow the contract's rule and test mode uses them."""
    d = case.args["x"].shape[1]
    rng = case.rng(5)
    batches = [case.args["x"], _spread_columns(rng, int(rng.integers(1, 7)), d)]
    bn_param = case.args["bn_param"]
    for step, x in enumerate(batches, start=1):
        step_case = case.with_args(x=x, bn_param=bn_param)
        outcome = call_target(ctx, BATCHNORM, step_case).outcome
        after = outcome.args_after[3]
        running = evaluate(ref_norm.batchnorm_running_stats, {"x": x, "bn_param": bn_param}).output
        want = {"running_mean": running[0], "running_var": running[1]}
        where = f"after training step {step} of 2"
        if not isinstance(after, dict) or not all(k in after for k in want):
            raise PropertyFailure(f"{where}, bn_param has no running_mean and running_var", hints=[WRITE_BACK])
        got = {k: after[k] for k in want}
        for k in want:
            require_array(f"bn_param[{k!r}]", got[k], (d,))
        if all(k in bn_param and np.array_equal(got[k], bn_param[k]) for k in want):
            raise PropertyFailure(f"{where}, bn_param's running statistics are unchanged", hints=[WRITE_BACK])
        try:
            assert_matches("running statistics", got, want)
        except PropertyFailure as failure:
            failure.summary = f"{where}: {failure.summary}"
            failure.hints += mistake_hints(running_mistakes, "running", step_case, want, got)
            raise
        bn_param = {**after, **want}
    test_case = case.with_args(x=_spread_columns(rng, int(rng.integers(1, 7)), d), bn_param={**bn_param, "mode": "test"})
    called = call_target(ctx, BATCHNORM, test_case)
    ctx.forget(called.cache)
    out = called.outputs["out"]
    want_out = evaluate(ref_norm.batchnorm, test_case.args).output
    require_like("out", out, want_out)
    try:
        assert_matches("output", {"out": out}, {"out": want_out})
    except PropertyFailure as failure:
        failure.summary = f"in test mode after two training steps: {failure.summary}"
        failure.hints += mistake_hints(bn_forward_mistakes, "output", test_case, want_out, out)
        raise
    after = called.outcome.args_after[3]
    for k in ("running_mean", "running_var"):
        if not (isinstance(after, dict) and isinstance(after.get(k), np.ndarray)
                and np.array_equal(after[k], test_case.args["bn_param"][k])):
            raise PropertyFailure(f"test mode changed bn_param[{k!r}]",
                                  hints=["Only training updates the running statistics; test mode only reads them."])


# ---------------------------------------------------------------------------------------------
# Initialisers


def compute_fans_properties() -> list[Property]:
    """compute_fans's properties: it runs, and gives the contract's (fan_in, fan_out)."""
    target = Target("compute_fans", ("fans",))

    def fans(ctx, case):
        got = call_target(ctx, target, case).outputs["fans"]
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not all(
                np.ndim(v) == 0 and isinstance(v, (int, float, np.ndarray)) for v in got):
            raise PropertyFailure("compute_fans should return a tuple of two ints (fan_in, fan_out)")
        return np.array([float(v) for v in got])

    def runs(ctx, case):
        fans(ctx, case)

    def matches(ctx, case):
        got = fans(ctx, case)
        want = np.array(ref_init.compute_fans(case.args["shape"]), dtype=np.float64)
        if not np.array_equal(got, want):
            raise PropertyFailure("compute_fans differs from the contract",
                                  details=[f"shape {case.args['shape']}: expected (fan_in, fan_out) = "
                                           f"{tuple(int(v) for v in want)}, got {tuple(got.tolist())}"],
                                  hints=mistake_hints(fans_mistakes, "fans", case, want, got))

    return [
        Property("runs_on_valid_inputs", "compute_fans runs on dense (D, M) and convolution (F, C, HH, WW) shapes and "
                 "returns two numbers", runs),
        Property("matches_contract", "compute_fans gives (D, M) for a dense weight and (C·HH·WW, F·HH·WW) for a "
                 "convolution", matches, weight=CORRECTNESS_WEIGHT),
    ]


def initializer_properties(name: str) -> list[Property]:
    """An initialiser's properties beyond the sampler kind's: its samples' statistics, and for a
    uniform one its bound."""
    uniform = name.endswith("uniform")
    mistakes = _variance_mistakes(name)

    def statistics(ctx, case):
        w, _ = sample(ctx, name, case)
        variance, bound = ref_init.initializer_distribution(name, case.args["shape"])
        n = w.size
        mean, second = float(np.mean(w)), float(np.mean(w.astype(np.float64) ** 2))
        if uniform:
            mean_bound = hoeffding_bound(n, 2 * bound)
            low, high = variance - hoeffding_bound(n, bound ** 2), variance + hoeffding_bound(n, bound ** 2)
            law = f"U(−{bound:.4g}, {bound:.4g}) (Hoeffding bounds)"
        else:
            mean_bound = normal_mean_bound(n, variance)
            low, high = (variance * r for r in chi_square_interval(n))
            law = f"N(0, {variance:.4g}) (Gaussian and chi-square tail bounds)"
        details = [f"{n} weights: mean {mean:.4g}, mean square {second:.4g}; for {law} a correct sample has "
                   f"|mean| <= {mean_bound:.3g} and mean square in [{low:.4g}, {high:.4g}] "
                   f"(each failing wrongly with probability below {FALSE_FAILURE_RATE:g})"]
        if abs(mean) > mean_bound:
            raise PropertyFailure(f"{name}'s weights do not have mean 0", details=details)
        if not low <= second <= high:
            relative = Tolerance(rtol=max(high / variance - 1, 1 - low / variance), atol=0.0)
            raise PropertyFailure(f"{name}'s weights do not have variance {variance:.4g} (the contract's)",
                                  details=details,
                                  hints=mistake_hints(mistakes, "variance", case, variance, np.array(second), tol=relative))

    def within_bounds(ctx, case):
        w, _ = sample(ctx, name, case)
        _, bound = ref_init.initializer_distribution(name, case.args["shape"])
        largest = float(np.max(np.abs(w)))
        # U(-a, a) never reaches beyond a; a few ulps of slack for a computed differently.
        if largest > bound * (1 + 1e-12):
            raise PropertyFailure(f"{name} drew a weight beyond the bound a of U(−a, a)",
                                  details=[f"max |w| = {largest:.6g} > a = {bound:.6g}"], hints=[UNIFORM_NOT_NORMAL])

    large = _init_cases(large_shapes)
    return [
        Property("sample_statistics", f"{name}'s weights have mean 0 and the contract's variance, within statistical "
                 f"bounds (false-failure rate {FALSE_FAILURE_RATE:g} per check)", statistics, large, CORRECTNESS_WEIGHT),
        *([Property("within_bounds", f"{name}'s weights lie in [−a, a]", within_bounds, large)] if uniform else []),
    ]
