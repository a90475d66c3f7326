"""Every reference a backward or a loss is judged against, checked against finite differences on
the exercise's own drawn cases: adding an exercise needs no hand-written case for its oracle.

(tests/test_reference*.py keep their hand-built cases too: edge values and shapes chosen on
purpose.)"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from dlgrade.checkers.exercise import Case
from dlgrade.checkers.oracle import leaves, to_torch
from dlgrade.checkers.registry import all_exercises

JUDGED = [e for e in all_exercises() if e.reference is not None and e.differentiable]


def _refill(value: Any, leaves: list) -> Any:
    """`value` (a tensor or a dict of them) with its tensors replaced by `leaves`, in order."""
    if isinstance(value, dict):
        return {k: _refill(v, leaves) for k, v in value.items()}
    return leaves.pop(0)


def reference_matches_finite_differences(exercise) -> None:
    """torch's gradcheck of `exercise.reference` on two of the exercise's drawn cases."""
    @settings(max_examples=2, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(exercise.cases)
    def holds(case: Case) -> None:
        inputs = {k: to_torch(v, k in exercise.differentiable) for k, v in case.args.items()}
        wrt = [t for name in exercise.differentiable for t in leaves(inputs[name])
               if isinstance(t, torch.Tensor) and t.requires_grad]

        def oracle(*tensors: torch.Tensor):
            given_leaves = list(tensors)
            args = {k: (_refill(v, given_leaves) if k in exercise.differentiable else v) for k, v in inputs.items()}
            out = exercise.reference(**args)
            outs = out if isinstance(out, tuple) else (out,)
            return tuple(o for o in outs if isinstance(o, torch.Tensor) and o.requires_grad)

        assert torch.autograd.gradcheck(oracle, tuple(t.detach().clone().requires_grad_(True) for t in wrt))

    holds()


def test_the_backwards_and_losses_of_every_assignment_are_here():
    assert {"affine_backward", "relu_backward", "softmax_loss", "svm_loss"} <= {e.name for e in JUDGED}


@pytest.mark.parametrize("exercise", [pytest.param(e, id=e.name) for e in JUDGED])
def test_the_reference_matches_finite_differences_on_the_exercise_s_cases(exercise):
    reference_matches_finite_differences(exercise)


class _ReluWithTwiceItsGradient(torch.autograd.Function):
    """A planted bug in an oracle: its autograd rule is not the derivative of its forward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * grad * (x > 0)


def test_an_oracle_whose_gradient_is_wrong_fails():
    from dataclasses import replace

    relu = next(e for e in JUDGED if e.name == "relu_backward")
    wrong = replace(relu, reference=lambda x: _ReluWithTwiceItsGradient.apply(x))
    with pytest.raises(Exception, match="Jacobian mismatch"):
        reference_matches_finite_differences(wrong)
