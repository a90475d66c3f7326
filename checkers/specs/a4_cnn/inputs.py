"""The input strategies of a4_cnn: geometries drawn through the output size, distinct max-pool
values, normalisation inputs, layer stacks."""

from __future__ import annotations

from hypothesis import strategies as st
import numpy as np

from dlgrade.checkers.declare import Case, seeds, spread_groups, values


# ---------------------------------------------------------------------------------------------
# Input strategies


def _out_size(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


@st.composite
def _extent(draw, kernel: int, stride: int, pad: int, divides: bool | None = True, max_out: int = 4) -> int:
    """An input size with 1 to max_out outputs whose H + 2·pad − kernel the stride divides
    (divides=True), leaves a remainder of (divides=False, stride >= 2), or either (None)."""
    outputs = draw(st.integers(1, max_out))
    if divides is None:
        remainder = draw(st.integers(0, stride - 1))
    else:
        remainder = 0 if divides else draw(st.integers(1, stride - 1))
    size = kernel - 2 * pad + (outputs - 1) * stride + remainder
    while size < 1:  # padding wider than the kernel: the smallest such size with a real input
        size += stride
    return size


def _remainder(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    return (size + 2 * pad - kernel) % stride


def _conv_geometry_text(case: Case) -> str:
    x, w, p = case.args["x"], case.args["w"], case.args["conv_param"]
    return _geometry_text(x.shape[2:], w.shape[2:], p["stride"], p["pad"], "H + 2·pad − HH", "W + 2·pad − WW")


def _pool_geometry_text(case: Case) -> str:
    x, p = case.args["x"], case.args["pool_param"]
    return _geometry_text(x.shape[2:], (p["pool_height"], p["pool_width"]), p["stride"], 0,
                          "H − pool_height", "W − pool_width")


def _geometry_text(sizes, kernels, stride: int, pad: int, *names: str) -> str:
    """What makes a non-dividing configuration special, in small integers (safe for hidden examples)."""
    parts = []
    for size, kernel, name in zip(sizes, kernels, names):
        span, left = size + 2 * pad - kernel, _remainder(size, kernel, stride, pad)
        if left:
            parts.append(f"{name} = {span} leaves a remainder of {left} for stride {stride}")
    return f"with a stride that does not divide the input ({'; '.join(parts)}): " if parts else ""


def distinct_values(rng: np.random.Generator, shape) -> np.ndarray:
    """Values in [-2, 2], every two at least 4/size (>= 0.01 here) apart: no ties for max."""
    size = int(np.prod(shape))
    gap = 4.0 / max(size, 1)
    v = (rng.permutation(size) - size / 2) * gap + rng.uniform(0, gap / 4, size)
    return v.reshape(shape)


@st.composite
def conv_cases(draw, divides: bool = True) -> Case:
    """divides=False: strides of 2 or 3 that leave a remainder in the height (the width: either)."""
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1 if divides else 2, 3)), draw(st.integers(0, 2))
    h, w = draw(_extent(kh, stride, pad, divides)), draw(_extent(kw, stride, pad, True if divides else None))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return Case({"x": values(rng, (n, c, h, w)), "w": values(rng, (f, c, kh, kw), 0.05, 1.0),
                 "b": values(rng, (f,)), "conv_param": {"stride": stride, "pad": pad}}, seed)


@st.composite
def pool_cases(draw, divides: bool = True) -> Case:
    """divides=False: strides of 2 or 3 that leave a remainder in the height (the width: either)."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1 if divides else 2, 3))
    h, w = draw(_extent(ph, stride, 0, divides)), draw(_extent(pw, stride, 0, True if divides else None))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return Case({"x": distinct_values(rng, (n, c, h, w)),
                 "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}, seed)


def _pool_case(x: np.ndarray, ph: int, pw: int, stride: int, seed: int = 0) -> Case:
    return Case({"x": x, "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}, seed)


def _peak_in_the_middle(shape) -> np.ndarray:
    """Distinct values whose largest sits at the centre, inside every overlapping window."""
    x = distinct_values(np.random.default_rng(sum(shape)), shape)
    centre = (..., shape[-2] // 2, shape[-1] // 2)
    x[centre] = np.max(x) + 1.0
    return x


#: Windows that overlap, with the maximum shared by several windows: an element must receive the
#: sum of their gradients (the usual 2x2 / stride-2 check cannot see `=` instead of `+=`).
OVERLAPPING = [
    _pool_case(_peak_in_the_middle((1, 1, 3, 3)), 2, 2, 1, seed=1),
    _pool_case(_peak_in_the_middle((2, 1, 5, 5)), 3, 3, 2, seed=2),
    _pool_case(_peak_in_the_middle((1, 2, 3, 4)), 2, 3, 1, seed=3),
    _pool_case(distinct_values(np.random.default_rng(4), (2, 2, 4, 5)), 2, 2, 1, seed=4),
]


@st.composite
def global_pool_cases(draw) -> Case:
    shape = tuple(draw(st.integers(1, 4)) for _ in range(4))
    seed = draw(seeds)
    return Case({"x": values(np.random.default_rng(seed), shape)}, seed)


@st.composite
def batchnorm_cases(draw, modes=("train", "test")) -> Case:
    n, c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    mode = draw(st.sampled_from(modes))
    extra = draw(st.fixed_dictionaries({}, optional={"eps": st.sampled_from([1e-5, 1e-3]),
                                                     "momentum": st.sampled_from([0.9, 0.5, 0.8])}))
    has_running = mode == "test" or draw(st.booleans())
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    bn_param = {"mode": mode, **extra}
    if has_running:
        bn_param["running_mean"] = rng.normal(0, 1, c)
        bn_param["running_var"] = rng.uniform(0.5, 2.0, c)
    return Case({"x": values(rng, (n, c, h, w)), "gamma": values(rng, (c,), 0.5, 2.0),
                 "beta": values(rng, (c,)), "bn_param": bn_param}, seed)


@st.composite
def batchnorm_spread_cases(draw) -> Case:
    """Train-mode cases whose channels have very different means and spreads side by side."""
    case = draw(batchnorm_cases(("train",)))
    n, c, h, w = case.args["x"].shape
    x = spread_groups(np.random.default_rng(case.seed), (max(n, 2), c, h, w), (1, c, 1, 1))
    return case.with_args(x=x)


@st.composite
def groupnorm_spread_cases(draw) -> Case:
    """Cases whose groups (per example) have very different means and spreads side by side."""
    case = draw(groupnorm_cases())
    n, c, h, w = case.args["x"].shape
    return case.with_args(x=spread_groups(np.random.default_rng(case.seed), (n, c, h, w), (n, c, 1, 1)))


@st.composite
def groupnorm_cases(draw) -> Case:
    n, c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
    gn_param = draw(st.fixed_dictionaries({}, optional={"eps": st.sampled_from([1e-5, 1e-3])}))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return Case({"x": values(rng, (n, c, h, w)), "gamma": values(rng, (1, c, 1, 1), 0.5, 2.0),
                 "beta": values(rng, (1, c, 1, 1)), "G": groups, "gn_param": gn_param}, seed)


layer_stacks = st.lists(st.tuples(st.integers(1, 7), st.integers(1, 4)), min_size=1, max_size=5)
rf_cases = st.builds(lambda layers: Case({"layers": layers}), layer_stacks)


@st.composite
def cost_cases(draw) -> Case:
    c, f = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    kh, kw, stride, pad = draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 4)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, kh - 2 * pad), 40))
    w = draw(st.integers(max(1, kw - 2 * pad), 40))
    return Case({"in_shape": (c, h, w), "w_shape": (f, c, kh, kw), "stride": stride, "pad": pad})
