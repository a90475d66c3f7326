"""The input strategies of a1_backprop and its explicit cases (edges, kinks, extreme values)."""

from __future__ import annotations

from hypothesis import strategies as st
import numpy as np

from dlgrade.checkers.declare import (batch_sizes, Case, cases, dims, labels, optional, spread_rows, spread_values,
                                      values)


# ---------------------------------------------------------------------------------------------
# Input strategies


def _affine(rng, n, feature_shape, m):
    d = int(np.prod(feature_shape))
    return {"x": values(rng, (n, *feature_shape)), "w": values(rng, (d, m), 0.05, 1.0), "b": values(rng, (m,))}


affine_cases = cases(_affine, n=batch_sizes, feature_shape=st.lists(dims, min_size=1, max_size=3), m=dims)


def _with_hyper(kinks=(0.0,), low=0.1, high=2.0, **hyper: st.SearchStrategy[dict]):
    def make(rng, shape, **drawn):
        args = {"x": values(rng, shape, low, high, kinks=kinks)}
        for extra in drawn.values():
            args.update(extra)
        return args
    return cases(make, shape=st.lists(dims, min_size=1, max_size=4), **hyper)


def _logits(rng, n, c, scale=3.0):
    return rng.normal(0.0, scale, (n, c))


logit_cases = cases(lambda rng, n, c: {"x": _logits(rng, n, c)}, n=batch_sizes, c=st.integers(1, 7))
label_cases = cases(lambda rng, n, c: {"x": _logits(rng, n, c), "y": labels(rng, n, c)}, n=batch_sizes, c=st.integers(1, 7))
soft_label_cases = cases(lambda rng, n, c: {"x": _logits(rng, n, c), "p": rng.dirichlet(np.ones(c), n)},
                         n=batch_sizes, c=st.integers(1, 7))


def _svm(rng, n, c, gap=0.05):
    """Scores whose margins x_j - x_y + 1 stay away from 0, the hinge's kink."""
    x, y = _logits(rng, n, c, 1.0), labels(rng, n, c)
    margins = x - x[np.arange(n), y][:, None] + 1.0
    near = (np.abs(margins) < gap)
    near[np.arange(n), y] = False
    x[near] += 3 * gap
    return {"x": x, "y": y}


svm_cases = cases(_svm, n=batch_sizes, c=st.integers(1, 7))


def _regression(rng, shape, kinks=(0.0,)):
    target = values(rng, shape)
    return {"pred": target + values(rng, shape, 0.05, 3.0, kinks=kinks), "target": target}


regression_cases = cases(_regression, shape=st.lists(dims, min_size=1, max_size=3))


def _huber(rng, shape, delta):
    d = delta.get("delta", 1.0)
    residual = values(rng, shape, 0.05, 3 * d, kinks=(0.0, d, -d), gap=0.05 * d)
    target = values(rng, shape)
    return {"pred": target + residual, "target": target, **delta}


huber_cases = cases(_huber, shape=st.lists(dims, min_size=1, max_size=3), delta=optional("delta", [0.5, 1.0, 2.0]))
l2_cases = cases(lambda rng, shape, reg: {"w": values(rng, shape), "reg": reg},
                 shape=st.lists(dims, min_size=1, max_size=3), reg=st.sampled_from([0.0, 0.1, 0.5, 2.0]))


def _net(rng, n, feature_shape, hidden, c, reg):
    d = int(np.prod(feature_shape))
    sizes = [d, *hidden, c]
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out))
        params[f"b{i}"] = rng.normal(0, 0.1, fan_out)
    return {"X": rng.normal(0, 1, (n, *feature_shape)), "params": params, "y": labels(rng, n, c), "reg": reg}


regs = st.sampled_from([0.0, 0.05, 0.5])
two_layer_cases = cases(_net, n=batch_sizes, feature_shape=st.lists(dims, min_size=1, max_size=2),
                        hidden=st.lists(dims, min_size=1, max_size=1), c=st.integers(1, 5), reg=regs)
deep_cases = cases(_net, n=batch_sizes, feature_shape=st.lists(dims, min_size=1, max_size=2),
                   hidden=st.lists(dims, min_size=0, max_size=3), c=st.integers(1, 5), reg=regs)


#: Logits far beyond exp's range: the second row has a tie at the top.
LARGE_LOGITS = Case({"x": np.array([[1e5, 0.0, -1e5], [3.0, 1e5, 1e5]])})

#: Batches whose rows sit at very different scales (one near +1e3, another near -1e3, ...).
rows_apart = dict(n=st.integers(2, 6), c=st.integers(1, 7))
spread_logit_cases = cases(lambda rng, n, c: {"x": spread_rows(rng, (n, c))}, **rows_apart)
spread_label_cases = cases(lambda rng, n, c: {"x": spread_rows(rng, (n, c)), "y": labels(rng, n, c)}, **rows_apart)
spread_soft_label_cases = cases(lambda rng, n, c: {"x": spread_rows(rng, (n, c)), "p": rng.dirichlet(np.ones(c), n)},
                                **rows_apart)
#: Elementwise inputs of magnitudes from 1e-2 to 1e3 side by side.
spread_elementwise_cases = cases(lambda rng, shape: {"x": spread_values(rng, shape)},
                                 shape=st.lists(dims, min_size=1, max_size=3))

RELU_EDGES = Case({"x": np.array([[-1.5, 0.0, 2.0], [0.0, 0.5, -0.0]])})
LEAKY_EDGES = [Case({"x": np.array([[-1.5, 0.0, 2.0]])}), Case({"x": np.array([0.0, 1.0, -2.0]), "alpha": 0.2})]
ELU_EDGES = [Case({"x": np.array([[-1.5, 0.0, 2.0], [0.0, 0.5, -0.25]]), "alpha": 0.5}),
             Case({"x": np.array([0.0, -1.0, 1.0]), "alpha": 2.0})]
#: Margins x_j - x_y + 1 that are exactly 0 (exact in binary), beside active and inactive ones.
SVM_EDGES = [Case({"x": np.array([[2.0, 1.0, 0.5], [0.0, -1.0, 3.0], [1.0, 1.75, 0.0]]), "y": np.array([0, 2, 0])})]
L1_EDGES = [Case({"pred": np.array([[1.0, 2.0, -0.5], [0.25, 0.0, 3.0]]), "target": np.array([[1.0, 1.5, -0.5], [0.5, 0.0, 3.0]])})]
