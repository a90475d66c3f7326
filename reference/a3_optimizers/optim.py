"""Reference update rules for a3_optimizers, in torch float64, written from the contract's formulas.

Every rule is `RULE(w, dw, config=None) -> (next_w, config)` on tensors: `config` holds the
hyperparameters (the contract's defaults fill in what is missing) and the rule's state, and a new
dict is returned (the argument is never modified). `steps` runs a rule over several gradients,
each step getting the previous step's config back, which is how the checker uses them.

Where torch.optim implements the same rule (SGD with and without Nesterov momentum, Adagrad,
RMSprop, Adam, AdamW), it coincides with these up to a reparametrisation of the state (torch
keeps the momentum buffer without the learning rate); tests/test_reference_a3.py cross-checks them.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

#: The contract's default hyperparameters and initial state of each rule (None: zeros like w).
DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9, "velocity": None},
    "nesterov_momentum": {"learning_rate": 1e-2, "momentum": 0.9, "velocity": None},
    "adagrad": {"learning_rate": 1e-2, "epsilon": 1e-8, "cache": None},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8, "cache": None},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "m": None, "v": None, "t": 0},
    "adamw": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 1e-2,
              "m": None, "v": None, "t": 0},
}

#: The state each rule keeps in its config (the rest of DEFAULTS are hyperparameters).
STATE = {rule: tuple(k for k in ("velocity", "cache", "m", "v", "t") if k in d) for rule, d in DEFAULTS.items()}


def with_defaults(rule: str, w: torch.Tensor, config: dict | None) -> dict:
    """A new config: `config`'s entries, and the contract's defaults for the missing ones."""
    filled = dict(config or {})
    for key, default in DEFAULTS[rule].items():
        if key not in filled:
            filled[key] = torch.zeros_like(w) if default is None else default
    return filled


def sgd(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Plain gradient descent: w - lr*dw."""
    c = with_defaults("sgd", w, config)
    return w - c["learning_rate"] * dw, c


def sgd_momentum(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Momentum with the learning rate inside the velocity: v = mu*v - lr*dw; next_w = w + v."""
    c = with_defaults("sgd_momentum", w, config)
    c["velocity"] = c["momentum"] * c["velocity"] - c["learning_rate"] * dw
    return w + c["velocity"], c


def nesterov_momentum(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Nesterov momentum in the 'look-ahead' form: next_w = w - mu*v_prev + (1+mu)*v."""
    c = with_defaults("nesterov_momentum", w, config)
    mu, v_prev = c["momentum"], c["velocity"]
    c["velocity"] = mu * v_prev - c["learning_rate"] * dw
    return w - mu * v_prev + (1 + mu) * c["velocity"], c


def adagrad(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Adagrad: cache += dw**2; next_w = w - lr*dw/(sqrt(cache) + eps)."""
    c = with_defaults("adagrad", w, config)
    c["cache"] = c["cache"] + dw ** 2
    return w - c["learning_rate"] * dw / (torch.sqrt(c["cache"]) + c["epsilon"]), c


def rmsprop(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """RMSprop: cache = d*cache + (1-d)*dw**2; next_w = w - lr*dw/(sqrt(cache) + eps)."""
    c = with_defaults("rmsprop", w, config)
    d = c["decay_rate"]
    c["cache"] = d * c["cache"] + (1 - d) * dw ** 2
    return w - c["learning_rate"] * dw / (torch.sqrt(c["cache"]) + c["epsilon"]), c


def _adam_step(w: torch.Tensor, dw: torch.Tensor, c: dict) -> torch.Tensor:
    """The Adam step on `w`, updating c's m, v, t: t is incremented first, then used."""
    b1, b2 = c["beta1"], c["beta2"]
    c["t"] = c["t"] + 1
    c["m"] = b1 * c["m"] + (1 - b1) * dw
    c["v"] = b2 * c["v"] + (1 - b2) * dw ** 2
    m_hat = c["m"] / (1 - b1 ** c["t"])
    v_hat = c["v"] / (1 - b2 ** c["t"])
    return w - c["learning_rate"] * m_hat / (torch.sqrt(v_hat) + c["epsilon"])


def adam(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Adam with bias-corrected moments."""
    c = with_defaults("adam", w, config)
    return _adam_step(w, dw, c), c


def adamw(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """AdamW: decoupled weight decay w - lr*weight_decay*w, then the Adam step with the same t."""
    c = with_defaults("adamw", w, config)
    decayed = w - c["learning_rate"] * c["weight_decay"] * w
    return _adam_step(decayed, dw, c), c


RULES: dict[str, Callable] = {f.__name__: f for f in (sgd, sgd_momentum, nesterov_momentum, adagrad, rmsprop, adam, adamw)}


def steps(rule: Callable, w: torch.Tensor, dw_steps: torch.Tensor, config: dict | None = None):
    """Run `rule` over the gradients dw_steps[0], dw_steps[1], ... from w, each step getting the
    previous step's config. Returns (trajectory, configs): next_w after every step, stacked, and
    the config returned by every step."""
    trajectory, configs = [], []
    for dw in dw_steps:
        w, config = rule(w, dw, config)
        trajectory.append(w)
        configs.append(config)
    return torch.stack(trajectory), configs


def clip_grad_norm(grads: dict[str, torch.Tensor], max_norm: float):
    """Scale every gradient by max_norm/total_norm when the global L2 norm total_norm over all of
    them exceeds max_norm; returns (clipped, total_norm), total_norm before clipping."""
    total_norm = torch.sqrt(sum((g ** 2).sum() for g in grads.values()))
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    return {name: g * scale for name, g in grads.items()}, total_norm
