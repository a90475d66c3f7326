"""Assignment a2_regularization: every exercise declared once.

Batch and layer normalisation get the generic layer properties (values and vector-Jacobian
products against the torch references) plus their own invariants and, for batch norm, the running
statistics as state carried across calls. Dropout and the initialisers are random, so their
properties are written here: dropout's mask is recovered from the student's own output (inputs
have no zeros), and the initialisers (declared with the `sampler` kind, which also holds them to
drawing only from the rng they are given) are judged by the statistics of their samples.

Statistical checks are set for a false-failure rate of `FALSE_FAILURE_RATE` per check (see
`Bounds` below): a property makes at most three checks on a case and the profiles draw at most
100 cases, so a correct solution fails a statistical property in fewer than 1e-6 of runs.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import dlgrade.reference.a2_regularization.dropout as ref_dropout
import dlgrade.reference.a2_regularization.init as ref_init
import dlgrade.reference.a2_regularization.normalization as ref_norm
from dlgrade.checkers.declare import (ARGUMENTS, sample, sampler, BACKWARD_NOT_CHECKED, CORRECTNESS_WEIGHT, FLOAT32, FLOAT64, INDEPENDENT_CACHES,
                                      UPSTREAM, assert_matches, backward_properties, batch_sizes, best_effort,
                                      call_target, Case, cases, dims, evaluate, examples, Exercise,
                                      explain_interference, float32_property, fresh_property, layer, Mistake,
                                      mistake_hints, mixed_scales, optional, output_properties, Property,
                                      PropertyFailure, require_array, require_like, Run, SeededGenerator, seeds,
                                      spread_groups, Target, Tolerance, unchanged_property, upstream, values)

A = "a2_regularization"

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


# ---------------------------------------------------------------------------------------------
# Dropout

KEEP_NOT_DROP = ("p is the probability of KEEPING a unit: mask = np.random.rand(*x.shape) < p and out = x·mask/p "
                 "(not 1 − p).")
NO_RESCALE = ("Inverted dropout divides the kept units by p in training (out = x·mask/p) so that test mode needs no "
              "change; the backward scales by 1/p too.")
TEST_IS_IDENTITY = "In test mode inverted dropout is the identity: out = x and dx = dout, with no scaling by p."
NEW_MASK = ("Use the mask that the forward stored in its cache: a mask drawn anew in the backward drops other units "
            "than the forward did.")
USE_SEED = ("When dropout_param has a 'seed', draw the mask from it (np.random.default_rng(seed), or "
            "np.random.seed(seed) before drawing) so that the same seed gives the same mask.")

DROPOUT = Target("dropout_forward", cache=True)
_KEEP_PROBABILITIES = [0.25, 0.5, 0.6, 0.8, 0.9]
#: For the keep rate, p = 0.5 is left out: there keeping and dropping look alike.
_RATE_PROBABILITIES = [0.25, 0.3, 0.6, 0.75, 0.9]
#: Every case has at least this many units: two independent masks then differ but with
#: probability below 0.82^128 ≈ 1e-11 (p = 0.9), so a mask drawn anew is always seen.
_MIN_UNITS = 128


def _dropout_param(mode: str, p: float, seed: int | None) -> dict:
    return {"p": p, "mode": mode, **({} if seed is None else {"seed": seed})}


def _dropout_cases(modes: list[str], probabilities=_KEEP_PROBABILITIES, seeded: bool | None = None, rows=(1, 6),
                   units: int = _MIN_UNITS) -> st.SearchStrategy[Case]:
    """x (*lead, units) with no zeros (|x| >= 0.1, so a zero in the output is a dropped unit),
    and a dropout_param with a drawn p and mode and, unless `seeded` says, sometimes a seed."""
    seed_choice = {None: st.one_of(st.none(), seeds), True: seeds, False: st.none()}[seeded]

    def make(rng, lead, mode, p, seed):
        return {"x": values(rng, (*lead, units)), "dropout_param": _dropout_param(mode, p, seed)}

    return cases(make, lead=st.lists(st.integers(*rows), min_size=1, max_size=2), mode=st.sampled_from(modes),
                 p=st.sampled_from(probabilities), seed=seed_choice)


dropout_cases = _dropout_cases(["train", "test"])
dropout_train_cases = _dropout_cases(["train"])
dropout_test_cases = _dropout_cases(["test"])
dropout_seeded_cases = _dropout_cases(["train"], seeded=True)
#: 20 000 to 40 000 units: the keep rate is then within about ±0.023 of p (Hoeffding at 1e-9).
dropout_rate_cases = _dropout_cases(["train"], _RATE_PROBABILITIES, rows=(20, 40), units=1000)
KEEP_ALL = [Case({"x": values(np.random.default_rng(5), (3, 64)), "dropout_param": {"p": 1.0, "mode": "train"}}),
            Case({"x": values(np.random.default_rng(6), (200,)), "dropout_param": {"p": 1.0, "mode": "train", "seed": 7}})]


def _dropout_expected(case: Case, mask: np.ndarray | None) -> np.ndarray:
    """The reference's output for the mask recovered from the student's output."""
    param = case.args["dropout_param"]
    x = case.args["x"]
    mask = np.ones(x.shape) if mask is None else mask.astype(np.float64)
    return evaluate(ref_dropout.dropout, {"x": x, "mask": mask, "p": param["p"], "mode": param["mode"]}).output


def _dropout_vjp(case: Case, mask: np.ndarray, dout: np.ndarray) -> np.ndarray:
    param = case.args["dropout_param"]
    ev = evaluate(ref_dropout.dropout, {"x": case.args["x"], "mask": mask.astype(np.float64), "p": param["p"],
                                "mode": param["mode"]}, ("x",))
    return ev.vjp(dout)["x"]


dropout_forward_mistakes = [
    Mistake(NO_RESCALE, "output", lambda case, right, _: case.args["x"] * (right != 0)),
    Mistake(KEEP_NOT_DROP, "output",
            lambda case, right, _: case.args["x"] * (right != 0) / (1 - case.args["dropout_param"]["p"])),
    Mistake(TEST_IS_IDENTITY, "output", lambda case, right, _: case.args["x"] * case.args["dropout_param"]["p"]),
    Mistake(TEST_IS_IDENTITY, "output", lambda case, right, _: case.args["x"] / case.args["dropout_param"]["p"]),
]
dropout_backward_mistakes = [
    Mistake(NO_RESCALE, "gradients", lambda case, right, dout: {"x": dout * (right["x"] != 0)}),
    Mistake(TEST_IS_IDENTITY, "gradients", lambda case, right, dout: {"x": dout * case.args["dropout_param"]["p"]}),
]
keep_rate_mistakes = [Mistake(KEEP_NOT_DROP, "keep_rate", lambda case, right, _: np.array(1 - right))]


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


# ---------------------------------------------------------------------------------------------
# Batch and layer normalisation

BIASED_VARIANCE = ("Use the biased variance (divide by N: np.var's default, not ddof=1), in the normalisation and in "
                   "the running variance.")
EPS_INSIDE = "eps goes inside the square root: (x − mean) / np.sqrt(var + eps)."
BN_AXIS = "Batch norm's statistics are per feature: mean and variance over the batch, axis=0."
LN_AXIS = "Layer norm's statistics are per example: mean and variance over the features, axis=1 (keepdims=True)."
MOMENTUM = ("momentum is the share of the OLD running value that is kept: running = momentum·running + "
            "(1 − momentum)·batch (default momentum 0.9).")
WRITE_BACK = ("Write the updated statistics back into the dict: bn_param['running_mean'] = ... and "
              "bn_param['running_var'] = ... (missing ones start as zeros of shape (D,)).")
TEST_USES_RUNNING = "In test mode normalise with bn_param's running_mean and running_var, not the batch's statistics."
ALL_PATHS = ("x reaches the loss through x̂ directly and through the mean and the variance: "
             "dx = gamma·inv_std/N·(N·dout − Σdout − x̂·Σ(dout·x̂)), not just dout·gamma·inv_std.")
SUMS = "dgamma = Σ dout·x̂ and dbeta = Σ dout are SUMS over the batch (axis 0), not means."

_EPSILONS = [1e-5, 1e-3, 0.1]
#: 0.5 is left out: there momentum and 1 − momentum coincide.
_MOMENTA = [0.9, 0.8, 0.99, 0.6]


def _spread_columns(rng, n: int, d: int) -> np.ndarray:
    """(n, d) whose columns have a mean in [-2, 2] and a biased standard deviation in [0.5, 2]
    exactly (n >= 2): normalisation is well conditioned, and each feature's variance dwarfs eps."""
    z = rng.standard_normal((n, d))
    if n > 1:
        z = (z - z.mean(axis=0)) / z.std(axis=0)
    return z * rng.uniform(0.5, 2.0, d) + rng.uniform(-2.0, 2.0, d)


def _affine_params(rng, d: int, unit: bool = False) -> dict:
    if unit:
        return {"gamma": np.ones(d), "beta": np.zeros(d)}
    return {"gamma": values(rng, (d,), 0.5, 2.0), "beta": values(rng, (d,))}


def _bn(rng, n, d, mode, eps, momentum, running, unit=False):
    stats = {"running_mean": rng.normal(0.0, 1.0, d), "running_var": rng.uniform(0.5, 2.0, d)} if running else {}
    return {"x": _spread_columns(rng, n, d), **_affine_params(rng, d, unit),
            "bn_param": {"mode": mode, **eps, **momentum, **stats}}


def _bn_cases(modes: list[str], n=batch_sizes, unit: bool = False) -> st.SearchStrategy[Case]:
    return cases(lambda rng, **drawn: _bn(rng, unit=unit, **drawn), n=n, d=dims, mode=st.sampled_from(modes),
                 eps=optional("eps", _EPSILONS), momentum=optional("momentum", _MOMENTA), running=st.booleans())


bn_cases = _bn_cases(["train", "test"])
bn_train_cases = _bn_cases(["train"])
bn_unit_cases = _bn_cases(["train"], n=st.integers(2, 6), unit=True)


def _ln(rng, n, d, eps, unit=False):
    return {"x": _spread_columns(rng, d, n).T.copy(), **_affine_params(rng, d, unit), "ln_param": dict(eps)}


ln_cases = cases(_ln, n=batch_sizes, d=dims, eps=optional("eps", _EPSILONS))


def _bn_spread(rng, n, d, eps, running):
    stats = {"running_mean": rng.normal(0.0, 1.0, d), "running_var": rng.uniform(0.5, 2.0, d)} if running else {}
    return {"x": spread_groups(rng, (n, d), (1, d)), **_affine_params(rng, d), "bn_param": {"mode": "train", **eps, **stats}}


def _ln_spread(rng, n, d, eps):
    return {"x": spread_groups(rng, (n, d), (n, 1)), **_affine_params(rng, d), "ln_param": dict(eps)}


bn_spread_variant = mixed_scales(cases(_bn_spread, n=st.integers(2, 6), d=st.integers(2, 6),
                                       eps=optional("eps", _EPSILONS), running=st.booleans()))
ln_spread_variant = mixed_scales(cases(_ln_spread, n=st.integers(2, 6), d=st.integers(2, 6),
                                       eps=optional("eps", _EPSILONS)))
ln_unit_cases = cases(lambda rng, **drawn: _ln(rng, unit=True, **drawn), n=batch_sizes, d=st.integers(2, 6),
                      eps=optional("eps", _EPSILONS))


def _params(case: Case) -> dict:
    return case.args.get("bn_param", case.args.get("ln_param"))


def _normalised(case: Case, axis: int, ddof: int = 0, eps_outside: bool = False,
                stats: tuple | None = None) -> np.ndarray:
    """gamma·(x − mean)/sqrt(var + eps) + beta written the wrong ways a mistake model needs."""
    x, eps = case.args["x"], _params(case).get("eps", 1e-5)
    if x.shape[axis] - ddof <= 0:
        raise ValueError("the model does not apply")
    mean, var = stats if stats is not None else (x.mean(axis=axis, keepdims=True), x.var(axis=axis, ddof=ddof, keepdims=True))
    scale = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    return case.args["gamma"] * (x - mean) / scale + case.args["beta"]


def _train_only(model):
    def only_in_training(case, right, dout):
        if _params(case).get("mode", "train") != "train":
            raise ValueError("the model is of training mode")
        return model(case, right, dout)
    return only_in_training


def _test_stats(case: Case) -> tuple:
    bn = case.args["bn_param"]
    d = case.args["x"].shape[1]
    if bn.get("mode") != "test":
        raise ValueError("the model is of test mode")
    return bn.get("running_mean", np.zeros(d)), bn.get("running_var", np.zeros(d))


def _batch_stats_in_test(case: Case) -> np.ndarray:
    _test_stats(case)  # a model of test mode only
    return _normalised(case, 0)


bn_forward_mistakes = [
    Mistake(BIASED_VARIANCE, "output", _train_only(lambda case, right, _: _normalised(case, 0, ddof=1))),
    Mistake(EPS_INSIDE, "output", _train_only(lambda case, right, _: _normalised(case, 0, eps_outside=True))),
    Mistake(EPS_INSIDE, "output", lambda case, right, _: _normalised(case, 0, eps_outside=True, stats=_test_stats(case))),
    Mistake(BN_AXIS, "output", _train_only(lambda case, right, _: _normalised(case, 1))),
    Mistake(TEST_USES_RUNNING, "output", lambda case, right, _: _batch_stats_in_test(case)),
]
ln_forward_mistakes = [
    Mistake(BIASED_VARIANCE, "output", lambda case, right, _: _normalised(case, 1, ddof=1)),
    Mistake(EPS_INSIDE, "output", lambda case, right, _: _normalised(case, 1, eps_outside=True)),
    Mistake(LN_AXIS, "output", lambda case, right, _: _normalised(case, 0)),
]


def _direct_path_only(axis: int):
    """dx = dout·gamma·inv_std: the gradient through x̂ alone (the mean's and the variance's paths dropped)."""
    def model(case, right, dout):
        x, eps = case.args["x"], _params(case).get("eps", 1e-5)
        inv_std = 1 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
        return {**right, "x": dout * case.args["gamma"] * inv_std}
    return model


def _means_not_sums(case, right, dout):
    n = len(case.args["x"])
    return {**right, "gamma": right["gamma"] / n, "beta": right["beta"] / n}


bn_backward_mistakes = [Mistake(ALL_PATHS, "gradients", _direct_path_only(0)), Mistake(SUMS, "gradients", _means_not_sums)]
ln_backward_mistakes = [Mistake(ALL_PATHS, "gradients", _direct_path_only(1)), Mistake(SUMS, "gradients", _means_not_sums)]

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


def _next_running(case, right, _, momentum_swapped=False, ddof=0):
    bn, x = case.args["bn_param"], case.args["x"]
    d = x.shape[1]
    m = bn.get("momentum", 0.9)
    m = 1 - m if momentum_swapped else m
    if x.shape[0] - ddof <= 0:
        raise ValueError("the model does not apply")
    return {"running_mean": m * bn.get("running_mean", np.zeros(d)) + (1 - m) * x.mean(axis=0),
            "running_var": m * bn.get("running_var", np.zeros(d)) + (1 - m) * x.var(axis=0, ddof=ddof)}


running_mistakes = [
    Mistake(MOMENTUM, "running", lambda case, right, _: _next_running(case, right, _, momentum_swapped=True)),
    Mistake(BIASED_VARIANCE, "running", lambda case, right, _: _next_running(case, right, _, ddof=1)),
]


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


def _batchnorm_exercises() -> list[Exercise]:
    summary = "batch normalisation"
    forward = Exercise(
        "batchnorm_forward", A, "normalization", f"{summary}: forward",
        output_properties(BATCHNORM, ref_norm.batchnorm, bn_cases, bn_forward_mistakes, [bn_spread_variant])
        + [_normalises(BATCHNORM, 0, "feature", bn_forward_mistakes),
           Property("running_statistics", "two training steps update bn_param's running_mean and running_var by "
                    "running = momentum·running + (1 − momentum)·batch (biased variance; defaults momentum 0.9 and "
                    "zeros), and test mode normalises with them", _running_statistics, bn_train_cases)],
        bn_cases)
    backwards = [Exercise(name, A, "normalization", f"{summary}: backward ({how})",
                          backward_properties(BATCHNORM, name, ref_norm.batchnorm, bn_train_cases, ("x", "gamma", "beta"),
                                              bn_backward_mistakes, [bn_spread_variant]),
                          bn_train_cases, needs=("batchnorm_forward",))
                 for name, how in (("batchnorm_backward", "through the computation graph"),
                                   ("batchnorm_backward_alt", "closed form"))]
    return [forward, *backwards]


# ---------------------------------------------------------------------------------------------
# Initialisers

SWAPPED_FANS = ("fan_in is the size of the input side: D for a dense (D, M) weight used as x @ w (torch's "
                "(out, in) layout is the other way round), C·HH·WW for a convolution; fan_out is M, or F·HH·WW.")
RECEPTIVE_FIELD = "For a convolution (F, C, HH, WW): fan_in = C·HH·WW and fan_out = F·HH·WW (times the kernel size)."
STD_NOT_VARIANCE = ("rng.normal takes the standard deviation: scale = sqrt(variance), e.g. "
                    "np.sqrt(2 / (fan_in + fan_out)), not the variance itself.")
SQRT_BOUND = "The uniform bound is a square root: a = sqrt(6 / (fan_in + fan_out)) (Xavier), sqrt(6 / fan_in) (He)."
HE_GAIN = "He (Kaiming) initialisation has variance 2 / fan_in for ReLU layers (the gain 2), not 1 / fan_in."
UNIFORM_NOT_NORMAL = "A uniform initialiser draws from U(−a, a) (rng.uniform(-a, a, shape)): no value beyond a."
ONLY_RNG = ("Draw every number from the rng argument (rng.uniform, rng.normal, rng.standard_normal): not from "
            "np.random.* (the global state) nor from a generator of your own, so that the caller's seed decides.")


small_shapes = st.one_of(st.tuples(st.integers(1, 8), st.integers(1, 8)),
                           st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)))


@st.composite
def _unequal(draw, low: int, high: int) -> tuple[int, int]:
    """Two sizes, one 2 to 4 times the other in either order: swapping them changes He's variance."""
    small, factor = draw(st.integers(low, high)), draw(st.sampled_from([2, 3, 4]))
    return (small, small * factor) if draw(st.booleans()) else (small * factor, small)


#: Shapes of 4 608 to 360 000 weights with fan_in and fan_out at least a factor 2 apart.
large_shapes = st.one_of(_unequal(60, 150),
                           st.builds(lambda fc, k: (fc[0], fc[1], *k), _unequal(16, 40),
                                     st.tuples(st.sampled_from([3, 5]), st.sampled_from([3, 5]))))


def _init_cases(shapes: st.SearchStrategy) -> st.SearchStrategy[Case]:
    return st.builds(lambda shape, seed: Case({"shape": shape, "rng": SeededGenerator(seed)}, seed=seed), shapes, seeds)


fans_cases = st.builds(lambda shape: Case({"shape": shape}), st.one_of(
    st.tuples(st.integers(1, 600), st.integers(1, 600)),
    st.tuples(st.integers(1, 64), st.integers(1, 64), st.integers(1, 7), st.integers(1, 7))))


def _swapped_fans(case, right, _):
    return np.array(right[::-1])


def _without_receptive_field(case, right, _):
    shape = case.args["shape"]
    if len(shape) != 4:
        raise ValueError("a dense shape has no receptive field")
    return np.array([shape[1], shape[0]])


fans_mistakes = [Mistake(SWAPPED_FANS, "fans", _swapped_fans), Mistake(RECEPTIVE_FIELD, "fans", _without_receptive_field)]


def _compute_fans_exercise() -> Exercise:
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

    return Exercise("compute_fans", A, "init", "fan-in and fan-out of dense and convolution weights", [
        Property("runs_on_valid_inputs", "compute_fans runs on dense (D, M) and convolution (F, C, HH, WW) shapes and "
                 "returns two numbers", runs),
        Property("matches_contract", "compute_fans gives (D, M) for a dense weight and (C·HH·WW, F·HH·WW) for a "
                 "convolution", matches, weight=CORRECTNESS_WEIGHT),
    ], fans_cases)


def _variance_mistakes(name: str) -> list[Mistake]:
    """Models of the sample variance that known mistakes give; `right` is the contract's variance."""
    uniform = name.endswith("uniform")
    fans = lambda case: ref_init.compute_fans(case.args["shape"])  # noqa: E731
    if name.startswith("xavier"):
        # The variance (or, for a uniform, 6/(fan_in + fan_out)) used where its square root belongs.
        if uniform:  # a² = 3·variance
            return [Mistake(SQRT_BOUND, "variance", lambda case, right, _: (3 * right) ** 2 / 3)]
        return [Mistake(STD_NOT_VARIANCE, "variance", lambda case, right, _: right ** 2)]
    swapped = lambda case, right, _: 2.0 / fans(case)[1]  # noqa: E731
    mistakes = [Mistake(HE_GAIN, "variance", lambda case, right, _: right / 2),
                Mistake(SWAPPED_FANS, "variance", swapped)]
    if not uniform:
        mistakes.append(Mistake(STD_NOT_VARIANCE, "variance", lambda case, right, _: right ** 2))
    return mistakes


def _initializer_exercise(name: str, summary: str) -> list[Exercise]:
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
    return sampler(A, "init", name, _init_cases(small_shapes), [
        Property("sample_statistics", f"{name}'s weights have mean 0 and the contract's variance, within statistical "
                 f"bounds (false-failure rate {FALSE_FAILURE_RATE:g} per check)", statistics, large, CORRECTNESS_WEIGHT),
        *([Property("within_bounds", f"{name}'s weights lie in [−a, a]", within_bounds, large)] if uniform else []),
    ], f"{name}(shape, rng) runs on dense and convolution shapes", ONLY_RNG, summary)


# ---------------------------------------------------------------------------------------------
# The exercises

EXERCISES = [
    Exercise("dropout_forward", A, "dropout", "inverted dropout: forward", _dropout_forward_properties(), dropout_cases),
    Exercise("dropout_backward", A, "dropout", "inverted dropout: backward", _dropout_backward_properties(),
             dropout_cases, needs=("dropout_forward",)),
    *_batchnorm_exercises(),
    *layer(A, "normalization", "layernorm_forward", "layernorm_backward", ref_norm.layernorm, ln_cases,
           ("x", "gamma", "beta"), summary="layer normalisation", forward_mistakes=ln_forward_mistakes,
           variants=[ln_spread_variant],
           backward_mistakes=ln_backward_mistakes,
           forward_extra=[_normalises(Target("layernorm_forward", cache=True), 1, "example", ln_forward_mistakes)]),
    _compute_fans_exercise(),
    *_initializer_exercise("xavier_uniform", "Xavier/Glorot uniform initialisation"),
    *_initializer_exercise("xavier_normal", "Xavier/Glorot normal initialisation"),
    *_initializer_exercise("kaiming_uniform", "He/Kaiming uniform initialisation"),
    *_initializer_exercise("kaiming_normal", "He/Kaiming normal initialisation"),
]
