"""Assignment a3_optimizers: every exercise declared once.

An update rule `RULE(w, dw, config=None) -> (next_w, config)` is a state machine: `optimizer(...)`
below declares one with the `update_rule` kind, checked over several consecutive steps (drawn hyperparameters, shapes and
gradients, configs with keys left out or None, sometimes resuming from a given state), each step
getting back the config the student's own rule returned, against the reference run from the same
start. Known conventions that differ from the contract's (momentum without the learning rate in
the velocity, Adam's counter incremented after use, ...) are recognised by running the mistaken
rule over the same steps and named in the message. `clip_grad_norm` is a plain function with its
invariants.

The input strategies are in `inputs`, the known mistakes in `mistakes`, and the assignment's own
checks in `checks`.
"""

from __future__ import annotations

from hypothesis import strategies as st

import dlgrade.reference.a3_optimizers.optim as ref
from dlgrade.checkers.declare import Case, Exercise, Mistake, update_rule

from .inputs import _same_shape, any_side, optimizer_cases
from .mistakes import (_adam, _adaptive, _momentum, _moving_average, _nesterov, _sum_squares, _torch_momentum, _wrong,
                       BIAS, EPS_OUTSIDE, MOMENTUM_SIGN, SIGN, T_FIRST, T_STARTS_AT_1, TORCH_MOMENTUM, WORDS)
from .checks import A, CLIP, clip_properties, MODULE, reference_steps


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
