"""Checks of the trusted a3_optimizers oracles against torch.optim, where the rules coincide.

torch keeps momentum without the learning rate (buf = mu*buf + dw; w -= lr*buf): with a constant
learning rate and zero initial state its trajectory is the contract's (velocity = -lr*buf), so
the trajectories are compared from zero state.
"""

from __future__ import annotations

import pytest
import torch

import dlgrade.reference.a3_optimizers.optim as ref

STEPS = 6


def _problem(seed: int, shape=(3, 4)):
    gen = torch.Generator().manual_seed(seed)
    w0 = torch.randn(*shape, generator=gen, dtype=torch.float64)
    grads = torch.randn(STEPS, *shape, generator=gen, dtype=torch.float64)
    return w0, grads


def _torch_trajectory(make_optimizer, w0, grads):
    p = torch.nn.Parameter(w0.clone())
    opt = make_optimizer([p])
    out = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        out.append(p.detach().clone())
    return torch.stack(out)


# (rule, contract config, the torch optimizer that implements the same rule)
CASES = [
    ("sgd", {"learning_rate": 0.05}, lambda p: torch.optim.SGD(p, lr=0.05)),
    ("sgd_momentum", {"learning_rate": 0.03, "momentum": 0.8}, lambda p: torch.optim.SGD(p, lr=0.03, momentum=0.8)),
    ("nesterov_momentum", {"learning_rate": 0.03, "momentum": 0.7},
     lambda p: torch.optim.SGD(p, lr=0.03, momentum=0.7, nesterov=True)),
    ("adagrad", {"learning_rate": 0.1, "epsilon": 1e-3}, lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-3)),
    ("rmsprop", {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-4},
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-4)),
    ("adam", {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3},
     lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-3)),
    ("adamw", {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3, "weight_decay": 0.3},
     lambda p: torch.optim.AdamW(p, lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.3)),
    # The contract's defaults against torch's with the same values.
    ("sgd_momentum", None, lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
    ("rmsprop", None, lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8)),
    ("adam", None, lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
    ("adamw", None, lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
]


@pytest.mark.parametrize("rule, config, make", CASES, ids=[f"{c[0]}-{'defaults' if c[1] is None else 'drawn'}" for c in CASES])
def test_reference_rule_matches_torch_optim_over_steps(rule, config, make):
    w0, grads = _problem(sum(map(ord, rule)))
    ours, _ = ref.steps(ref.RULES[rule], w0, grads, config)
    theirs = _torch_trajectory(make, w0, grads)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_momentum_state_is_torch_buffer_times_minus_lr():
    w0, grads = _problem(3)
    _, configs = ref.steps(ref.sgd_momentum, w0, grads, {"learning_rate": 0.05, "momentum": 0.6})
    p = torch.nn.Parameter(w0.clone())
    opt = torch.optim.SGD([p], lr=0.05, momentum=0.6)
    for g, config in zip(grads, configs):
        p.grad = g.clone()
        opt.step()
        torch.testing.assert_close(config["velocity"], -0.05 * opt.state[p]["momentum_buffer"])


def test_adam_counts_steps_and_resumes_from_a_saved_state():
    w0, grads = _problem(4)
    full, configs = ref.steps(ref.adam, w0, grads)
    assert [c["t"] for c in configs] == list(range(1, STEPS + 1))
    resumed, _ = ref.steps(ref.adam, full[2], grads[3:], configs[2])
    torch.testing.assert_close(resumed, full[3:])


def test_reference_rules_do_not_modify_their_config_argument():
    w0, grads = _problem(5)
    for name, rule in ref.RULES.items():
        given = {"learning_rate": 0.1}
        _, config = rule(w0, grads[0], given)
        assert given == {"learning_rate": 0.1}, name
        assert set(ref.DEFAULTS[name]) <= set(config), name


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    gen = torch.Generator().manual_seed(int(max_norm * 10))
    grads = {"W1": torch.randn(3, 4, generator=gen, dtype=torch.float64),
             "b1": torch.randn(4, generator=gen, dtype=torch.float64)}
    clipped, total = ref.clip_grad_norm(grads, max_norm)
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads.values()]
    for p, g in zip(params, grads.values()):
        p.grad = g.clone()
    torch_total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    torch.testing.assert_close(total, torch_total)
    # torch divides by total_norm + 1e-6; the contract by total_norm exactly.
    for p, c in zip(params, clipped.values()):
        torch.testing.assert_close(c, p.grad, rtol=1e-5, atol=1e-8)
    if total > max_norm:
        flat = torch.cat([c.ravel() for c in clipped.values()])
        torch.testing.assert_close(flat.norm(), torch.tensor(max_norm, dtype=torch.float64))
    else:
        assert all(torch.equal(c, g) for c, g in zip(clipped.values(), grads.values()))
