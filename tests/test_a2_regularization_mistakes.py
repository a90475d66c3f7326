"""Planted mistakes ("mutants") in the a2_regularization solutions: the checker must catch every
one; correct solutions written differently must pass; released stubs fail as not implemented.

The harness is `tests/mutants.py`; each mutant names the properties it must fail and the hint it
must show.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pytest

from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.release import release
from dlgrade.grader.boundary import wire
from dlgrade.grader.boundary.submission import InProcessSubmission, SeededGenerator
from helpers import copy_solutions, manifest_exercises
from mutants import M, Mutant, check_planted, exercises_of, plant, solution_sources

A2 = "a2_regularization"
ASSIGNMENT = A2  # this file's mutant table, for the coverage tests of tests/test_mutants.py
MIN_SPEC_HINTS = 15

KEEP = "probability of KEEPING a unit"
NO_RESCALE = "Inverted dropout divides the kept units by p"
TEST_IDENTITY = "In test mode inverted dropout is the identity"
NEW_MASK = "a mask drawn anew in the backward"
USE_SEED = "draw the mask from it"
COPY_INPUT = "Work on a copy"
NEW_DX = "Build dx as a new array"
NOT_GLOBALS = "not in globals"
KEEP_DTYPE = "Keep the input's dtype"
FRESH = "Return new arrays: a view of dout"
EXTRA_AXIS = "An extra axis of length 1"
BIASED = "Use the biased variance"
EPS_INSIDE = "eps goes inside the square root"
BN_AXIS = "Batch norm's statistics are per feature"
LN_AXIS = "Layer norm's statistics are per example"
MOMENTUM = "momentum is the share of the OLD running value"
WRITE_BACK = "Write the updated statistics back"
TEST_RUNNING = "In test mode normalise with bn_param's running_mean"
TEST_READS = "test mode only reads them"
ALL_PATHS = "x reaches the loss through x̂ directly"
SUMS = "are SUMS over the batch"
SWAPPED = "fan_in is the size of the input side"
RECEPTIVE = "times the kernel size"
STD = "rng.normal takes the standard deviation"
SQRT_BOUND = "The uniform bound is a square root"
HE_GAIN = "He (Kaiming) initialisation has variance 2 / fan_in"
UNIFORM = "A uniform initialiser draws from U(−a, a)"
ONLY_RNG = "Draw every number from the rng argument"

# A batchnorm forward to edit: {train} computes mean and var from x, {update} the running statistics.
_BN = """
def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    d = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(d))
    rv = bn_param.get("running_var", np.zeros(d))
    if bn_param["mode"] == "train":
        {train}
        {update}
    else:
        {test}
    x_hat = (x - mean) / {denominator}
    return gamma * x_hat + beta, (x, x_hat, mean, 1 / np.sqrt(var + eps), gamma)
"""


def bn(train="mean, var = x.mean(axis=0), x.var(axis=0)",
       update='bn_param["running_mean"] = momentum * rm + (1 - momentum) * mean; '
              'bn_param["running_var"] = momentum * rv + (1 - momentum) * var',
       test="mean, var = rm, rv", denominator="np.sqrt(var + eps)") -> str:
    return _BN.format(train=train, update=update, test=test, denominator=denominator)


_LN = """
def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mean, var = {stats}
    x_hat = (x - mean) / {denominator}
    return gamma * x_hat + beta, (x_hat, 1 / np.sqrt(var + eps), gamma)
"""


def ln(stats="x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)", denominator="np.sqrt(var + eps)") -> str:
    return _LN.format(stats=stats, denominator=denominator)


# A batchnorm backward to edit (closed form); {name} is batchnorm_backward or batchnorm_backward_alt.
_BN_BACKWARD = """
def {name}(dout, cache):
    x, x_hat, mean, inv_std, gamma = cache
    n = x.shape[0]
    dbeta = {dbeta}
    dgamma = {dgamma}
    dx = {dx}
    return dx, dgamma, dbeta
"""
_CLOSED_DX = "(gamma * inv_std / n) * (n * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))"


def bn_backward(name, dbeta="dout.sum(axis=0)", dgamma="(dout * x_hat).sum(axis=0)", dx=_CLOSED_DX) -> str:
    return _BN_BACKWARD.format(name=name, dbeta=dbeta, dgamma=dgamma, dx=dx)


_GLOBAL_BN = """
_solution_batchnorm_forward = batchnorm_forward
_last_cache = None


def batchnorm_forward(x, gamma, beta, bn_param):
    global _last_cache
    out, _last_cache = _solution_batchnorm_forward(x, gamma, beta, bn_param)
    return out, _last_cache


_solution_{name} = {name}


def {name}(dout, cache):
    return _solution_{name}(dout, _last_cache)
"""


def init(name: str, body: str) -> str:
    return f"\ndef {name}(shape, rng):\n    fan_in, fan_out = compute_fans(shape)\n    {body}\n"


def backward_mutants(name: str) -> list[Mutant]:
    """The same kinds of mistake in either batchnorm backward."""
    return [
        M(name, "dbeta_keepdims", "wrong_shape", bn_backward(name, dbeta="dout.sum(axis=0, keepdims=True)"),
          ["gradient_shapes", "vjp_matches_reference"], hint=EXTRA_AXIS),
        M(name, "direct_path_only", "wrong_value", bn_backward(name, dx="dout * gamma * inv_std"),
          ["vjp_matches_reference"], hint=ALL_PATHS),
        M(name, "means", "sum_vs_mean", bn_backward(name, dbeta="dout.mean(axis=0)", dgamma="(dout * x_hat).mean(axis=0)"),
          ["vjp_matches_reference"], hint=SUMS),
        M(name, "global_cache", "global_cache", _GLOBAL_BN.format(name=name), ["caches_are_independent"], hint=NOT_GLOBALS),
        M(name, "dout_in_place", "mutates_input", f"""
            _solution_{name} = {name}


            def {name}(dout, cache):
                dx, dgamma, dbeta = _solution_{name}(dout.copy(), cache)
                dout *= 2
                return dx, dgamma, dbeta
            """, ["inputs_unchanged"], hint=NEW_DX),
        M(name, "dbeta_is_cached_array", "aliasing", f"""
            _solution_{name} = {name}


            def {name}(dout, cache):
                dx, dgamma, dbeta = _solution_{name}(dout, cache)
                return dx, dgamma, cache[4]  # gamma's array itself, not a new one
            """, ["gradients_are_fresh_arrays", "vjp_matches_reference"], hint=FRESH),
        M(name, "float64_constant", "float32_upcast", f"""
            _solution_{name} = {name}


            def {name}(dout, cache):
                dx, dgamma, dbeta = _solution_{name}(dout, cache)
                return dx.astype(np.float64), dgamma, dbeta
            """, ["preserves_float32"], hint=KEEP_DTYPE),
        M(name, "crash_on_batch_of_one", "crash", bn_backward(name, dx=f"{_CLOSED_DX} * (1 / (n - 1)) * (n - 1)"),
          ["runs_on_valid_inputs"]),
    ]


MUTANTS = [
    # ---------------------------------------------------------------------------- dropout_forward
    M("dropout_forward", "no_rescale", "non_inverted", """
        def dropout_forward(x, dropout_param):
            mask = np.random.rand(*x.shape) < dropout_param["p"]
            out = x * mask if dropout_param["mode"] == "train" else x * dropout_param["p"]
            return out, (dropout_param, mask)
        """, ["train_output_is_masked_and_rescaled", "test_mode_is_identity"], hint=(NO_RESCALE, TEST_IDENTITY)),
    M("dropout_forward", "drop_probability", "keep_vs_drop", """
        def dropout_forward(x, dropout_param):
            p = dropout_param["p"]
            mask = np.random.rand(*x.shape) < 1 - p      # p taken as the probability of dropping
            out = x * mask / p if dropout_param["mode"] == "train" else x.copy()
            return out, (dropout_param, mask)
        """, ["keep_rate_matches_p", "keeps_everything_at_p_1"], hint=KEEP),
    M("dropout_forward", "torch_convention", "keep_vs_drop", """
        def dropout_forward(x, dropout_param):
            p = dropout_param["p"]
            mask = np.random.rand(*x.shape) > p
            out = x * mask / (1 - p) if dropout_param["mode"] == "train" else x.copy()
            return out, (dropout_param, mask)
        """, ["train_output_is_masked_and_rescaled", "keep_rate_matches_p"], hint=KEEP),
    M("dropout_forward", "ignores_seed", "random_state", """
        def dropout_forward(x, dropout_param):
            mask = np.random.default_rng().random(x.shape) < dropout_param["p"]
            out = x * mask / dropout_param["p"] if dropout_param["mode"] == "train" else x.copy()
            return out, (dropout_param, mask)
        """, ["same_seed_same_mask"], hint=USE_SEED),
    M("dropout_forward", "test_mode_not_handled", "crash", """
        def dropout_forward(x, dropout_param):
            assert dropout_param["mode"] == "train"
            mask = np.random.rand(*x.shape) < dropout_param["p"]
            return x * mask / dropout_param["p"], (dropout_param, mask)
        """, ["runs_on_valid_inputs"]),
    M("dropout_forward", "zeroes_x_in_place", "mutates_input", """
        def dropout_forward(x, dropout_param):
            mask = np.random.rand(*x.shape) < dropout_param["p"]
            if dropout_param["mode"] == "train":
                x *= mask
                x /= dropout_param["p"]
            return x.copy(), (dropout_param, mask)
        """, ["inputs_unchanged"], hint=COPY_INPUT),
    M("dropout_forward", "float_mask", "float32_upcast", """
        def dropout_forward(x, dropout_param):
            mask = (np.random.rand(*x.shape) < dropout_param["p"]) / dropout_param["p"]
            out = x * mask if dropout_param["mode"] == "train" else x.copy()
            return out, (dropout_param, mask)
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("dropout_forward", "returns_mask_shape", "wrong_shape", """
        def dropout_forward(x, dropout_param):
            mask = np.random.rand(*x.shape) < dropout_param["p"]
            out = x * mask / dropout_param["p"] if dropout_param["mode"] == "train" else x.copy()
            return out.reshape(-1), (dropout_param, mask)
        """, ["output_shape_and_dtype"]),

    # --------------------------------------------------------------------------- dropout_backward
    M("dropout_backward", "new_mask", "new_mask", """
        def dropout_backward(dout, cache):
            dropout_param, _ = cache
            if dropout_param["mode"] == "test":
                return dout.copy()
            p = dropout_param["p"]
            return dout * (np.random.rand(*dout.shape) < p) / p
        """, ["vjp_matches_reference"], hint=NEW_MASK),
    M("dropout_backward", "no_rescale", "non_inverted", """
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            return dout * mask if dropout_param["mode"] == "train" else dout.copy()
        """, ["vjp_matches_reference"], hint=NO_RESCALE),
    M("dropout_backward", "test_scaled", "test_scaling", """
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            p = dropout_param["p"]
            return dout * mask / p if dropout_param["mode"] == "train" else dout * p
        """, ["test_mode_passes_dout"], hint=TEST_IDENTITY),
    M("dropout_backward", "mask_in_place", "mutates_input", """
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            if dropout_param["mode"] == "train":
                dout *= mask
                dout /= dropout_param["p"]
            return dout.copy()
        """, ["inputs_unchanged"], hint=NEW_DX),
    M("dropout_backward", "returns_dout_view", "aliasing", """
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            if dropout_param["mode"] == "train":
                np.multiply(dout, mask / dropout_param["p"], out=dout)
            return dout
        """, ["gradients_are_fresh_arrays"], hint=FRESH),
    M("dropout_backward", "float64", "float32_upcast", """
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            if dropout_param["mode"] == "train":
                return dout * mask / np.float64(dropout_param["p"]) * np.ones(1)
            return dout.copy()
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("dropout_backward", "global_mask", "global_cache", """
        _solution_dropout_forward = dropout_forward
        _last_mask = None


        def dropout_forward(x, dropout_param):
            global _last_mask
            out, cache = _solution_dropout_forward(x, dropout_param)
            _last_mask = cache[1]
            return out, cache


        def dropout_backward(dout, cache):
            dropout_param, _ = cache
            if dropout_param["mode"] == "test":
                return dout.copy()
            return dout * _last_mask / dropout_param["p"]
        """, ["caches_are_independent"], hint=NOT_GLOBALS),
    M("dropout_backward", "mask_none_in_test", "crash", """
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            return dout * mask.astype(dout.dtype) / dropout_param["p"]
        """, ["runs_on_valid_inputs"]),
    M("dropout_backward", "flattened", "wrong_shape", """
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            dx = dout * mask / dropout_param["p"] if dropout_param["mode"] == "train" else dout.copy()
            return dx.reshape(-1)
        """, ["gradient_shapes"], hint="reshape to"),

    # -------------------------------------------------------------------------- batchnorm_forward
    M("batchnorm_forward", "unbiased", "biased_variance", bn(train="mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)"),
      ["matches_reference", "normalises_per_feature", "running_statistics"]),
    M("batchnorm_forward", "unbiased_n_ge_2", "biased_variance",
      bn(train="mean, var = x.mean(axis=0), x.var(axis=0, ddof=1 if len(x) > 1 else 0)"),
      ["matches_reference", "normalises_per_feature", "running_statistics"], hint=BIASED),
    M("batchnorm_forward", "eps_outside", "eps_placement", bn(denominator="(np.sqrt(var) + eps)"),
      ["matches_reference"], hint=EPS_INSIDE),
    M("batchnorm_forward", "wrong_axis", "wrong_axis",
      bn(train="mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)",
         update='bn_param["running_mean"] = momentum * rm + (1 - momentum) * x.mean(axis=0); '
                'bn_param["running_var"] = momentum * rv + (1 - momentum) * x.var(axis=0)'),
      ["matches_reference", "normalises_per_feature"], hint=BN_AXIS),
    M("batchnorm_forward", "momentum_swapped", "momentum",
      bn(update='bn_param["running_mean"] = (1 - momentum) * rm + momentum * mean; '
                'bn_param["running_var"] = (1 - momentum) * rv + momentum * var'),
      ["running_statistics"], hint=MOMENTUM),
    M("batchnorm_forward", "unbiased_running_var", "biased_variance",
      bn(update='bn_param["running_mean"] = momentum * rm + (1 - momentum) * mean; '
                'bn_param["running_var"] = momentum * rv + (1 - momentum) * x.var(axis=0, ddof=min(1, len(x) - 1))'),
      ["running_statistics"], hint=BIASED),
    M("batchnorm_forward", "no_write_back", "state", bn(update="rm = momentum * rm + (1 - momentum) * mean"),
      ["running_statistics"], hint=WRITE_BACK),
    M("batchnorm_forward", "batch_stats_in_test", "test_mode", bn(test="mean, var = x.mean(axis=0), x.var(axis=0)"),
      ["matches_reference", "running_statistics"], hint=TEST_RUNNING),
    M("batchnorm_forward", "test_mode_updates", "state",
      bn(test='mean, var = rm, rv; bn_param["running_mean"] = 0.5 * rm'), ["running_statistics"], hint=TEST_READS),
    M("batchnorm_forward", "centres_x_in_place", "mutates_input",
      bn(train="mean, var = x.mean(axis=0), x.var(axis=0); x -= 0; gamma *= 1.0; beta += 0.0; x[...] = x[::-1]"),
      ["inputs_unchanged"], hint=COPY_INPUT),
    M("batchnorm_forward", "float64_defaults", "float32_upcast", """
        _solution_batchnorm_forward = batchnorm_forward


        def batchnorm_forward(x, gamma, beta, bn_param):
            out, cache = _solution_batchnorm_forward(x, gamma, beta, bn_param)
            return out.astype(np.float64), cache
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("batchnorm_forward", "keepdims_out", "wrong_shape", """
        _solution_batchnorm_forward = batchnorm_forward


        def batchnorm_forward(x, gamma, beta, bn_param):
            out, cache = _solution_batchnorm_forward(x, gamma, beta, bn_param)
            return out[None], cache
        """, ["output_shape_and_dtype"], hint=EXTRA_AXIS),

    *backward_mutants("batchnorm_backward"),
    *backward_mutants("batchnorm_backward_alt"),

    # -------------------------------------------------------------------------- layernorm_forward
    M("layernorm_forward", "batch_axis", "wrong_axis", ln(stats="x.mean(axis=0), x.var(axis=0)"),
      ["matches_reference", "normalises_per_example"], hint=LN_AXIS),
    M("layernorm_forward", "unbiased", "biased_variance",
      ln(stats="x.mean(axis=1, keepdims=True), x.var(axis=1, ddof=1 if x.shape[1] > 1 else 0, keepdims=True)"),
      ["matches_reference", "normalises_per_example"], hint=BIASED),
    M("layernorm_forward", "eps_outside", "eps_placement", ln(denominator="(np.sqrt(var) + eps)"),
      ["matches_reference"], hint=EPS_INSIDE),
    M("layernorm_forward", "sets_mode", "mutates_input", """
        _solution_layernorm_forward = layernorm_forward


        def layernorm_forward(x, gamma, beta, ln_param):
            ln_param.setdefault("eps", 1e-5)
            return _solution_layernorm_forward(x, gamma, beta, ln_param)
        """, ["inputs_unchanged"], hint=COPY_INPUT),
    M("layernorm_forward", "upcast", "float32_upcast", ln(denominator="np.sqrt(var.astype(float) + eps)"),
      ["preserves_float32"], hint=KEEP_DTYPE),
    M("layernorm_forward", "no_keepdims", "crash", ln(stats="x.mean(axis=1), x.var(axis=1)"),
      ["runs_on_valid_inputs"]),
    M("layernorm_forward", "column_out", "wrong_shape", """
        _solution_layernorm_forward = layernorm_forward


        def layernorm_forward(x, gamma, beta, ln_param):
            out, cache = _solution_layernorm_forward(x, gamma, beta, ln_param)
            return out.T, cache
        """, ["output_shape_and_dtype"]),

    # ------------------------------------------------------------------------- layernorm_backward
    M("layernorm_backward", "direct_path_only", "wrong_value", """
        def layernorm_backward(dout, cache):
            x_hat, inv_std, gamma = cache
            return dout * gamma * inv_std, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        """, ["vjp_matches_reference"], hint=ALL_PATHS),
    M("layernorm_backward", "means", "sum_vs_mean", """
        _solution_layernorm_backward = layernorm_backward


        def layernorm_backward(dout, cache):
            dx, dgamma, dbeta = _solution_layernorm_backward(dout, cache)
            return dx, dgamma / len(dout), dbeta / len(dout)
        """, ["vjp_matches_reference"], hint=SUMS),
    M("layernorm_backward", "dgamma_keepdims", "wrong_shape", """
        _solution_layernorm_backward = layernorm_backward


        def layernorm_backward(dout, cache):
            dx, dgamma, dbeta = _solution_layernorm_backward(dout, cache)
            return dx, dgamma[None, :], dbeta
        """, ["gradient_shapes", "vjp_matches_reference"], hint=EXTRA_AXIS),
    M("layernorm_backward", "global_cache", "global_cache", """
        _solution_layernorm_forward, _solution_layernorm_backward = layernorm_forward, layernorm_backward
        _last = None


        def layernorm_forward(x, gamma, beta, ln_param):
            global _last
            out, _last = _solution_layernorm_forward(x, gamma, beta, ln_param)
            return out, _last


        def layernorm_backward(dout, cache):
            return _solution_layernorm_backward(dout, _last)
        """, ["caches_are_independent"], hint=NOT_GLOBALS),
    M("layernorm_backward", "scales_dout_in_place", "mutates_input", """
        _solution_layernorm_backward = layernorm_backward


        def layernorm_backward(dout, cache):
            grads = _solution_layernorm_backward(dout.copy(), cache)
            dout[...] = 0
            return grads
        """, ["inputs_unchanged"], hint=NEW_DX),
    M("layernorm_backward", "dbeta_view", "aliasing", """
        _solution_layernorm_backward = layernorm_backward


        def layernorm_backward(dout, cache):
            dx, dgamma, dbeta = _solution_layernorm_backward(dout, cache)
            return dx, dgamma, dx[0]
        """, ["gradients_are_fresh_arrays", "vjp_matches_reference"], hint=FRESH),
    M("layernorm_backward", "upcast", "float32_upcast", """
        _solution_layernorm_backward = layernorm_backward


        def layernorm_backward(dout, cache):
            dx, dgamma, dbeta = _solution_layernorm_backward(dout, cache)
            return dx.astype(float), dgamma, dbeta
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("layernorm_backward", "crash", "crash", """
        def layernorm_backward(dout, cache):
            x_hat, inv_std = cache
            return dout, dout, dout
        """, ["runs_on_valid_inputs"]),

    # ------------------------------------------------------------------------------- compute_fans
    M("compute_fans", "torch_layout", "swapped_fans", """
        def compute_fans(shape):
            receptive = int(np.prod(shape[2:]))
            return shape[1] * receptive, shape[0] * receptive   # torch's (out, in) for dense weights
        """, ["matches_contract"], hint=SWAPPED),
    M("compute_fans", "no_receptive_field", "receptive_field", """
        def compute_fans(shape):
            return (shape[0], shape[1]) if len(shape) == 2 else (shape[1], shape[0])
        """, ["matches_contract"], hint=RECEPTIVE),
    M("compute_fans", "dense_only", "crash", """
        def compute_fans(shape):
            fan_in, fan_out = shape
            return fan_in, fan_out
        """, ["runs_on_valid_inputs"]),
    M("compute_fans", "returns_array", "wrong_type", """
        def compute_fans(shape):
            return np.array([shape[0], shape[1]])
        """, ["runs_on_valid_inputs"]),

    # ---------------------------------------------------------------------------- initialisers
    M("xavier_uniform", "no_sqrt", "sqrt_bound", init("xavier_uniform", "a = 6 / (fan_in + fan_out)\n    "
                                                      "return rng.uniform(-a, a, shape)"),
      ["sample_statistics"], hint=SQRT_BOUND),
    M("xavier_uniform", "normal", "wrong_distribution", init("xavier_uniform", "return rng.normal(0, np.sqrt(2 / (fan_in + fan_out)), shape)"),
      ["within_bounds"], hint=UNIFORM),
    M("xavier_uniform", "global_state", "random_state", init("xavier_uniform", "a = np.sqrt(6 / (fan_in + fan_out))\n    "
                                                             "return np.random.uniform(-a, a, shape)"),
      ["draws_only_from_rng"], hint=ONLY_RNG),
    M("xavier_uniform", "half_interval", "wrong_mean", init("xavier_uniform", "a = np.sqrt(6 / (fan_in + fan_out))\n    "
                                                            "return rng.uniform(0, a, shape)"),
      ["sample_statistics"]),
    M("xavier_uniform", "float32", "wrong_dtype", init("xavier_uniform", "a = np.sqrt(6 / (fan_in + fan_out))\n    "
                                                       "return rng.uniform(-a, a, shape).astype(np.float32)"),
      ["output_shape_and_dtype"]),
    M("xavier_uniform", "rng_not_called", "crash", "\ndef xavier_uniform(shape, rng):\n    return rng(shape)\n",
      ["runs_on_valid_inputs"]),
    M("xavier_normal", "variance_as_std", "std_vs_variance",
      init("xavier_normal", "return rng.normal(0, 2 / (fan_in + fan_out), shape)"), ["sample_statistics"], hint=STD),
    M("xavier_normal", "fixed_seed", "random_state",
      init("xavier_normal", "return np.random.default_rng(0).normal(0, np.sqrt(2 / (fan_in + fan_out)), shape)"),
      ["draws_only_from_rng"], hint=ONLY_RNG),
    M("xavier_normal", "transposed", "wrong_shape",
      init("xavier_normal", "return rng.normal(0, np.sqrt(2 / (fan_in + fan_out)), shape[::-1])"),
      ["output_shape_and_dtype"]),
    M("kaiming_normal", "no_gain", "missing_gain", init("kaiming_normal", "return rng.normal(0, np.sqrt(1 / fan_in), shape)"),
      ["sample_statistics"], hint=HE_GAIN),
    M("kaiming_normal", "fan_out", "swapped_fans", init("kaiming_normal", "return rng.normal(0, np.sqrt(2 / fan_out), shape)"),
      ["sample_statistics"], hint=SWAPPED),
    M("kaiming_normal", "variance_as_std", "std_vs_variance",
      init("kaiming_normal", "return rng.normal(0, 2 / fan_in, shape)"), ["sample_statistics"], hint=STD),
    M("kaiming_normal", "unseeded", "random_state",
      init("kaiming_normal", "return np.random.default_rng().normal(0, np.sqrt(2 / fan_in), shape)"),
      ["draws_only_from_rng"], hint=ONLY_RNG),
    M("kaiming_uniform", "no_gain", "missing_gain", init("kaiming_uniform", "a = np.sqrt(3 / fan_in)\n    "
                                                         "return rng.uniform(-a, a, shape)"),
      ["sample_statistics"], hint=HE_GAIN),
    M("kaiming_uniform", "fan_out", "swapped_fans", init("kaiming_uniform", "a = np.sqrt(6 / fan_out)\n    "
                                                         "return rng.uniform(-a, a, shape)"),
      ["sample_statistics"], hint=SWAPPED),
    M("kaiming_uniform", "normal", "wrong_distribution", init("kaiming_uniform", "return rng.normal(0, np.sqrt(2 / fan_in), shape)"),
      ["within_bounds"], hint=UNIFORM),
    M("kaiming_uniform", "seeds_global", "random_state", init("kaiming_uniform", "a = np.sqrt(6 / fan_in)\n    "
                                                              "np.random.seed(int(rng.integers(2**31)))\n    "
                                                              "return np.random.uniform(-a, a, shape)"),
      ["draws_only_from_rng"], hint=ONLY_RNG),
]

# Normalisations checked at very different scales side by side (issue 13): a variance computed as
# mean(x**2) - mean**2 cancels where a feature's mean is far from 0 and its spread small.
SPREAD = "cancels catastrophically"
MUTANTS += [
    M("batchnorm_forward", "one_pass_variance", "numerics",
      bn(train="mean = x.mean(axis=0); var = np.maximum((x * x).mean(axis=0) - mean ** 2, 0.0)"),
      ["matches_reference_at_mixed_scales"], hint=SPREAD, focused=True),
    M("layernorm_forward", "one_pass_variance", "numerics",
      ln(stats="x.mean(axis=1, keepdims=True), np.maximum((x * x).mean(axis=1, keepdims=True) "
               "- x.mean(axis=1, keepdims=True) ** 2, 0.0)"),
      ["matches_reference_at_mixed_scales"], hint=SPREAD, focused=True),
    M("batchnorm_backward_alt", "recomputes_one_pass_variance", "numerics", """
        def batchnorm_backward_alt(dout, cache):
            x, x_hat, mean, inv_std, gamma = cache
            n = x.shape[0]
            eps = 1 / inv_std ** 2 - x.var(axis=0)
            inv_std = 1 / np.sqrt((x * x).mean(axis=0) - x.mean(axis=0) ** 2 + eps)   # recomputed, one pass
            x_hat = (x - x.mean(axis=0)) * inv_std
            dx = (gamma * inv_std / n) * (n * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))
            return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        """, ["matches_reference_at_mixed_scales"], hint=SPREAD, focused=True),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant: Mutant, tmp_path):
    check_planted(A2, mutant, tmp_path)


# Correct solutions written differently: they must pass every property.
VARIANTS = {
    "cs231n_dropout": """
        def dropout_forward(x, dropout_param):
            p, mode = dropout_param["p"], dropout_param["mode"]
            if "seed" in dropout_param:
                np.random.seed(dropout_param["seed"])
            mask = None
            if mode == "train":
                mask = (np.random.rand(*x.shape) < p) / p
                out = x * mask.astype(x.dtype)
            elif mode == "test":
                out = x
            cache = (dropout_param, mask)
            return out.astype(x.dtype, copy=False), cache


        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            if dropout_param["mode"] == "train":
                return dout * mask.astype(dout.dtype)
            return dout.copy()
        """,
    "graph_batchnorm": """
        def batchnorm_forward(x, gamma, beta, bn_param):
            mode = bn_param["mode"]
            eps = bn_param.get("eps", 1e-5)
            momentum = bn_param.get("momentum", 0.9)
            N, D = x.shape
            running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
            running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
            if mode == "train":
                mu = np.sum(x, axis=0) / N
                xmu = x - mu
                var = np.sum(xmu ** 2, axis=0) / N
                sqrtvar = np.sqrt(var + eps)
                ivar = 1 / sqrtvar
                xhat = xmu * ivar
                out = gamma * xhat + beta
                cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps)
                running_mean *= momentum
                running_mean += (1 - momentum) * mu
                running_var *= momentum
                running_var += (1 - momentum) * var
            else:
                out = (x - running_mean) / np.sqrt(running_var + eps) * gamma + beta
                out = out.astype(x.dtype)
                cache = None
            bn_param["running_mean"] = running_mean
            bn_param["running_var"] = running_var
            return out, cache


        def batchnorm_backward(dout, cache):
            xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
            N, D = dout.shape
            dbeta = np.sum(dout, axis=0)
            dgammax = dout
            dgamma = np.sum(dgammax * xhat, axis=0)
            dxhat = dgammax * gamma
            divar = np.sum(dxhat * xmu, axis=0)
            dxmu1 = dxhat * ivar
            dsqrtvar = -1.0 / (sqrtvar ** 2) * divar
            dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
            dsq = 1.0 / N * np.ones((N, D), dtype=dout.dtype) * dvar
            dxmu2 = 2 * xmu * dsq
            dx1 = dxmu1 + dxmu2
            dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
            dx2 = 1.0 / N * np.ones((N, D), dtype=dout.dtype) * dmu
            return dx1 + dx2, dgamma, dbeta


        def batchnorm_backward_alt(dout, cache):
            xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0)
            dgamma = (dout * xhat).sum(axis=0)
            dxhat = dout * gamma
            dx = (1.0 / N) * ivar * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
            return dx, dgamma, dbeta
        """,
    "transposed_layernorm": """
        def layernorm_forward(x, gamma, beta, ln_param):
            eps = ln_param.get("eps", 1e-5)
            xt = x.T
            mu = xt.mean(axis=0)
            var = ((xt - mu) ** 2).mean(axis=0)
            xhat = ((xt - mu) / np.sqrt(var + eps)).T
            return gamma * xhat + beta, (xhat, gamma, var, eps)


        def layernorm_backward(dout, cache):
            xhat, gamma, var, eps = cache
            D = xhat.shape[1]
            dgamma = np.sum(dout * xhat, axis=0)
            dbeta = np.sum(dout, axis=0)
            dxhat = (dout * gamma).T
            xh = xhat.T
            dx = (dxhat - dxhat.mean(axis=0) - xh * (dxhat * xh).mean(axis=0)) / np.sqrt(var + eps)
            return dx.T.copy(), dgamma, dbeta
        """,
    "other_draws": """
        def compute_fans(shape):
            if len(shape) == 2:
                fan_in, fan_out = shape
            else:
                f, c, *kernel = shape
                fan_in, fan_out = c * np.prod(kernel), f * np.prod(kernel)
            return fan_in, fan_out


        def xavier_uniform(shape, rng):
            a = np.sqrt(6.0 / sum(compute_fans(shape)))
            return a * (2 * rng.random(shape) - 1)


        def xavier_normal(shape, rng):
            return rng.standard_normal(shape) * np.sqrt(2.0 / sum(compute_fans(shape)))


        def kaiming_uniform(shape, rng):
            bound = np.sqrt(3.0) * np.sqrt(2.0 / compute_fans(shape)[0])
            return rng.uniform(low=-bound, high=bound, size=shape)


        def kaiming_normal(shape, rng):
            return np.sqrt(2.0 / compute_fans(shape)[0]) * rng.normal(size=shape)
        """,
}
_VARIANT_MODULES = {"cs231n_dropout": "dropout", "graph_batchnorm": "normalization", "transposed_layernorm": "normalization",
                    "other_draws": "init"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_correct_variants_pass(variant, tmp_path):
    module = _VARIANT_MODULES[variant]
    names = [e.name for e in exercises_of(A2) if e.module == module]
    plant(tmp_path, A2, solution_sources(A2), Mutant(names[0], variant, "variant", textwrap.dedent(VARIANTS[variant]), ()))
    _, results = run_checks(names, tmp_path, "grading", seed=0)
    failing = {r.name: [f"{p.name}: {p.message.splitlines()[0]}" for p in r.properties if not p.passed]
               for r in results if not r.passed}
    assert failing == {}


def test_released_stubs_fail_as_not_implemented(tmp_path):
    release(tmp_path, [A2])
    _, results = run_checks([A2], tmp_path, seed=1)
    assert sorted(r.name for r in results) == sorted(manifest_exercises(A2))
    assert [r.status for r in results] == ["not_implemented"] * len(results)
    assert all(r.points == 0 for r in results)


def test_a_generator_crosses_as_its_seed_and_global_random_use_is_reported(tmp_path):
    copy_solutions(tmp_path, A2)
    (tmp_path / A2 / "init.py").write_text((tmp_path / A2 / "init.py").read_text() + "\n\ndef from_global(shape, rng):\n"
                                           "    return np.random.rand(*shape)\n")
    with InProcessSubmission(tmp_path) as sub:
        one, two = (sub.call(A2, "init", "xavier_normal", [(3, 4), SeededGenerator(9)]) for _ in range(2))
        assert one.error is None and np.array_equal(one.value, two.value)
        assert np.array_equal(one.value, np.random.default_rng(9).normal(0, np.sqrt(2 / 7), (3, 4)))
        assert one.args_after[1] == SeededGenerator(9) and not one.global_random_used
        assert sub.call(A2, "init", "from_global", [(2,), SeededGenerator(1)]).global_random_used


def test_a_generator_crosses_the_wire_as_its_seed():
    back = wire.receive(io.BytesIO(wire.encode({"args": [(3, 4), SeededGenerator(2**40)]})))
    assert back["args"] == [(3, 4), SeededGenerator(2**40)]


def test_sandboxed_and_in_process_verdicts_agree_on_randomness(tmp_path):
    kaiming = next(m for m in MUTANTS if m.name == "kaiming_uniform-seeds_global")
    plant(tmp_path, A2, solution_sources(A2), kaiming)
    names = ["kaiming_uniform", "xavier_normal", "dropout_forward"]
    runs = [run_checks(names, tmp_path, "grading", seed=2, sandbox=s)[1] for s in (False, True)]
    as_text = [[(r.name, r.points, [(p.name, p.passed, p.message, p.hints) for p in r.properties]) for r in rs]
               for rs in runs]
    assert as_text[0] == as_text[1]
    assert [r.points for r in runs[1]] == [0.0, 1.0, 2.0]
