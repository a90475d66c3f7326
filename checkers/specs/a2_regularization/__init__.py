"""Assignment a2_regularization: every exercise declared once.

Batch and layer normalisation get the generic layer properties (values and vector-Jacobian
products against the torch references) plus their own invariants and, for batch norm, the running
statistics as state carried across calls. Dropout and the initialisers are random, so their
properties are written in `checks`: dropout's mask is recovered from the student's own output (inputs
have no zeros), and the initialisers (declared with the `sampler` kind, which also holds them to
drawing only from the rng they are given) are judged by the statistics of their samples.
The input strategies are in `inputs`, the known mistakes in `mistakes`.
"""

from __future__ import annotations

import numpy as np

import dlgrade.reference.a2_regularization.init as ref_init
import dlgrade.reference.a2_regularization.normalization as ref_norm
from dlgrade.checkers.declare import (backward_properties, call_target, CORRECTNESS_WEIGHT, Exercise, layer,
                                      mistake_hints, output_properties, Property, PropertyFailure, sample, sampler,
                                      Target, Tolerance)

from .inputs import (_init_cases, bn_cases, bn_train_cases, dropout_cases, fans_cases, large_shapes, ln_cases,
                     small_shapes)
from .mistakes import (_variance_mistakes, bn_backward_mistakes, bn_forward_mistakes, fans_mistakes,
                       ln_backward_mistakes, ln_forward_mistakes, ONLY_RNG, UNIFORM_NOT_NORMAL)
from .checks import (_dropout_backward_properties, _dropout_forward_properties, _normalises, _running_statistics,
                     BATCHNORM, bn_spread_variant, chi_square_interval, FALSE_FAILURE_RATE, hoeffding_bound,
                     ln_spread_variant, normal_mean_bound)


A = "a2_regularization"


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
