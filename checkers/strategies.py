"""Shared hypothesis strategies: shapes drawn and shrunk by hypothesis, values drawn from a seed.

Hypothesis draws the structure of a case (batch size, dimensions, hyperparameters) and a seed;
numpy draws the values from that seed. Shrinking then goes to the smallest shapes (batch of one,
one feature) and to seed 0, and the values stay well conditioned: distinct, and away from the
kinks and ties where a correct solution could disagree with the reference by rounding.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from checkers.exercise import Case

#: Sizes that keep one example fast while still reaching batch of one and non-square shapes.
batch_sizes = st.integers(min_value=1, max_value=6)
dims = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def values(rng: np.random.Generator, shape: Sequence[int], low: float = 0.1, high: float = 2.0,
           kinks: Sequence[float] = (0.0,), gap: float = 0.05) -> np.ndarray:
    """Distinct float64 values with |v| in [low, high] (either sign), at least `gap` away from
    every point in `kinks`: a correct solution cannot disagree with the reference by rounding at
    a kink, and finite differences stay on one side of it."""
    size = int(np.prod(shape, dtype=np.int64))
    v = rng.uniform(low, high, size) * rng.choice([-1.0, 1.0], size)
    for kink in kinks:
        near = np.abs(v - kink) < gap
        v[near] = kink + np.sign(v[near] - kink + 1e-300) * (gap + rng.uniform(0, gap, near.sum()))
    return v.reshape(tuple(shape))


def upstream(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """A random upstream gradient of distinct values: never all ones, which cannot see a
    softmax or normalisation backward that drops a term."""
    return rng.normal(0.0, 1.0, tuple(shape))


def direction(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """A random unit-scale direction for directional finite differences."""
    return rng.uniform(-1.0, 1.0, tuple(shape))


def labels(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    """Integer labels of shape (n,) in [0, classes)."""
    return rng.integers(0, classes, n).astype(np.int64)


@st.composite
def cases(draw, make: Callable[..., dict], **sizes: st.SearchStrategy) -> Case:
    """A Case whose arguments `make(rng, **drawn sizes)` builds from the drawn sizes and seed."""
    drawn = {name: draw(strategy) for name, strategy in sizes.items()}
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return Case(args=make(rng, **drawn), seed=seed)


def optional(name: str, choices: Sequence) -> st.SearchStrategy[dict]:
    """A parameter that is sometimes left out, so its default is checked too (shrinks to left out)."""
    return st.sampled_from([None, *choices]).map(lambda v: {} if v is None else {name: v})


def elementwise_cases(kinks: Sequence[float] = (0.0,), **params: st.SearchStrategy) -> st.SearchStrategy[Case]:
    """x of any shape up to rank 4 (values away from `kinks`), plus drawn hyperparameters."""
    shapes = st.lists(dims, min_size=1, max_size=4)

    def make(rng, shape, **hyper):
        return {"x": values(rng, shape, kinks=kinks), **hyper}

    return cases(make, shape=shapes, **params)


def as_float32(case: Case) -> Case:
    """The same case with every float array (nested in dicts too) in float32."""
    def convert(v):
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
            return v.astype(np.float32)
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        return v
    return Case(args={k: convert(v) for k, v in case.args.items()}, seed=case.seed)
