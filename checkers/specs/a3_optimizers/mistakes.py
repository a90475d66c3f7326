"""Known mistakes of a3_optimizers and other conventions, as numpy rules, and the hint texts."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import dlgrade.reference.a3_optimizers.optim as ref
from dlgrade.checkers.declare import Case, Mistake, RuleWords, Unchanged, values_close


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
CLIP_TARGET_HINT = "Return (clipped, total_norm): a new dict of new arrays, and the global norm before clipping."
GLOBAL_NORM = ("Clip by the GLOBAL norm of all the arrays together (sqrt of the sum of every squared element), "
               "not each array by its own norm.")
NORM_BEFORE = "total_norm is the global norm BEFORE clipping (the clipped norm is max_norm by construction)."
ONLY_ABOVE = "Scale only when total_norm > max_norm: below it the gradients keep their values."
SQRT = "The L2 norm is the square root of the sum of squares."


def _norm(grads: dict) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads.values())))


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


# Known mistakes of each exercise, by the function they are shown for

sgd_mistakes = [Mistake(SIGN, "trajectory", _wrong("sgd", lambda w, dw, c: w + c["learning_rate"] * dw))]
sgd_momentum_mistakes = [
        Mistake(TORCH_MOMENTUM, "trajectory", _wrong("sgd_momentum", _torch_momentum)),
        Mistake(MOMENTUM_SIGN, "trajectory", _wrong("sgd_momentum", lambda w, dw, c: w - _momentum(c, dw)))]
nesterov_momentum_mistakes = [
        Mistake(TORCH_MOMENTUM, "trajectory",
                _wrong("nesterov_momentum", lambda w, dw, c: _torch_momentum(w, dw, c, nesterov=True))),
        Mistake(MOMENTUM_SIGN, "trajectory", _wrong("nesterov_momentum", _nesterov(+1))),
        Mistake("Nesterov's step is w - mu*v_prev + (1+mu)*v with v_prev the velocity BEFORE this step "
                "(w + v is plain momentum).", "trajectory",
                _wrong("nesterov_momentum", lambda w, dw, c: w + _momentum(c, dw)))]
adagrad_mistakes = [
        Mistake(EPS_OUTSIDE, "trajectory", _wrong("adagrad", _adaptive(_sum_squares, inside=True))),
        Mistake("Adagrad's cache is the SUM of every squared gradient so far (cache += dw**2), kept in config.",
                "trajectory", _wrong("adagrad", _adaptive(lambda c, dw: dw ** 2)))]
rmsprop_mistakes = [
        Mistake(EPS_OUTSIDE, "trajectory", _wrong("rmsprop", _adaptive(_moving_average, inside=True))),
        Mistake("decay_rate weighs the OLD cache: cache = decay_rate*cache + (1 - decay_rate)*dw**2.", "trajectory",
                _wrong("rmsprop", _adaptive(lambda c, dw: (1 - c["decay_rate"]) * c["cache"] + c["decay_rate"] * dw ** 2)))]
adam_mistakes = [
        Mistake(T_FIRST, "trajectory", _wrong("adam", _adam(t_after=True))),
        Mistake(T_STARTS_AT_1, "trajectory", _wrong("adam", _adam(), defaults={"t": 1})),
        Mistake(BIAS, "trajectory", _wrong("adam", _adam(corrected=False))),
        Mistake(EPS_OUTSIDE, "trajectory", _wrong("adam", _adam(inside=True)))]
adamw_mistakes = [
        Mistake("AdamW decouples weight decay: shrink w by lr*weight_decay*w outside the Adam step; adding "
                "weight_decay*w to the gradient is Adam with L2, another rule.", "trajectory",
                _wrong("adamw", _adam(coupled=True))),
        Mistake(T_FIRST, "trajectory", _wrong("adamw", _adam(t_after=True, decoupled=True))),
        Mistake(T_STARTS_AT_1, "trajectory", _wrong("adamw", _adam(decoupled=True), defaults={"t": 1}))]
