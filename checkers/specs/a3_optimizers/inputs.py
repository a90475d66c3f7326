"""The input strategies of a3_optimizers: hypothesis draws the structure (shape, steps, which keys
are given), numpy the values."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
import numpy as np

import dlgrade.reference.a3_optimizers.optim as ref
from dlgrade.checkers.declare import Case, cases, dims, values


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


any_side, above, below = clip_cases(), clip_cases(True), clip_cases(False)
