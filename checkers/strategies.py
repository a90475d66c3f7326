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

from dlgrade.checkers.exercise import Case

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


def spread_rows(rng: np.random.Generator, shape: Sequence[int], level: float = 1e3) -> np.ndarray:
    """Values whose rows (along the last axis) sit at very different offsets side by side: one
    row near +level, another near -level (where there are two rows), the others anywhere in
    between; within a row the values spread by a few units, so that exp stays in range once the
    row's own maximum is subtracted (and only then)."""
    shape = tuple(shape)
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    offsets = rng.uniform(-level, level, rows)
    ends = level * rng.uniform(0.9, 1.0, 2) * np.array([1.0, -1.0])
    if rows >= 2:
        offsets[rng.permutation(rows)[:2]] = ends
    elif rows == 1:
        offsets[0] = ends[int(rng.integers(2))]
    return (rng.normal(0.0, 3.0, (rows, shape[-1])) + offsets[:, None]).reshape(shape)


def spread_values(rng: np.random.Generator, shape: Sequence[int], level: float = 1e3) -> np.ndarray:
    """Values of very different magnitudes side by side (from 1e-2 to `level`, either sign), with
    one near +level and one near -level where there are two elements."""
    size = int(np.prod(shape, dtype=np.int64))
    v = 10 ** rng.uniform(-2, np.log10(level), size) * rng.choice([-1.0, 1.0], size)
    ends = level * rng.uniform(0.9, 1.0, 2) * np.array([1.0, -1.0])
    if size >= 2:
        v[rng.permutation(size)[:2]] = ends
    elif size == 1:
        v[0] = ends[int(rng.integers(2))]
    return v.reshape(tuple(shape))


def spread_groups(rng: np.random.Generator, shape: Sequence[int], group_shape: Sequence[int],
                  level: float = 1e4) -> np.ndarray:
    """Values whose groups (the entries that share an index of `group_shape`, which has 1 along the
    axes a normalisation reduces over: (1, D) for batch norm's features, (N, 1) for layer norm's
    examples) have very different statistics side by side: means from -level to +level (one near
    each end where there are two groups), standard deviations from 0.05 to 50, and one group far
    from 0 with a small spread (where a variance computed as mean(x**2) - mean**2 cancels)."""
    group_shape = tuple(group_shape)
    groups = int(np.prod(group_shape, dtype=np.int64))
    means = spread_values(rng, (groups,), level)
    scales = 10 ** rng.uniform(np.log10(0.05), np.log10(50.0), groups)
    far = int(rng.integers(groups))
    means[far] = level * rng.uniform(0.8, 1.0) * rng.choice([-1.0, 1.0])
    scales[far] = rng.uniform(0.05, 0.1)
    return means.reshape(group_shape) + scales.reshape(group_shape) * rng.standard_normal(tuple(shape))


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
