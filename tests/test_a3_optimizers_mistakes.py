"""Planted mistakes in the a3_optimizers solutions: the checker must catch every one, and correct
solutions written another way (CS231n's style, in place, loops) must pass.

The harness is `tests/mutants.py`; each mutant names the properties it must fail and the hint it
must show.
"""

from __future__ import annotations

import textwrap

import pytest

from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.release import release
from helpers import copy_solutions, manifest_exercises
from mutants import SEEDS, M, Mutant, check_planted

A3 = "a3_optimizers"
ASSIGNMENT = A3  # this file's mutant table, for the coverage tests of tests/test_mutants.py

SIGN = "Step against the gradient"
TORCH_MOMENTUM = "torch's"
MOMENTUM_SIGN = "Momentum sign"
EPS_OUTSIDE = "epsilon goes outside the square root"
T_FIRST = "incremented BEFORE it is used"
T_STARTS_AT_1 = "Spring 2017 starter code"
BIAS = "need bias correction"
DEFAULTS = "use the contract's default"
NOT_GLOBALS = "not in globals"
STATE_NAMES = "under the contract's names"
KEEP_DTYPE = "Keep the input's dtype"
RETURN_CONFIG = "Start from `if config is None"
NO_DW_WRITES = "Never write into dw"
GLOBAL_NORM = "Clip by the GLOBAL norm"
NORM_BEFORE = "total_norm is the global norm BEFORE clipping"
ONLY_ABOVE = "Scale only when total_norm > max_norm"
SQRT = "square root of the sum of squares"
COPY_INPUT = "Work on a copy"

# A correct rule that keeps its state in a module global (one per shape of w, so that a run of
# one optimizer works) instead of the config it returns.
_GLOBAL_STATE = """
_state = {{}}


def {name}(w, dw, config=None):
    config = dict(config or {{}})
    if w.shape in _state:
        config.update(_state[w.shape])
    next_w, config = _solution_{name}(w, dw, config)
    _state[w.shape] = {{k: config[k] for k in {keys!r}}}
    return next_w, config
"""


def global_state(name: str, keys: tuple[str, ...]) -> str:
    """The solution's rule, but its state comes from the last call of ANY optimizer."""
    return f"_solution_{name} = {name}\n" + _GLOBAL_STATE.format(name=name, keys=keys)


MUTANTS = [
    # ---------------------------------------------------------------------------------------- sgd
    M("sgd", "ascent", "sign", """
        def sgd(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-2)
            return w + config["learning_rate"] * dw, config
        """, ["matches_reference_over_steps"], hint=SIGN),
    M("sgd", "returns_w_only", "crash", """
        def sgd(w, dw, config=None):
            return w - 1e-2 * dw
        """, ["runs_on_valid_inputs"]),
    M("sgd", "returns_none_config", "structure", """
        def sgd(w, dw, config=None):
            lr = (config or {}).get("learning_rate", 1e-2)
            return w - lr * dw, None
        """, ["returns_next_w_and_config"], hint=RETURN_CONFIG),
    M("sgd", "first_learning_rate_kept", "globals", """
        _lr = []
        def sgd(w, dw, config=None):
            config = config or {}
            if not _lr:
                _lr.append(config.get("learning_rate", 1e-2))
            return w - _lr[0] * dw, config
        """, ["optimizers_are_independent", "matches_reference_over_steps"]),
    M("sgd", "default_lr", "defaults", """
        def sgd(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-3)
            return w - config["learning_rate"] * dw, config
        """, ["applies_defaults"], hint=DEFAULTS),
    M("sgd", "scales_dw_in_place", "mutates_input", """
        def sgd(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-2)
            dw *= config["learning_rate"]
            return w - dw, config
        """, ["dw_unchanged"], hint=NO_DW_WRITES),
    M("sgd", "upcast", "float32_upcast", """
        def sgd(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-2)
            return np.asarray(w, dtype=float) - config["learning_rate"] * dw, config
        """, ["preserves_float32"], hint=KEEP_DTYPE),

    # ------------------------------------------------------------------------------ sgd_momentum
    M("sgd_momentum", "torch_form", "convention", """
        def sgd_momentum(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-2)
            config.setdefault("momentum", 0.9)
            v = config["momentum"] * config.get("velocity", np.zeros_like(w)) + dw
            config["velocity"] = v
            return w - config["learning_rate"] * v, config
        """, ["matches_reference_over_steps", "config_holds_state"], hint=TORCH_MOMENTUM),
    M("sgd_momentum", "added_gradient", "sign", """
        def sgd_momentum(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-2)
            config.setdefault("momentum", 0.9)
            v = config["momentum"] * config.get("velocity", np.zeros_like(w)) - config["learning_rate"] * dw
            config["velocity"] = v
            return w - v, config
        """, ["matches_reference_over_steps"], hint=MOMENTUM_SIGN),
    M("sgd_momentum", "fresh_velocity", "stateless", """
        def sgd_momentum(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-2)
            config.setdefault("momentum", 0.9)
            v = config["momentum"] * np.zeros_like(w) - config["learning_rate"] * dw
            config["velocity"] = v
            return w + v, config
        """, ["matches_reference_over_steps", "config_holds_state"]),
    M("sgd_momentum", "global_velocity", "globals", global_state("sgd_momentum", ("velocity",)),
      ["optimizers_are_independent"], hint=NOT_GLOBALS),

    # ------------------------------------------------------------------------- nesterov_momentum
    M("nesterov_momentum", "torch_form", "convention", """
        def nesterov_momentum(w, dw, config=None):
            config = config or {}
            lr, mu = config.setdefault("learning_rate", 1e-2), config.setdefault("momentum", 0.9)
            v = mu * config.get("velocity", np.zeros_like(w)) + dw
            config["velocity"] = v
            return w - lr * (dw + mu * v), config
        """, ["matches_reference_over_steps"], hint=TORCH_MOMENTUM),
    M("nesterov_momentum", "plus_v_prev", "sign", """
        def nesterov_momentum(w, dw, config=None):
            config = config or {}
            lr, mu = config.setdefault("learning_rate", 1e-2), config.setdefault("momentum", 0.9)
            v_prev = config.get("velocity", np.zeros_like(w))
            v = mu * v_prev - lr * dw
            config["velocity"] = v
            return w + mu * v_prev + (1 + mu) * v, config
        """, ["matches_reference_over_steps"], hint=MOMENTUM_SIGN),
    M("nesterov_momentum", "plain_momentum", "wrong_formula", """
        def nesterov_momentum(w, dw, config=None):
            config = config or {}
            lr, mu = config.setdefault("learning_rate", 1e-2), config.setdefault("momentum", 0.9)
            v = mu * config.get("velocity", np.zeros_like(w)) - lr * dw
            config["velocity"] = v
            return w + v, config
        """, ["matches_reference_over_steps"], hint="(w + v is plain momentum)"),
    M("nesterov_momentum", "state_named_v", "state_names", """
        def nesterov_momentum(w, dw, config=None):
            config = config or {}
            lr, mu = config.setdefault("learning_rate", 1e-2), config.setdefault("momentum", 0.9)
            v_prev = config.get("v", np.zeros_like(w))
            v = mu * v_prev - lr * dw
            config["v"] = v
            return w - mu * v_prev + (1 + mu) * v, config
        """, ["config_holds_state"], hint=STATE_NAMES),

    # ----------------------------------------------------------------------------------- adagrad
    M("adagrad", "eps_inside", "convention", """
        def adagrad(w, dw, config=None):
            config = config or {}
            lr, eps = config.setdefault("learning_rate", 1e-2), config.setdefault("epsilon", 1e-8)
            config["cache"] = config.get("cache", np.zeros_like(w)) + dw ** 2
            return w - lr * dw / np.sqrt(config["cache"] + eps), config
        """, ["matches_reference_over_steps"], hint=EPS_OUTSIDE),
    M("adagrad", "no_accumulation", "stateless", """
        def adagrad(w, dw, config=None):
            config = config or {}
            lr, eps = config.setdefault("learning_rate", 1e-2), config.setdefault("epsilon", 1e-8)
            config["cache"] = dw ** 2
            return w - lr * dw / (np.sqrt(config["cache"]) + eps), config
        """, ["matches_reference_over_steps"], hint="SUM of every squared gradient"),
    M("adagrad", "global_cache", "globals", global_state("adagrad", ("cache",)),
      ["optimizers_are_independent"], hint=NOT_GLOBALS),

    # ----------------------------------------------------------------------------------- rmsprop
    M("rmsprop", "eps_inside", "convention", """
        def rmsprop(w, dw, config=None):
            config = config or {}
            lr, d = config.setdefault("learning_rate", 1e-2), config.setdefault("decay_rate", 0.99)
            eps = config.setdefault("epsilon", 1e-8)
            config["cache"] = d * config.get("cache", np.zeros_like(w)) + (1 - d) * dw ** 2
            return w - lr * dw / np.sqrt(config["cache"] + eps), config
        """, ["matches_reference_over_steps"], hint=EPS_OUTSIDE),
    M("rmsprop", "swapped_decay", "wrong_formula", """
        def rmsprop(w, dw, config=None):
            config = config or {}
            lr, d = config.setdefault("learning_rate", 1e-2), config.setdefault("decay_rate", 0.99)
            eps = config.setdefault("epsilon", 1e-8)
            config["cache"] = (1 - d) * config.get("cache", np.zeros_like(w)) + d * dw ** 2
            return w - lr * dw / (np.sqrt(config["cache"]) + eps), config
        """, ["matches_reference_over_steps", "config_holds_state"], hint="weighs the OLD cache"),
    M("rmsprop", "float64_cache", "float32_upcast", """
        def rmsprop(w, dw, config=None):
            config = config or {}
            lr, d = config.setdefault("learning_rate", 1e-2), config.setdefault("decay_rate", 0.99)
            eps = config.setdefault("epsilon", 1e-8)
            config["cache"] = d * config.get("cache", np.zeros(w.shape)) + (1 - d) * dw ** 2
            return w - lr * dw / (np.sqrt(config["cache"]) + eps), config
        """, ["preserves_float32"], hint=KEEP_DTYPE),

    # -------------------------------------------------------------------------------------- adam
    M("adam", "t_after_use", "convention", """
        def adam(w, dw, config=None):
            c = config or {}
            lr, b1, b2 = c.setdefault("learning_rate", 1e-3), c.setdefault("beta1", 0.9), c.setdefault("beta2", 0.999)
            eps, t = c.setdefault("epsilon", 1e-8), c.setdefault("t", 0)
            c["m"] = b1 * c.get("m", np.zeros_like(w)) + (1 - b1) * dw
            c["v"] = b2 * c.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
            next_w = w - lr * (c["m"] / (1 - b1 ** t)) / (np.sqrt(c["v"] / (1 - b2 ** t)) + eps)
            c["t"] = t + 1
            return next_w, c
        """, ["matches_reference_over_steps"], hint=T_FIRST),
    M("adam", "no_bias_correction", "convention", """
        def adam(w, dw, config=None):
            c = config or {}
            lr, b1, b2 = c.setdefault("learning_rate", 1e-3), c.setdefault("beta1", 0.9), c.setdefault("beta2", 0.999)
            eps = c.setdefault("epsilon", 1e-8)
            c["t"] = c.get("t", 0) + 1
            c["m"] = b1 * c.get("m", np.zeros_like(w)) + (1 - b1) * dw
            c["v"] = b2 * c.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
            return w - lr * c["m"] / (np.sqrt(c["v"]) + eps), c
        """, ["matches_reference_over_steps"], hint=BIAS),
    M("adam", "eps_inside", "eps_placement", """
        def adam(w, dw, config=None):
            c = config or {}
            lr, b1, b2 = c.setdefault("learning_rate", 1e-3), c.setdefault("beta1", 0.9), c.setdefault("beta2", 0.999)
            eps = c.setdefault("epsilon", 1e-8)
            c["t"] = t = c.get("t", 0) + 1
            c["m"] = b1 * c.get("m", np.zeros_like(w)) + (1 - b1) * dw
            c["v"] = b2 * c.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
            return w - lr * (c["m"] / (1 - b1 ** t)) / np.sqrt(c["v"] / (1 - b2 ** t) + eps), c
        """, ["matches_reference_over_steps"], hint=EPS_OUTSIDE),
    M("adam", "global_moments", "globals", global_state("adam", ("m", "v", "t")),
      ["optimizers_are_independent"], hint=NOT_GLOBALS),
    # CS231n's Spring 2017 starter code sets config.setdefault('t', 1); students increment before use.
    M("adam", "cs231n_2017_t_starts_at_one", "step_counter", """
        def adam(x, dx, config=None):
            if config is None: config = {}
            config.setdefault('learning_rate', 1e-3)
            config.setdefault('beta1', 0.9)
            config.setdefault('beta2', 0.999)
            config.setdefault('epsilon', 1e-8)
            config.setdefault('m', np.zeros_like(x))
            config.setdefault('v', np.zeros_like(x))
            config.setdefault('t', 1)
            config['t'] += 1
            config['m'] = config['beta1'] * config['m'] + (1 - config['beta1']) * dx
            config['v'] = config['beta2'] * config['v'] + (1 - config['beta2']) * (dx ** 2)
            mb = config['m'] / (1 - config['beta1'] ** config['t'])
            vb = config['v'] / (1 - config['beta2'] ** config['t'])
            next_x = x - config['learning_rate'] * mb / (np.sqrt(vb) + config['epsilon'])
            return next_x, config
        """, ["matches_reference_over_steps"], hint=T_STARTS_AT_1),

    # ------------------------------------------------------------------------------------- adamw
    M("adamw", "coupled_decay", "convention", """
        def adamw(w, dw, config=None):
            config = config or {}
            config.setdefault("weight_decay", 1e-2)
            return adam(w, dw + config["weight_decay"] * w, config)
        """, ["matches_reference_over_steps"], hint="AdamW decouples weight decay"),
    M("adamw", "t_after_use", "step_counter", """
        def adamw(w, dw, config=None):
            c = config or {}
            lr, b1, b2 = c.setdefault("learning_rate", 1e-3), c.setdefault("beta1", 0.9), c.setdefault("beta2", 0.999)
            eps, t, wd = c.setdefault("epsilon", 1e-8), c.setdefault("t", 0), c.setdefault("weight_decay", 1e-2)
            w = w - lr * wd * w
            c["m"] = b1 * c.get("m", np.zeros_like(w)) + (1 - b1) * dw
            c["v"] = b2 * c.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
            next_w = w - lr * (c["m"] / (1 - b1 ** t)) / (np.sqrt(c["v"] / (1 - b2 ** t)) + eps)
            c["t"] = t + 1
            return next_w, c
        """, ["matches_reference_over_steps"], hint=T_FIRST),
    M("adamw", "default_decay", "defaults", """
        def adamw(w, dw, config=None):
            config = config or {}
            config.setdefault("learning_rate", 1e-3)
            config.setdefault("weight_decay", 0.0)
            decayed = w - config["learning_rate"] * config["weight_decay"] * w
            return adam(decayed, dw, config)
        """, ["applies_defaults"], hint=DEFAULTS),
    M("adamw", "t_starts_at_one", "step_counter", """
        def adamw(w, dw, config=None):
            c = {} if config is None else config
            lr, b1, b2 = c.setdefault("learning_rate", 1e-3), c.setdefault("beta1", 0.9), c.setdefault("beta2", 0.999)
            eps, wd = c.setdefault("epsilon", 1e-8), c.setdefault("weight_decay", 1e-2)
            c["t"] = t = c.get("t", 1) + 1
            w = w - lr * wd * w
            c["m"] = b1 * c.get("m", np.zeros_like(w)) + (1 - b1) * dw
            c["v"] = b2 * c.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
            return w - lr * (c["m"] / (1 - b1 ** t)) / (np.sqrt(c["v"] / (1 - b2 ** t)) + eps), c
        """, ["matches_reference_over_steps"], hint=T_STARTS_AT_1, focused=True),

    # ---------------------------------------------------------------------------- clip_grad_norm
    M("clip_grad_norm", "per_array", "local_norm", """
        def clip_grad_norm(grads, max_norm):
            clipped = {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}
            return clipped, float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
        """, ["matches_reference", "clipped_norm_is_max_norm", "direction_preserved"], hint=GLOBAL_NORM),
    M("clip_grad_norm", "norm_after", "wrong_norm", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            scale = min(1.0, max_norm / total)
            return {k: g * scale for k, g in grads.items()}, total * scale
        """, ["matches_reference", "total_norm_before_clipping"], hint=NORM_BEFORE),
    M("clip_grad_norm", "always_scales", "threshold", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            return {k: g * (max_norm / total) for k, g in grads.items()}, total
        """, ["matches_reference", "unchanged_below_threshold"], hint=ONLY_ABOVE),
    M("clip_grad_norm", "squared_norm", "wrong_norm", """
        def clip_grad_norm(grads, max_norm):
            total = float(sum(np.sum(g * g) for g in grads.values()))
            scale = max_norm / total if total > max_norm else 1.0
            return {k: g * scale for k, g in grads.items()}, total
        """, ["matches_reference", "total_norm_before_clipping"], hint=SQRT),
    M("clip_grad_norm", "elementwise_clip", "direction", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            return {k: np.clip(g, -max_norm / 4, max_norm / 4) for k, g in grads.items()}, total
        """, ["direction_preserved"]),
    M("clip_grad_norm", "in_place", "mutates_input", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            for g in grads.values():
                g *= min(1.0, max_norm / total)
            return dict(grads), total
        """, ["inputs_unchanged", "returns_new_arrays"], hint=COPY_INPUT),
    M("clip_grad_norm", "same_arrays_below", "aliasing", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            if total <= max_norm:
                return grads, total
            return {k: g * (max_norm / total) for k, g in grads.items()}, total
        """, ["returns_new_arrays"]),
    M("clip_grad_norm", "upcast", "float32_upcast", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            scale = max_norm / total if total > max_norm else 1.0
            return {k: g.astype(float) * scale for k, g in grads.items()}, total
        """, ["preserves_float32"], hint=KEEP_DTYPE),
    M("clip_grad_norm", "returns_list", "structure", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            scale = max_norm / total if total > max_norm else 1.0
            return [g * scale for g in grads.values()], total
        """, ["output_structure"]),
    M("clip_grad_norm", "crash", "crash", """
        def clip_grad_norm(grads, max_norm):
            return np.linalg.norm(list(grads.values())), max_norm
        """, ["runs_on_valid_inputs"]),
]

# Correct solutions written differently: CS231n's style (setdefault, in-place `w -= ...`,
# `next_w = w + v`), loops, other orders of the same arithmetic. Every one must pass.
CORRECT_VARIANTS = """
def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def nesterov_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v_prev = v.copy()
    v *= config["momentum"]
    v -= config["learning_rate"] * dw
    w += -config["momentum"] * v_prev + (1 + config["momentum"]) * v
    config["velocity"] = v
    return w, config


def adagrad(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    config["cache"] += dw ** 2
    w -= config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return w, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    cache = config["cache"]
    d = config["decay_rate"]
    cache = d * cache + (1 - d) * dw * dw
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    lr, beta1, beta2, eps = config["learning_rate"], config["beta1"], config["beta2"], config["epsilon"]
    config["t"] += 1
    t = config["t"]
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    mt = config["m"] / (1 - beta1 ** t)
    config["v"] = beta2 * config["v"] + (1 - beta2) * (dw ** 2)
    vt = config["v"] / (1 - beta2 ** t)
    w -= lr * mt / (np.sqrt(vt) + eps)
    return w, config


def adamw(w, dw, config=None):
    if config is None:
        config = {}
    for key, value in {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                       "weight_decay": 1e-2, "t": 0}.items():
        config.setdefault(key, value)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    t = config["t"] + 1
    w *= 1 - config["learning_rate"] * config["weight_decay"]
    m = config["beta1"] * m + (1 - config["beta1"]) * dw
    v = config["beta2"] * v + (1 - config["beta2"]) * dw * dw
    step_size = config["learning_rate"] / (1 - config["beta1"] ** t)
    denom = np.sqrt(v) / np.sqrt(1 - config["beta2"] ** t) + config["epsilon"]
    w -= step_size * m / denom
    config.update(m=m, v=v, t=t)
    return w, config


def clip_grad_norm(grads, max_norm):
    total = 0.0
    for g in grads.values():
        total += float(np.sum(g ** 2))
    total = total ** 0.5
    clipped = {}
    for name, g in grads.items():
        clipped[name] = g * (max_norm / total) if total > max_norm else g.copy()
    return clipped, total
"""


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant: Mutant, tmp_path):
    check_planted(A3, mutant, tmp_path)


def test_correct_variants_pass(tmp_path):
    folder = tmp_path / A3
    folder.mkdir()
    (folder / "optim.py").write_text("import numpy as np\n" + textwrap.dedent(CORRECT_VARIANTS))
    _, results = run_checks([A3], tmp_path, "grading", seed=0)
    failing = {r.name: [f"{p.name}: {p.message.splitlines()[0]}" for p in r.properties if not p.passed]
               for r in results if not r.passed}
    assert failing == {}


def test_released_stubs_fail_as_not_implemented(tmp_path):
    release(tmp_path, [A3])
    _, results = run_checks([A3], tmp_path, seed=1)
    assert sorted(r.name for r in results) == sorted(manifest_exercises(A3))
    assert [r.status for r in results] == ["not_implemented"] * len(results)
    assert all(r.points == 0 for r in results)


def test_the_hint_about_globals_comes_only_where_the_rule_alone_is_right(tmp_path):
    """A rule that is simply wrong fails the interleaving property too, but without the advice to
    keep state in the config; a rule whose state lives in a global gets it."""
    path = copy_solutions(tmp_path, A3)
    (path / "optim.py").write_text((path / "optim.py").read_text() + textwrap.dedent("""

        def sgd(w, dw, config=None):
            config = config or {}
            return w + config.setdefault("learning_rate", 1e-2) * dw, config
    """) + global_state("sgd_momentum", ("velocity",)))
    _, (wrong, stateful) = run_checks(["sgd", "sgd_momentum"], tmp_path, "grading", seed=SEEDS[0])
    interleaved = {r.name: next(p for p in r.properties if p.name == "optimizers_are_independent")
                   for r in (wrong, stateful)}
    assert not interleaved["sgd"].passed and not any(NOT_GLOBALS in h for h in interleaved["sgd"].hints)
    assert "wrong on its own too" in interleaved["sgd"].message
    assert not interleaved["sgd_momentum"].passed and any(NOT_GLOBALS in h for h in interleaved["sgd_momentum"].hints)


def test_a_rule_is_never_called_on_what_a_step_that_was_not_one_returned(tmp_path):
    """A run's steps go to the worker together, each given what the step before returned, but
    a step is made only where the one before returned (next_w, config) of the right shape: a
    rule that would hang on its own wrong return value is never given it, and the verdict is
    the wrong structure, in either mode."""
    from helpers import planted

    path = planted(tmp_path, "optim", """
        def sgd(w, dw, config=None):
            while config is not None and "poisoned" in config:  # never ends on what a wrong step returned
                pass
            config = {} if config is None else config
            next_w = w - config.setdefault("learning_rate", 1e-2) * dw
            return (next_w, {"poisoned": 1}, "one too many") if w.size > 3 else (next_w, config)
    """, assignment=A3)
    for sandbox in (False, True):
        _, (result,) = run_checks(["sgd"], path, "grading", seed=5, sandbox=sandbox, exercise_timeout=20)
        runs = result.properties[0]
        assert runs.name == "runs_on_valid_inputs" and not runs.passed
        assert "should return a tuple (next_w, config); got a tuple of 3" in runs.message, runs.message
        assert result.student_seconds < 5, "the rule was given what a wrong step returned"
