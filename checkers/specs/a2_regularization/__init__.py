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

import dlgrade.reference.a2_regularization.normalization as ref_norm
from dlgrade.checkers.declare import backward_properties, Exercise, layer, output_properties, Property, sampler, Target

from .inputs import _init_cases, bn_cases, bn_train_cases, dropout_cases, fans_cases, ln_cases, small_shapes
from .mistakes import bn_backward_mistakes, bn_forward_mistakes, ln_backward_mistakes, ln_forward_mistakes, ONLY_RNG
from .checks import (_dropout_backward_properties, _dropout_forward_properties, _normalises, _running_statistics,
                     BATCHNORM, bn_spread_variant, compute_fans_properties, initializer_properties, ln_spread_variant)


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
    return Exercise("compute_fans", A, "init", "fan-in and fan-out of dense and convolution weights",
                    compute_fans_properties(), fans_cases)


def _initializer_exercise(name: str, summary: str) -> list[Exercise]:
    return sampler(A, "init", name, _init_cases(small_shapes), initializer_properties(name),
                   f"{name}(shape, rng) runs on dense and convolution shapes", ONLY_RNG, summary)


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
