"""Comparing what a student returned with what was expected.

Type and shape come before values: a `(1, D)` gradient for a `(D,)` input is a shape failure
with its own message, never "close enough" by broadcasting. Values are compared elementwise and
the failure names the worst element with the expected and actual value there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlgrade.checkers.exercise import PropertyFailure


@dataclass(frozen=True)
class Tolerance:
    """|actual - expected| <= atol * max(1, max|expected|) + rtol * |expected|, elementwise."""

    rtol: float
    atol: float

    def describe(self) -> str:
        return f"|error| <= {self.atol:g}·max(1, max|expected|) + {self.rtol:g}·|expected|"


#: For float64 computations: a correct numpy solution is ~1e-13 off; a real bug is far beyond.
FLOAT64 = Tolerance(rtol=1e-6, atol=1e-9)
#: For float32 computations: about 1e4 float32 roundings of slack.
FLOAT32 = Tolerance(rtol=2e-3, atol=2e-4)


def flatten(value: Any, name: str) -> dict[str, Any]:
    """Name every leaf of a nested value: `dparams['W1']`, `out[0]`, ..."""
    if isinstance(value, dict):
        leaves = {}
        for k, v in value.items():
            leaves.update(flatten(v, f"{name}[{k!r}]"))
        return leaves
    if isinstance(value, (tuple, list)):
        leaves = {}
        for i, v in enumerate(value):
            leaves.update(flatten(v, f"{name}[{i}]"))
        return leaves
    return {name: value}


def describe_value(value: Any) -> str:
    """Type and shape of a returned value, for messages that must not show its values."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, tuple):
        return f"tuple of {count_text(len(value))}"
    return type(value).__name__


def count_text(n: int, most: int = 8) -> str:
    """A count of things a submission returned, exact up to `most` (a count is the submission's
    to choose: past a few, its digits would be a channel for hidden values)."""
    return str(n) if n <= most else f"more than {most}"


def shape_text(actual: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """A shape the submission returned, as it may be shown where examples are hidden: exactly when
    it is made of sizes a mistake gives (the expected sizes, their product, 1 and 0) with at most
    two axes more, else only its number of dimensions: any other shape is the submission's to
    choose, and an empty array of shape (0, a, b) would carry a hidden float64 in a and b."""
    sizes = {0, 1, *expected, int(np.prod(expected, dtype=np.int64))}
    if len(actual) <= len(expected) + 2 and all(d in sizes for d in actual):
        return str(tuple(actual))
    return f"of {count_text(len(actual))} dimensions"


def require_array(name: str, actual: Any, shape: tuple[int, ...], dtype: np.dtype | None = None,
                  reduced_from: tuple[int, ...] | None = None, axes: tuple[int, ...] | None = None) -> np.ndarray:
    """The array `actual` must have exactly `shape` (and `dtype`, when given). reduced_from: the
    shape of the upstream gradient that a gradient of this shape is summed from (a bias's `db`
    from `dout`), so that a hint can name the axes to sum over: `axes` where the declaration
    says (a convolution's bias: (0, 2, 3)), else the leading ones (a bias added to every row)."""
    if not isinstance(actual, np.ndarray):
        hints = _shape_hints((), tuple(shape), name, reduced_from, axes) if np.ndim(actual) == 0 and shape else []
        raise PropertyFailure(f"{name} should be a numpy array of shape {shape}, got a {describe_value(actual)}",
                              hints=hints)
    if actual.shape != tuple(shape):
        raise PropertyFailure(f"{name} has shape {actual.shape}, expected {tuple(shape)}",
                              hints=_shape_hints(actual.shape, tuple(shape), name, reduced_from, axes),
                              hidden_summary=f"{name} has shape {shape_text(actual.shape, tuple(shape))}, "
                                             f"expected {tuple(shape)}")
    if not (np.issubdtype(actual.dtype, np.floating) or np.issubdtype(actual.dtype, np.integer) or actual.dtype == bool):
        raise PropertyFailure(f"{name} has dtype {actual.dtype}, expected a real number type")
    if dtype is not None and actual.dtype != dtype:
        raise PropertyFailure(f"{name} has dtype {actual.dtype}, expected {np.dtype(dtype)}",
                              hints=["Keep the input's dtype: create new arrays with dtype=x.dtype (np.zeros_like) "
                                     "and beware of Python or float64 constants that upcast."] if dtype == np.float32 else [])
    return actual


def require_scalar(name: str, actual: Any) -> float:
    """`actual` must be a Python number or a 0-d array (as a loss is)."""
    if isinstance(actual, np.ndarray) and actual.shape == ():
        return float(actual)
    if type(actual) in (float, int):
        return float(actual)
    if isinstance(actual, np.ndarray):
        raise PropertyFailure(f"{name} should be a scalar (a float or a 0-d array), got an array of shape {actual.shape}",
                              hidden_summary=f"{name} should be a scalar (a float or a 0-d array), got an array of "
                                             f"shape {shape_text(actual.shape, ())}",
                              hints=["Average over the batch (and sum over the rest) to get one number."])
    raise PropertyFailure(f"{name} should be a scalar (a float or a 0-d array), got a {describe_value(actual)}")


def _shape_hints(actual: tuple[int, ...], expected: tuple[int, ...], name: str = "",
                 reduced_from: tuple[int, ...] | None = None, axes: tuple[int, ...] | None = None) -> list[str]:
    if reduced_from is not None and len(actual) < len(expected) and len(expected) < len(reduced_from):
        axes = axes if axes is not None else reduction_axes(reduced_from, expected)
        if axes is not None:
            call = f"axis={axes[0]}" if len(axes) == 1 else f"axis={axes}"
            return [f"{name or 'The gradient'} is summed over too many axes: sum the upstream gradient over {call} only "
                    f"(e.g. dout.sum({call})), which leaves shape {expected}; a sum over every axis gives a scalar."]
    if len(actual) == len(expected) + 1 and 1 in actual and tuple(d for d in actual if d != 1) == tuple(d for d in expected if d != 1):
        return ["An extra axis of length 1: sum with keepdims=False (or reshape) so the result has exactly the input's shape."]
    if sorted(actual) == sorted(expected) and actual != expected:
        return ["The right sizes in the wrong order: check for a missing or extra transpose."]
    if len(actual) > 0 and int(np.prod(actual)) == int(np.prod(expected)):
        return [f"The right number of elements: reshape to {expected} (e.g. dx.reshape(x.shape))."]
    return []


def reduction_axes(source: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...] | None:
    """The axes of `source` whose removal leaves `target`, the leading ones first where several
    would (as numpy broadcasts a bias), or None: (N, M) -> (M,) is (0,); (N, F, H, W) -> (F,)
    with F distinct from H and W is (0, 2, 3)."""
    drop = len(source) - len(target)
    if drop <= 0:
        return None
    for axes in itertools.combinations(range(len(source)), drop):
        if tuple(d for i, d in enumerate(source) if i not in axes) == tuple(target):
            return axes
    return None


@dataclass(frozen=True)
class Mismatch:
    """Where two arrays of the same shape differ most."""

    index: tuple[int, ...]
    expected: float
    actual: float
    worst_ratio: float

    def describe(self, name: str) -> str:
        where = f"[{', '.join(map(str, self.index))}]" if self.index else ""
        diff = abs(self.actual - self.expected)
        rel = diff / abs(self.expected) if self.expected else float("inf")
        return (f"{name}{where}: expected {self.expected:.10g}, got {self.actual:.10g} "
                f"(|error| {diff:.3g}, relative {rel:.3g})")


def mismatch(actual: np.ndarray, expected: np.ndarray, tol: Tolerance = FLOAT64) -> Mismatch | None:
    """None when every element is within `tol`; else the worst element."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.size == 0:
        return None
    scale = max(1.0, float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)))
    allowed = tol.atol * scale + tol.rtol * np.abs(e)
    with np.errstate(invalid="ignore", over="ignore"):
        ratio = np.abs(a - e) / allowed
    # An element that is not finite where the expected one is (or the other way) is the worst.
    same_nonfinite = (~np.isfinite(e)) & (a == e)
    ratio = np.where(same_nonfinite, 0.0, np.where(np.isfinite(ratio), ratio, np.inf))
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.ndim else ()
    if ratio[worst] <= 1.0:
        return None
    return Mismatch(tuple(int(i) for i in worst), float(e[worst]), float(a[worst]), float(ratio[worst]))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool) and \
        (not isinstance(value, np.ndarray) or np.issubdtype(value.dtype, np.number))


def values_close(actual: Any, expected: Any, tol: Tolerance = FLOAT64) -> bool:
    """True when two values of the same structure agree leaf by leaf (shapes included); numbers,
    scalars too, within `tol` (a loss computed in another order is still the same loss)."""
    a_leaves, e_leaves = flatten(actual, ""), flatten(expected, "")
    if a_leaves.keys() != e_leaves.keys():
        return False
    for key, e in e_leaves.items():
        a = a_leaves[key]
        if _is_number(a) and _is_number(e):
            if np.shape(a) != np.shape(e) or mismatch(np.asarray(a), np.asarray(e), tol) is not None:
                return False
        elif isinstance(e, np.ndarray) or isinstance(a, np.ndarray):
            return False
        elif a != e:
            return False
    return True


def assert_matches(quantity: str, actual: dict[str, Any], expected: dict[str, Any], tol: Tolerance = FLOAT64,
                   what: str = "the reference") -> None:
    """Every named leaf of `actual` matches `expected` (shapes already checked); the failure
    names the worst element of the first leaf that differs and says which leaves are fine."""
    wrong = []
    for name, e in expected.items():
        m = mismatch(actual[name], e, tol)
        if m is not None:
            wrong.append((name, m))
    if not wrong:
        return
    names = ", ".join(n for n, _ in wrong)
    right = [n for n in expected if n not in dict(wrong)]
    summary = f"{names} {'differs' if len(wrong) == 1 else 'differ'} from {what}"
    if right:
        summary += f" ({', '.join(right)} {'is' if len(right) == 1 else 'are'} right)"
    worst = max(m.worst_ratio for _, m in wrong)
    summary += f"; worst error {worst:.3g}× the tolerance"
    details = [m.describe(n) for n, m in wrong] + [f"tolerance: {tol.describe()}"]
    raise PropertyFailure(summary, details=details)
