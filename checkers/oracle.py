"""Evaluating a reference oracle (a torch function) on a case, with gradients by autograd.

The references in `reference/` take torch tensors named like the contract's arguments. This
module moves a case's numpy arguments into float64 tensors (integer arrays stay integers), runs
the oracle, and brings values and vector-Jacobian products back as numpy arrays in the structure
of the inputs (a dict of parameters gets a dict of gradients).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np
import torch

from dlgrade.checkers.memo import references

# The oracles work on tensors of a few dozen elements: torch's intra-op threads only spin
# against the student's worker process for the same cores (milliseconds per op instead of
# microseconds on a two-core machine).
torch.set_num_threads(1)


def to_torch(value: Any, grad: bool) -> Any:
    """A case's argument as the references take it: float arrays as float64 tensors (requiring
    gradients where `grad`), integer arrays as integer tensors, dicts of them as dicts."""
    if isinstance(value, np.ndarray):
        if np.issubdtype(value.dtype, np.floating):
            return torch.tensor(value, dtype=torch.float64, requires_grad=grad)
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {k: to_torch(v, grad) for k, v in value.items()}
    return value


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, (tuple, list)):
        return tuple(_to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    return value


def leaves(value: Any) -> list[torch.Tensor]:
    """The tensors of a value (a tensor, or a dict of them), in order."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in leaves(v)]
    return [value]


def _regroup(flat: list, like: Any) -> Any:
    """Put a flat list of gradients back into the structure of `like` (an array or a dict)."""
    if isinstance(like, dict):
        return {k: g for k, g in zip(like, flat)}
    return flat[0]


class Evaluation:
    """One run of an oracle, kept so that several upstream gradients can be pulled through it."""

    def __init__(self, oracle: Callable, args: dict[str, Any], differentiable: Sequence[str] = ()):
        self.differentiable = tuple(differentiable)
        self.inputs = {k: to_torch(v, k in self.differentiable) for k, v in args.items()}
        with torch.enable_grad():
            self._out = oracle(**self.inputs)
        self.output = _to_numpy(self._out)

    def vjp(self, upstream: Any) -> dict[str, Any]:
        """Gradients of <upstream, output> with respect to each differentiable input, by name."""
        outs = list(self._out) if isinstance(self._out, tuple) else [self._out]
        ups = list(upstream) if isinstance(upstream, tuple) else [upstream]
        ups = [torch.as_tensor(np.asarray(u, dtype=np.float64)) for u in ups]
        wrt = {name: self.inputs[name] for name in self.differentiable}
        flat_wrt = [t for v in wrt.values() for t in leaves(v)]
        # Pulling the scalar <upstream, output> back (rather than passing grad_outputs) gives the
        # same vector-Jacobian product and spares torch a slow first-call import of sympy.
        pairing = sum((out * up).sum() for out, up in zip(outs, ups))
        grads = torch.autograd.grad(pairing, flat_wrt, retain_graph=True, allow_unused=True)
        grads = [np.zeros(t.shape) if g is None else g.detach().numpy().copy() for g, t in zip(grads, flat_wrt)]
        result, start = {}, 0
        for name, value in wrt.items():
            n = len(leaves(value))
            result[name] = _regroup(grads[start:start + n], value)
            start += n
        return result


    def shared(self) -> "Evaluation":
        """This evaluation for one more reader: the same graph (vjp leaves it intact), its own
        copy of the output."""
        other = copy.copy(self)
        other.output = copy.deepcopy(self.output)
        return other


def evaluate(oracle: Callable, args: dict[str, Any], differentiable: Sequence[str] = ()) -> Evaluation:
    """Run `oracle` on numpy arguments, or take its run on the same arguments from the process's
    reference cache (`checkers.memo.references`)."""
    differentiable = tuple(differentiable)
    return references.get_or_compute(oracle, args, differentiable,
                                     lambda: Evaluation(oracle, args, differentiable)).shared()
