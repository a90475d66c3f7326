"""Assignment a3_optimizers: every exercise declared once.

An update rule `RULE(w, dw, config=None) -> (next_w, config)` is a state machine: `optimizer(...)`
below declares one with the `update_rule` kind, checked over several consecutive steps (drawn hyperparameters, shapes and
gradients, configs with keys left out or None, sometimes resuming from a given state), each step
getting back the config the student's own rule returned, against the reference run from the same
start. Known conventions that differ from the contract's (momentum without the learning rate in
the velocity, Adam's counter incremented after use, ...) are recognised by running the mistaken
rule over the same steps and named in the message. `clip_grad_norm` is a plain function with its
invariants.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import dlgrade.reference.a3_optimizers.optim as ref
from dlgrade.checkers.declare import (ARGUMENTS, CORRECTNESS_WEIGHT, FLOAT32, assert_matches, CallOutcome, Case,
                                      cases, Context, dims, evaluate, Exercise, float32_property, fresh_property,
                                      in_call_order, Mistake, Property, PropertyFailure, require_array,
                                      require_scalar, RuleWords, Run, Unchanged, unchanged_property, update_rule,
                                      values, values_close)

A = "a3_optimizers"
MODULE = "optim"


# ---------------------------------------------------------------------------------------------
# Input strategies: hypothesis draws the structure (shape, steps, which keys are given), numpy the values


def _round(x: float) -> float:
    """Three significant digits: readable in a failure message."""
    return float(f"{x:.3g}")


#: How each hyperparameter is drawn (from the case's generator).
HYPER = {
    "learning_rate": lambda rng: _round(10 ** rng.uniform(-3, -0.5)),
    "momentum": lambda rng: _round(rng.uniform(0.3, 0.95)),
    "decay_rate": lambda rng: _round(rng.uniform(0.5, 0.999)),
    "epsilon": lambda rng: _round(10 ** rng.uniform(-6, -1)),
    "beta1": lambda rng: _round(rng.uniform(0.5, 0.95)),
    "beta2": lambda rng: _round(rng.uniform(0.8, 0.9999)),
    "weight_decay": lambda rng: _round(10 ** rng.uniform(-3, -0.3)),
}


def _state(rng: np.random.Generator, key: str, shape) -> Any:
    """A state to resume from, as a config saved mid-training holds it."""
    if key == "t":
        return int(rng.integers(1, 50))
    if key in ("cache", "v"):
        return rng.uniform(0.05, 2.0, shape)
    return 0.1 * values(rng, shape)


def optimizer_cases(rule: str, defaults_only: bool = False) -> st.SearchStrategy[Case]:
    """w, the gradients of 3 to 6 steps (`dw_steps[k]` is step k's), and a config: left out of the
    call, None, or a dict with some hyperparameters (and, resuming, the state)."""
    hypers = [k for k in ref.DEFAULTS[rule] if k not in ref.STATE[rule]]
    forms = st.sampled_from(["omitted", "none", "empty"]) if defaults_only else st.sampled_from(["dict", "dict", "none", "omitted"])

    def make(rng, shape, steps, form, given, resume):
        w = values(rng, shape)
        dw_steps = values(rng, (steps, *shape)) * 10 ** rng.uniform(-1, 0.5)
        args = {"w": w, "dw_steps": dw_steps}
        if form == "none":
            args["config"] = None
        elif form in ("dict", "empty"):
            config = {k: HYPER[k](rng) for k, g in zip(hypers, given) if g and form == "dict"}
            if resume and form == "dict":
                config.update({k: _state(rng, k, shape) for k in ref.STATE[rule]})
            args["config"] = config
        return args

    return cases(make, shape=st.lists(dims, min_size=1, max_size=3), steps=st.integers(3, 6), form=forms,
                 given=st.lists(st.booleans(), min_size=len(hypers), max_size=len(hypers)), resume=st.booleans())


# ---------------------------------------------------------------------------------------------
# Running a rule over the steps of a case: the student's, the reference's, a mistaken one's


def reference_steps(rule: str, case: Case) -> tuple[np.ndarray, tuple[dict, ...]]:
    """The reference's next_w after every step, stacked, and its config after every step."""
    run = evaluate(lambda w, dw_steps, config=None: ref.steps(ref.RULES[rule], w, dw_steps, config), case.args)
    return run.output


def _filled(rule: str, w: np.ndarray, config: dict | None, defaults: dict | None = None) -> dict:
    c = {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in (config or {}).items()}
    for key, default in {**ref.DEFAULTS[rule], **(defaults or {})}.items():
        c.setdefault(key, np.zeros_like(w) if default is None else default)
    return c


def _wrong(rule: str, step: Callable[[np.ndarray, np.ndarray, dict], np.ndarray], defaults: dict | None = None):
    """The trajectory a mistaken rule gives on a case: `step(w, dw, c)` returns next_w and
    updates the state in c (a config with the contract's defaults filled in, or `defaults`
    where the mistaken rule has other ones)."""
    def trajectory(case: Case, right: Any, _: Any) -> np.ndarray:
        w = case.args["w"].astype(np.float64)
        c = _filled(rule, w, case.args.get("config"), defaults)
        out = []
        with np.errstate(all="ignore"):
            for dw in case.args["dw_steps"].astype(np.float64):
                w = step(w, dw, c)
                out.append(w)
        return np.stack(out)
    return trajectory


# ---------------------------------------------------------------------------------------------
# The declaration of a stateful update rule


def optimizer(name: str, mistakes: list[Mistake] = (), summary: str = "") -> list[Exercise]:
    """One update rule as an exercise, checked as a state machine over several steps."""
    drawn = optimizer_cases(name)
    pairs = st.builds(lambda a, b: Case(args={"first": a, "second": _same_shape(b, a.args["w"].shape)}, seed=a.seed),
                      drawn, drawn)
    defaults_text = ", ".join(f"{k}={v}" for k, v in ref.DEFAULTS[name].items() if k not in ref.STATE[name])
    return update_rule(A, MODULE, name, lambda case: reference_steps(name, case), drawn,
                       optimizer_cases(name, defaults_only=True), pairs, ref.STATE[name], defaults_text, WORDS,
                       mistakes, summary)


def _same_shape(case: Case, shape: tuple[int, ...]) -> Case:
    """The case redrawn for weights of `shape`: two parameter arrays of one shape (W1 and W2 of a
    square layer) must not share state either, even through a global keyed by shape."""
    rng = case.rng(5)
    steps = len(case.args["dw_steps"])
    args = {"w": values(rng, shape), "dw_steps": values(rng, (steps, *shape))}
    if "config" in case.args:
        config = case.args["config"]
        args["config"] = None if config is None else {
            k: (_state(rng, k, shape) if isinstance(v, np.ndarray) else v) for k, v in config.items()}
    return Case(args=args, seed=case.seed)


DW = Unchanged("{function} modified {path} in place{where}",
               "Never write into dw (dw *= ..., dw += ...): compute new arrays.")
INTERFERE = ("Two optimizers interfere (or one run depends on the runs before it): keep the rule's state in the "
             "config it returns (config['velocity'] = v), not in globals or in a mutable default argument: each "
             "parameter array has its own optimizer.")
STATE_NAMES = ("Keep the state in config under the contract's names (velocity; cache; m, v and t), updated at every "
               "step: the next call gets this config back.")
RETURN_CONFIG = ("Start from `if config is None: config = {}`, fill it (config.setdefault) and return it: the next "
                 "call gets it back.")
DEFAULTS = "When config is None (or left out) or lacks a key, use the contract's default: {defaults}."
WORDS = RuleWords(returns_config=RETURN_CONFIG, interfere=INTERFERE, state_names=STATE_NAMES, dw_unchanged=DW,
                  defaults=DEFAULTS)

# ---------------------------------------------------------------------------------------------
# Known mistakes and other conventions, as numpy rules

SIGN = "Step against the gradient: next_w = w - learning_rate * dw."
TORCH_MOMENTUM = ("This is the v = mu*v + dw; w -= lr*v form of momentum (torch's): the contract keeps the step, "
                  "learning rate included, in the velocity: v = mu*v - lr*dw; next_w = w + v.")
MOMENTUM_SIGN = "Momentum sign: the velocity moves against the gradient (v = mu*v - lr*dw) and is ADDED to w."
EPS_OUTSIDE = "epsilon goes outside the square root: dw / (np.sqrt(cache) + eps), not np.sqrt(cache + eps)."
T_FIRST = "Adam's step counter is incremented BEFORE it is used: t += 1 first, so the first step corrects with 1 - beta**1."
T_STARTS_AT_1 = ("Adam's first step corrects with t = 2 here: t starts at 1 (config.setdefault('t', 1), as in CS231n's "
                 "Spring 2017 starter code) and is incremented before use. The contract starts t at 0 and increments "
                 "it first, so that the first step uses t = 1: make the default 0.")
BIAS = "Adam's moments need bias correction: m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)."


def _momentum(c, dw):
    c["velocity"] = c["momentum"] * c["velocity"] - c["learning_rate"] * dw
    return c["velocity"]


def _torch_momentum(w, dw, c, nesterov=False):
    c["velocity"] = c["momentum"] * c["velocity"] + dw
    step = dw + c["momentum"] * c["velocity"] if nesterov else c["velocity"]
    return w - c["learning_rate"] * step


def _nesterov(sign):
    def step(w, dw, c):
        v_prev = c["velocity"]
        v = _momentum(c, dw)
        return w + sign * c["momentum"] * v_prev + (1 + c["momentum"]) * v
    return step


def _adaptive(accumulate, inside=False):
    def step(w, dw, c):
        c["cache"] = accumulate(c, dw)
        denom = np.sqrt(c["cache"] + c["epsilon"]) if inside else np.sqrt(c["cache"]) + c["epsilon"]
        return w - c["learning_rate"] * dw / denom
    return step


def _sum_squares(c, dw):
    return c["cache"] + dw ** 2


def _moving_average(c, dw):
    return c["decay_rate"] * c["cache"] + (1 - c["decay_rate"]) * dw ** 2


def _adam(t_after=False, corrected=True, inside=False, coupled=False, decoupled=False):
    def step(w, dw, c):
        if decoupled:
            w = w - c["learning_rate"] * c["weight_decay"] * w
        if coupled:
            dw = dw + c["weight_decay"] * w
        b1, b2 = c["beta1"], c["beta2"]
        t = c["t"] if t_after else c["t"] + 1
        c["t"] += 1
        c["m"] = b1 * c["m"] + (1 - b1) * dw
        c["v"] = b2 * c["v"] + (1 - b2) * dw ** 2
        m, v = (c["m"] / (1 - b1 ** t), c["v"] / (1 - b2 ** t)) if corrected else (c["m"], c["v"])
        denom = np.sqrt(v + c["epsilon"]) if inside else np.sqrt(v) + c["epsilon"]
        return w - c["learning_rate"] * m / denom
    return step


# ---------------------------------------------------------------------------------------------
# clip_grad_norm


def _grads(rng, shapes, above):
    grads = {f"{'Wb'[i % 2]}{i // 2 + 1}": values(rng, shape) * 10 ** rng.uniform(-1, 1) for i, shape in enumerate(shapes)}
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    ratio = rng.uniform(0.1, 0.9) if above else rng.uniform(1.15, 5.0)
    return {"grads": grads, "max_norm": _round(total * ratio)}


def clip_cases(above: bool | None = None) -> st.SearchStrategy[Case]:
    """1 to 4 gradients of any shapes, and a max_norm away from their global norm: below it
    (clipping), above it, or either."""
    side = st.booleans() if above is None else st.just(above)
    return cases(_grads, shapes=st.lists(st.lists(dims, min_size=1, max_size=3), min_size=1, max_size=4), above=side)


CLIP = "clip_grad_norm"
CLIP_TARGET_HINT = "Return (clipped, total_norm): a new dict of new arrays, and the global norm before clipping."
GLOBAL_NORM = ("Clip by the GLOBAL norm of all the arrays together (sqrt of the sum of every squared element), "
               "not each array by its own norm.")
NORM_BEFORE = "total_norm is the global norm BEFORE clipping (the clipped norm is max_norm by construction)."
ONLY_ABOVE = "Scale only when total_norm > max_norm: below it the gradients keep their values."
SQRT = "The L2 norm is the square root of the sum of squares."


def _norm(grads: dict) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads.values())))


def _clip_call(ctx: Context, case: Case, dtype=np.float64) -> tuple[dict, float, CallOutcome]:
    outcome = ctx.call(CLIP, *in_call_order(A, CLIP, case).args.values())
    value = outcome.value
    if not isinstance(value, tuple) or len(value) != 2:
        raise PropertyFailure(f"{CLIP} should return a tuple (clipped, total_norm); got a {type(value).__name__}",
                              hints=[CLIP_TARGET_HINT])
    clipped, total = value
    grads = case.args["grads"]
    if not isinstance(clipped, dict) or set(clipped) != set(grads):
        raise PropertyFailure(f"clipped should be a dict with the keys {sorted(grads)}", hints=[CLIP_TARGET_HINT])
    for k, g in grads.items():
        require_array(f"clipped[{k!r}]", clipped[k], g.shape, dtype)
    return clipped, require_scalar("total_norm", total), outcome


def _clip_right(case: Case) -> tuple[dict, float]:
    clipped, total = evaluate(ref.clip_grad_norm, case.args).output
    return clipped, float(total)


def _clip_mistakes(case: Case) -> dict[str, tuple[dict, float]]:
    grads, max_norm = case.args["grads"], case.args["max_norm"]
    total = _norm(grads)
    scale = min(1.0, max_norm / total)
    per_array = {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}
    squared = total ** 2
    return {
        GLOBAL_NORM: (per_array, _norm(per_array)),
        NORM_BEFORE: ({k: g * scale for k, g in grads.items()}, min(total, max_norm)),
        ONLY_ABOVE: ({k: g * max_norm / total for k, g in grads.items()}, total),
        SQRT: ({k: g * min(1.0, max_norm / squared) for k, g in grads.items()}, squared),
    }


def _clip_hints(case, clipped, total, part):
    found = []
    for hint, (wrong_clipped, wrong_total) in _clip_mistakes(case).items():
        if part == "clipped" and values_close(clipped, wrong_clipped):
            found.append(hint)
        if part == "total_norm" and values_close(np.array(total), np.array(wrong_total)):
            found.append(hint)
    return found


def _clip_matches(ctx, case):
    clipped, total, _ = _clip_call(ctx, case)
    want, want_total = _clip_right(case)
    for part, got, expected in (("total_norm", {"total_norm": np.array(total)}, {"total_norm": np.array(want_total)}),
                                ("clipped", {f"clipped[{k!r}]": v for k, v in clipped.items()},
                                 {f"clipped[{k!r}]": v for k, v in want.items()})):
        try:
            assert_matches(part, got, expected)
        except PropertyFailure as failure:
            failure.hints += _clip_hints(case, clipped, total, part)
            raise


def _clip_unchanged_below(ctx, case):
    clipped, _, _ = _clip_call(ctx, case)
    try:
        assert_matches("clipped", clipped, case.args["grads"], what="the gradients (max_norm is above their norm)")
    except PropertyFailure as failure:
        failure.hints.append(ONLY_ABOVE)
        raise


def _clip_norm_is_max(ctx, case):
    clipped, _, _ = _clip_call(ctx, case)
    got = _norm(clipped)
    if abs(got - case.args["max_norm"]) > 1e-6 * case.args["max_norm"]:
        raise PropertyFailure("the global norm of the clipped gradients is not max_norm",
                              details=[f"global norm after clipping {got:.10g}, max_norm {case.args['max_norm']:.10g}"],
                              hints=[GLOBAL_NORM] if values_close(clipped, _clip_mistakes(case)[GLOBAL_NORM][0]) else [])


def _clip_direction(ctx, case):
    clipped, _, _ = _clip_call(ctx, case)
    grads = case.args["grads"]
    flat_g = np.concatenate([grads[k].ravel() for k in grads])
    flat_c = np.concatenate([np.asarray(clipped[k], dtype=np.float64).ravel() for k in grads])
    factor = float(flat_c @ flat_g / (flat_g @ flat_g))
    if factor <= 0 or not values_close(flat_c, factor * flat_g):
        raise PropertyFailure("the clipped gradients are not all the inputs times one positive factor: the direction changed",
                              details=[f"best common factor {factor:.6g}"],
                              hints=[GLOBAL_NORM] if values_close(clipped, _clip_mistakes(case)[GLOBAL_NORM][0]) else [])


def _clip_total_before(ctx, case):
    _, total, _ = _clip_call(ctx, case)
    want = _norm(case.args["grads"])
    try:
        assert_matches("total_norm", {"total_norm": np.array(total)}, {"total_norm": np.array(want)},
                       what="the global norm of the inputs")
    except PropertyFailure as failure:
        failure.hints += _clip_hints(case, None, total, "total_norm")
        raise


def _clip_run(ctx, case) -> Run:
    _, _, outcome = _clip_call(ctx, case)
    return Run.single(CLIP, outcome, in_call_order(A, CLIP, case))


def _clip_float32(ctx, case32):
    clipped, total, _ = _clip_call(ctx, case32, np.float32)
    want, want_total = _clip_right(case32)
    assert_matches("clipped", {**clipped, "total_norm": np.array(total)}, {**want, "total_norm": np.array(want_total)},
                   FLOAT32, "the reference (float32 tolerance)")


def _clip_runs(ctx, case):
    ctx.call(CLIP, *in_call_order(A, CLIP, case).args.values())


any_side, above, below = clip_cases(), clip_cases(True), clip_cases(False)
clip_properties = [
    Property("runs_on_valid_inputs", f"{CLIP} runs on every valid input", _clip_runs, any_side),
    Property("output_structure", "clipped is a dict with grads' keys and exact shapes (float64), total_norm a scalar",
             lambda ctx, case: _clip_call(ctx, case), any_side),
    Property("matches_reference", f"{CLIP}'s clipped gradients and total_norm match the reference", _clip_matches,
             any_side, CORRECTNESS_WEIGHT),
    Property("unchanged_below_threshold", "below max_norm the gradients keep their values", _clip_unchanged_below, below),
    Property("clipped_norm_is_max_norm", "above max_norm the global norm of the result is max_norm", _clip_norm_is_max, above),
    Property("direction_preserved", "every gradient is scaled by one common positive factor", _clip_direction, any_side),
    Property("total_norm_before_clipping", "total_norm is the global norm of the inputs", _clip_total_before, any_side),
    unchanged_property(_clip_run, f"{CLIP} leaves grads unchanged", any_side, said=ARGUMENTS),
    fresh_property(_clip_run, f"{CLIP} returns new arrays, never its inputs",
                   "Return new arrays (g * scale, or g.copy() when no scaling is needed).", any_side,
                   name="returns_new_arrays"),
    float32_property(_clip_float32, "float32 gradients give float32 clipped gradients", any_side),
]

# ---------------------------------------------------------------------------------------------
# The exercises

EXERCISES = [
    *optimizer("sgd", summary="stochastic gradient descent",
               mistakes=[Mistake(SIGN, "trajectory", _wrong("sgd", lambda w, dw, c: w + c["learning_rate"] * dw))]),
    *optimizer("sgd_momentum", summary="SGD with momentum", mistakes=[
        Mistake(TORCH_MOMENTUM, "trajectory", _wrong("sgd_momentum", _torch_momentum)),
        Mistake(MOMENTUM_SIGN, "trajectory", _wrong("sgd_momentum", lambda w, dw, c: w - _momentum(c, dw)))]),
    *optimizer("nesterov_momentum", summary="Nesterov momentum", mistakes=[
        Mistake(TORCH_MOMENTUM, "trajectory",
                _wrong("nesterov_momentum", lambda w, dw, c: _torch_momentum(w, dw, c, nesterov=True))),
        Mistake(MOMENTUM_SIGN, "trajectory", _wrong("nesterov_momentum", _nesterov(+1))),
        Mistake("Nesterov's step is w - mu*v_prev + (1+mu)*v with v_prev the velocity BEFORE this step "
                "(w + v is plain momentum).", "trajectory",
                _wrong("nesterov_momentum", lambda w, dw, c: w + _momentum(c, dw)))]),
    *optimizer("adagrad", summary="Adagrad", mistakes=[
        Mistake(EPS_OUTSIDE, "trajectory", _wrong("adagrad", _adaptive(_sum_squares, inside=True))),
        Mistake("Adagrad's cache is the SUM of every squared gradient so far (cache += dw**2), kept in config.",
                "trajectory", _wrong("adagrad", _adaptive(lambda c, dw: dw ** 2)))]),
    *optimizer("rmsprop", summary="RMSprop", mistakes=[
        Mistake(EPS_OUTSIDE, "trajectory", _wrong("rmsprop", _adaptive(_moving_average, inside=True))),
        Mistake("decay_rate weighs the OLD cache: cache = decay_rate*cache + (1 - decay_rate)*dw**2.", "trajectory",
                _wrong("rmsprop", _adaptive(lambda c, dw: (1 - c["decay_rate"]) * c["cache"] + c["decay_rate"] * dw ** 2)))]),
    *optimizer("adam", summary="Adam", mistakes=[
        Mistake(T_FIRST, "trajectory", _wrong("adam", _adam(t_after=True))),
        Mistake(T_STARTS_AT_1, "trajectory", _wrong("adam", _adam(), defaults={"t": 1})),
        Mistake(BIAS, "trajectory", _wrong("adam", _adam(corrected=False))),
        Mistake(EPS_OUTSIDE, "trajectory", _wrong("adam", _adam(inside=True)))]),
    *optimizer("adamw", summary="AdamW (decoupled weight decay)", mistakes=[
        Mistake("AdamW decouples weight decay: shrink w by lr*weight_decay*w outside the Adam step; adding "
                "weight_decay*w to the gradient is Adam with L2, another rule.", "trajectory",
                _wrong("adamw", _adam(coupled=True))),
        Mistake(T_FIRST, "trajectory", _wrong("adamw", _adam(t_after=True, decoupled=True))),
        Mistake(T_STARTS_AT_1, "trajectory", _wrong("adamw", _adam(decoupled=True), defaults={"t": 1}))]),
    Exercise(CLIP, A, MODULE, "clipping gradients by their global norm", clip_properties, any_side),
]
