"""The input strategies of a7_distributed: shapes and dtypes in the case; values made from its seed."""

from __future__ import annotations

from hypothesis import strategies as st
import numpy as np

from dlgrade.checkers.declare import Case


DTYPES = ("float32", "float64", "int64")


# ---------------------------------------------------------------------------------------------
# Drawn inputs: shapes and dtypes in the case; values made from its seed


def _values(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    if dtype == "int64":
        return rng.integers(-1000, 1000, size=shape).astype(np.int64)
    return rng.standard_normal(shape).astype(dtype)


def _shapes(min_size: int = 0, max_size: int = 40):
    sizes = st.integers(min_size, max_size)
    return st.one_of(sizes.map(lambda s: (s,)), st.tuples(st.integers(1, 4), sizes.map(lambda s: max(s // 4, 1 if min_size else 0))))


@st.composite
def ring_cases(draw, world_sizes=st.integers(1, 4), shapes=_shapes()):
    n = draw(world_sizes)
    count = draw(st.integers(1, 3))
    return Case(args={"world_size": n, "shapes": [draw(shapes) for _ in range(count)],
                      "dtypes": [draw(st.sampled_from(DTYPES)) for _ in range(count)]},
                seed=draw(st.integers(0, 2**31 - 1)))


def _inputs(case: Case) -> list[list[np.ndarray]]:
    """inputs[rank][k]: rank's k-th tensor."""
    rng = case.rng(3)
    n = case.args.get("world_size", case.args.get("devices"))
    return [[_values(rng, tuple(s), d) for s, d in zip(case.args["shapes"], case.args["dtypes"])] for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# allreduce(tensors)


@st.composite
def list_cases(draw):
    return Case(args={"devices": draw(st.integers(1, 4)), "shapes": [draw(_shapes())],
                      "dtypes": [draw(st.sampled_from(DTYPES))]}, seed=draw(st.integers(0, 2**31 - 1)))


def _ring_edges() -> st.SearchStrategy:
    edges = [Case(args={"world_size": n, "shapes": [(0,), (1,), (n + 1,), (2, 2 * n - 1)],
                        "dtypes": ["float64", "int64", "float32", "int64"]}, seed=n) for n in (2, 3, 4)]
    return st.sampled_from(edges)


# ---------------------------------------------------------------------------------------------
# split_batch and data_parallel_step


@st.composite
def split_cases(draw):
    parts = draw(st.integers(1, 4))
    n = draw(st.integers(0, 13))
    return Case(args={"N": n, "features": draw(st.integers(1, 3)), "devices": parts}, seed=draw(st.integers(0, 2**31 - 1)))


@st.composite
def step_cases(draw):
    parts = draw(st.integers(1, 4))
    return Case(args={"loss": draw(st.sampled_from(["linear_squared", "softmax_classifier"])),
                      "N": draw(st.integers(parts, 12)), "devices": parts,
                      "lr": draw(st.floats(0.05, 1.0))}, seed=draw(st.integers(0, 2**31 - 1)))


def _step_inputs(case: Case):
    rng = case.rng(9)
    n, d = case.args["N"], 3
    if case.args["loss"] == "linear_squared":
        params = [rng.standard_normal((d, 2)), rng.standard_normal(2)]
        y = rng.standard_normal((n, 2))
    else:
        params = [rng.standard_normal((d, 4)), rng.standard_normal(4), rng.standard_normal((4, 3)), rng.standard_normal(3)]
        y = rng.integers(0, 3, size=n).astype(np.int64)
    return params, rng.standard_normal((n, d)), y
