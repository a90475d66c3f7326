"""The input strategies of a2_regularization: dropout, batch and layer norm, and initialiser shapes."""

from __future__ import annotations

from hypothesis import strategies as st
import numpy as np

from dlgrade.checkers.declare import (batch_sizes, Case, cases, dims, optional, SeededGenerator, seeds, spread_groups,
                                      values)


_KEEP_PROBABILITIES = [0.25, 0.5, 0.6, 0.8, 0.9]
#: For the keep rate, p = 0.5 is left out: there keeping and dropping look alike.
_RATE_PROBABILITIES = [0.25, 0.3, 0.6, 0.75, 0.9]
#: Every case has at least this many units: two independent masks then differ but with
#: probability below 0.82^128 ≈ 1e-11 (p = 0.9), so a mask drawn anew is always seen.
_MIN_UNITS = 128


def _dropout_param(mode: str, p: float, seed: int | None) -> dict:
    return {"p": p, "mode": mode, **({} if seed is None else {"seed": seed})}


def _dropout_cases(modes: list[str], probabilities=_KEEP_PROBABILITIES, seeded: bool | None = None, rows=(1, 6),
                   units: int = _MIN_UNITS) -> st.SearchStrategy[Case]:
    """x (*lead, units) with no zeros (|x| >= 0.1, so a zero in the output is a dropped unit),
    and a dropout_param with a drawn p and mode and, unless `seeded` says, sometimes a seed."""
    seed_choice = {None: st.one_of(st.none(), seeds), True: seeds, False: st.none()}[seeded]

    def make(rng, lead, mode, p, seed):
        return {"x": values(rng, (*lead, units)), "dropout_param": _dropout_param(mode, p, seed)}

    return cases(make, lead=st.lists(st.integers(*rows), min_size=1, max_size=2), mode=st.sampled_from(modes),
                 p=st.sampled_from(probabilities), seed=seed_choice)


dropout_cases = _dropout_cases(["train", "test"])
dropout_train_cases = _dropout_cases(["train"])
dropout_test_cases = _dropout_cases(["test"])
dropout_seeded_cases = _dropout_cases(["train"], seeded=True)
#: 20 000 to 40 000 units: the keep rate is then within about ±0.023 of p (Hoeffding at 1e-9).
dropout_rate_cases = _dropout_cases(["train"], _RATE_PROBABILITIES, rows=(20, 40), units=1000)
KEEP_ALL = [Case({"x": values(np.random.default_rng(5), (3, 64)), "dropout_param": {"p": 1.0, "mode": "train"}}),
            Case({"x": values(np.random.default_rng(6), (200,)), "dropout_param": {"p": 1.0, "mode": "train", "seed": 7}})]

_EPSILONS = [1e-5, 1e-3, 0.1]
#: 0.5 is left out: there momentum and 1 − momentum coincide.
_MOMENTA = [0.9, 0.8, 0.99, 0.6]


def _spread_columns(rng, n: int, d: int) -> np.ndarray:
    """(n, d) whose columns have a mean in [-2, 2] and a biased standard deviation in [0.5, 2]
    exactly (n >= 2): normalisation is well conditioned, and each feature's variance dwarfs eps."""
    z = rng.standard_normal((n, d))
    if n > 1:
        z = (z - z.mean(axis=0)) / z.std(axis=0)
    return z * rng.uniform(0.5, 2.0, d) + rng.uniform(-2.0, 2.0, d)


def _affine_params(rng, d: int, unit: bool = False) -> dict:
    if unit:
        return {"gamma": np.ones(d), "beta": np.zeros(d)}
    return {"gamma": values(rng, (d,), 0.5, 2.0), "beta": values(rng, (d,))}


def _bn(rng, n, d, mode, eps, momentum, running, unit=False):
    stats = {"running_mean": rng.normal(0.0, 1.0, d), "running_var": rng.uniform(0.5, 2.0, d)} if running else {}
    return {"x": _spread_columns(rng, n, d), **_affine_params(rng, d, unit),
            "bn_param": {"mode": mode, **eps, **momentum, **stats}}


def _bn_cases(modes: list[str], n=batch_sizes, unit: bool = False) -> st.SearchStrategy[Case]:
    return cases(lambda rng, **drawn: _bn(rng, unit=unit, **drawn), n=n, d=dims, mode=st.sampled_from(modes),
                 eps=optional("eps", _EPSILONS), momentum=optional("momentum", _MOMENTA), running=st.booleans())


bn_cases = _bn_cases(["train", "test"])
bn_train_cases = _bn_cases(["train"])
bn_unit_cases = _bn_cases(["train"], n=st.integers(2, 6), unit=True)


def _ln(rng, n, d, eps, unit=False):
    return {"x": _spread_columns(rng, d, n).T.copy(), **_affine_params(rng, d, unit), "ln_param": dict(eps)}


ln_cases = cases(_ln, n=batch_sizes, d=dims, eps=optional("eps", _EPSILONS))


def _bn_spread(rng, n, d, eps, running):
    stats = {"running_mean": rng.normal(0.0, 1.0, d), "running_var": rng.uniform(0.5, 2.0, d)} if running else {}
    return {"x": spread_groups(rng, (n, d), (1, d)), **_affine_params(rng, d), "bn_param": {"mode": "train", **eps, **stats}}


def _ln_spread(rng, n, d, eps):
    return {"x": spread_groups(rng, (n, d), (n, 1)), **_affine_params(rng, d), "ln_param": dict(eps)}
ln_unit_cases = cases(lambda rng, **drawn: _ln(rng, unit=True, **drawn), n=batch_sizes, d=st.integers(2, 6),
                      eps=optional("eps", _EPSILONS))


small_shapes = st.one_of(st.tuples(st.integers(1, 8), st.integers(1, 8)),
                           st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)))


@st.composite
def _unequal(draw, low: int, high: int) -> tuple[int, int]:
    """Two sizes, one 2 to 4 times the other in either order: swapping them changes He's variance."""
    small, factor = draw(st.integers(low, high)), draw(st.sampled_from([2, 3, 4]))
    return (small, small * factor) if draw(st.booleans()) else (small * factor, small)


#: Shapes of 4 608 to 360 000 weights with fan_in and fan_out at least a factor 2 apart.
large_shapes = st.one_of(_unequal(60, 150),
                           st.builds(lambda fc, k: (fc[0], fc[1], *k), _unequal(16, 40),
                                     st.tuples(st.sampled_from([3, 5]), st.sampled_from([3, 5]))))


def _init_cases(shapes: st.SearchStrategy) -> st.SearchStrategy[Case]:
    return st.builds(lambda shape, seed: Case({"shape": shape, "rng": SeededGenerator(seed)}, seed=seed), shapes, seeds)


fans_cases = st.builds(lambda shape: Case({"shape": shape}), st.one_of(
    st.tuples(st.integers(1, 600), st.integers(1, 600)),
    st.tuples(st.integers(1, 64), st.integers(1, 64), st.integers(1, 7), st.integers(1, 7))))
