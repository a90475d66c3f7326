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
from .mistakes import (adagrad_mistakes, adam_mistakes, adamw_mistakes, nesterov_momentum_mistakes, rmsprop_mistakes,
                       sgd_mistakes, sgd_momentum_mistakes, WORDS)
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
               mistakes=sgd_mistakes),
    *optimizer("sgd_momentum", summary="SGD with momentum", mistakes=sgd_momentum_mistakes),
    *optimizer("nesterov_momentum", summary="Nesterov momentum", mistakes=nesterov_momentum_mistakes),
    *optimizer("adagrad", summary="Adagrad", mistakes=adagrad_mistakes),
    *optimizer("rmsprop", summary="RMSprop", mistakes=rmsprop_mistakes),
    *optimizer("adam", summary="Adam", mistakes=adam_mistakes),
    *optimizer("adamw", summary="AdamW (decoupled weight decay)", mistakes=adamw_mistakes),
    Exercise(CLIP, A, MODULE, "clipping gradients by their global norm", clip_properties, any_side),
]
