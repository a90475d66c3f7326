"""Assignment a1_backprop: every exercise declared once.

The generic properties come from `checkers.properties`; what is written here is each exercise's
input strategy, its reference, the known mistakes it recognises, and its own invariants.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import dlgrade.reference.a1_backprop.layers as ref_layers
import dlgrade.reference.a1_backprop.losses as ref_losses
import dlgrade.reference.a1_backprop.net as ref_net
from dlgrade.checkers.declare import (UNSTABLE_EXP, assert_matches, batch_sizes, call_target, Case, cases, convention,
                                      dims, elementwise_cases, evaluate, examples, function, labels, layer, loss,
                                      Mistake, optional, Property, PropertyFailure, require_like, spread_rows,
                                      spread_values, stability, Target, values, Variant)

A = "a1_backprop"


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


# ---------------------------------------------------------------------------------------------
# Conventions at kinks and edges: minor properties, each naming itself

RELU_AT_ZERO = ("The contract fixes ReLU's derivative at exactly x = 0 to 0: dx = dout * (x > 0). Any value in [0, 1] is "
                "a valid subgradient (x >= 0 gives 1), so this convention costs only this property's share.")
LEAKY_AT_ZERO = ("The contract fixes leaky ReLU's derivative at exactly x = 0 to alpha (the x <= 0 side): "
                 "np.where(x > 0, dout, alpha * dout). Any value in [alpha, 1] is a valid subgradient, so this "
                 "convention costs only this property's share.")
ELU_AT_ZERO = ("The contract fixes ELU's derivative at exactly x = 0 to 1 (the x >= 0 side): with alpha != 1 the "
               "other side gives alpha, a valid subgradient too, so this convention costs only this property's share.")
L1_AT_ZERO = ("The contract fixes l1_loss's derivative where pred == target exactly to 0 (np.sign gives it); any value "
              "in [-1, 1] / size is a valid subgradient, so this convention costs only this property's share.")
SVM_AT_ZERO = ("A margin of exactly 0 counts as inactive (the contract, and CS231n: margins > 0): it adds no gradient. "
               "This convention costs only this property's share.")
SIGMOID_EXP = ("Evaluate exp only of non-positive numbers: with z = exp(-|x|), sigmoid is 1/(1 + z) for x >= 0 and "
               "z/(1 + z) below. 1/(1 + exp(-x)) gives the right values but overflows (a RuntimeWarning) for x below "
               "about -709; this costs only this property's share.")
ELU_EXP = ("Evaluate exp only of the negative entries (np.expm1(np.minimum(x, 0))): np.where computes both branches, "
           "so exp of a large positive x overflows (a RuntimeWarning) even where its result is not used.")

RELU_EDGES = Case({"x": np.array([[-1.5, 0.0, 2.0], [0.0, 0.5, -0.0]])})
LEAKY_EDGES = [Case({"x": np.array([[-1.5, 0.0, 2.0]])}), Case({"x": np.array([0.0, 1.0, -2.0]), "alpha": 0.2})]
ELU_EDGES = [Case({"x": np.array([[-1.5, 0.0, 2.0], [0.0, 0.5, -0.25]]), "alpha": 0.5}),
             Case({"x": np.array([0.0, -1.0, 1.0]), "alpha": 2.0})]
#: Margins x_j - x_y + 1 that are exactly 0 (exact in binary), beside active and inactive ones.
SVM_EDGES = [Case({"x": np.array([[2.0, 1.0, 0.5], [0.0, -1.0, 3.0], [1.0, 1.75, 0.0]]), "y": np.array([0, 2, 0])})]
L1_EDGES = [Case({"pred": np.array([[1.0, 2.0, -0.5], [0.25, 0.0, 3.0]]), "target": np.array([[1.0, 1.5, -0.5], [0.5, 0.0, 3.0]])})]


def _edges(name: str, cases_: list[Case]) -> Variant:
    """Values at the kinks that are fixed by the function itself (no convention): essential."""
    return Variant(name, "{function} matches the reference at the edge cases the contract fixes (exact kinks)",
                   examples(*cases_), where="forward")


def _kink(hint: str, cases_: list[Case], where: str = "backward") -> Variant:
    return convention("derivative_at_zero", "{function}'s derivative at exactly x = 0 is the contract's (a convention: "
                      "minor)", examples(*cases_), hint, where)


# ---------------------------------------------------------------------------------------------
# Known mistakes, recognised by their result


def _times(factor_of):
    """A result scaled by a factor that depends on the case (a missing or extra 1/N)."""
    def scaled(case, right, dout):
        f = factor_of(case)
        if isinstance(right, dict):
            return {k: (_scale(v, f)) for k, v in right.items()}
        return _scale(right, f)
    return scaled


def _scale(value, factor):
    if isinstance(value, dict):
        return {k: v * factor for k, v in value.items()}
    return value * factor


def _batch(case):
    return len(next(iter(case.args.values())))


def _size(case):
    return next(iter(case.args.values())).size


SUM_NOT_MEAN = "The loss is a mean over the batch: divide the sum (and the gradient) by N."
backward_forgets_dout = Mistake("The local derivative must be multiplied by dout (chain rule).", "gradients",
                                lambda case, right, dout: {"x": right["x"] / dout})


# ---------------------------------------------------------------------------------------------
# Exercise-specific properties


def _rows_sum_to_one(ctx, case):
    out = call_target(ctx, Target("softmax"), case).outputs["out"]
    require_like("out", out, case.args["x"])
    sums = out.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-9) or np.any(out < 0):
        raise PropertyFailure("softmax's rows are not probability distributions (non-negative, summing to 1)",
                              details=[f"row sums: {np.array2string(sums, precision=6)}"],
                              hints=["Normalise over the classes, axis=1, with keepdims=True."])


def _shift_invariant(name: str) -> Property:
    def check(ctx, case):
        shift = case.rng(3).uniform(-50, 50, (case.args["x"].shape[0], 1))
        target = Target(name)
        base = call_target(ctx, target, case).outputs["out"]
        shifted = call_target(ctx, target, case.with_args(x=case.args["x"] + shift)).outputs["out"]
        require_like("out", base, case.args["x"])
        require_like("out", shifted, case.args["x"])
        try:
            assert_matches("output", {"out(x + c)": shifted}, {"out(x + c)": base}, what="the output for x")
        except PropertyFailure as failure:
            failure.summary = f"{name} is not invariant to adding a constant to each row: " + failure.summary
            raise
    return Property("shift_invariant", f"{name}(x + c) equals {name}(x) for a constant c added to each row", check,
                    cases=logit_cases)


def _scores_without_labels(name: str, reference) -> Property:
    def check(ctx, case):
        plain = case.without("y", "reg")
        got = call_target(ctx, Target(name, ("scores",)), plain).outputs["scores"]
        want = evaluate(reference, plain.args).output
        require_like("scores", got, want)
        assert_matches("scores", {"scores": got}, {"scores": want})
    return Property("scores_without_labels", f"{name}(X, params) returns the class scores (N, C) when y is None", check)


# ---------------------------------------------------------------------------------------------
# The exercises

EXERCISES = [
    *layer(A, "layers", "affine_forward", "affine_backward", ref_layers.affine, affine_cases, ("x", "w", "b"),
           summary="affine layer",
           forward_mistakes=[Mistake("The bias b is added to every row: out = x_flat @ w + b.", "output",
                                     lambda case, right, _: right - case.args["b"])],
           backward_mistakes=[
               Mistake("db is the SUM of dout over the batch (axis 0), not the mean.", "gradients",
                       lambda case, right, _: {**right, "b": right["b"] / len(case.args["x"])}),
           ]),
    *layer(A, "layers", "relu_forward", "relu_backward", ref_layers.relu, elementwise_cases(), ("x",),
           summary="ReLU", variants=[_edges("matches_reference_at_edges", [RELU_EDGES]), _kink(RELU_AT_ZERO, [RELU_EDGES])],
           backward_mistakes=[backward_forgets_dout]),
    *layer(A, "layers", "leaky_relu_forward", "leaky_relu_backward", ref_layers.leaky_relu,
           _with_hyper(alpha=optional("alpha", [0.01, 0.1, 0.3])), ("x",), summary="leaky ReLU",
           variants=[_edges("matches_reference_at_edges", LEAKY_EDGES), _kink(LEAKY_AT_ZERO, LEAKY_EDGES)],
           forward_mistakes=[Mistake("The default slope is alpha=0.01 for x <= 0.", "output",
                                     lambda case, right, _: np.where(case.args["x"] > 0, case.args["x"], 0.0))],
           backward_mistakes=[backward_forgets_dout]),
    *layer(A, "layers", "elu_forward", "elu_backward", ref_layers.elu,
           _with_hyper(alpha=optional("alpha", [0.5, 1.0, 2.0])), ("x",), summary="ELU",
           variants=[_edges("matches_reference_at_edges", ELU_EDGES), _kink(ELU_AT_ZERO, ELU_EDGES),
                     Variant("stable_at_extreme_inputs", "{function} is right and warning-free at x up to 1e3 "
                             "(a convention: minor)", examples(Case({"x": np.array([[1e3, -1e3, 50.0, -50.0, 0.0]])}),
                                                               Case({"x": np.array([800.0, -2.0]), "alpha": 0.5})),
                             where="forward", essential=False, hint=ELU_EXP, warnings_free=True)],
           backward_mistakes=[backward_forgets_dout,
                              Mistake("For x < 0 the derivative is alpha·exp(x) = out + alpha, not exp(x).", "gradients",
                                      lambda case, right, dout: {"x": dout * np.where(case.args["x"] < 0, np.exp(np.minimum(case.args["x"], 0)), 1.0)})]),
    *layer(A, "layers", "sigmoid_forward", "sigmoid_backward", ref_layers.sigmoid,
           _with_hyper(kinks=(), low=0.0, high=6.0), ("x",), summary="sigmoid",
           variants=stability(spread_elementwise_cases, [Case({"x": np.array([[1e4, -1e4, 800.0, -800.0, 0.0]])})],
                              hint=UNSTABLE_EXP, extreme_hint=SIGMOID_EXP, what="elements"),
           backward_mistakes=[backward_forgets_dout,
                              Mistake("The derivative is s·(1 − s) with s = sigmoid(x), not s alone.", "gradients",
                                      lambda case, right, dout: {"x": dout / (1 + np.exp(-case.args["x"]))}),
                              Mistake("The derivative is s·(1 − s) with s = sigmoid(x): use s, not x.", "gradients",
                                      lambda case, right, dout: {"x": dout * case.args["x"] * (1 - case.args["x"])})]),
    *layer(A, "layers", "tanh_forward", "tanh_backward", ref_layers.tanh, _with_hyper(kinks=(), low=0.0, high=3.0),
           ("x",), summary="tanh",
           variants=stability(spread_elementwise_cases, [Case({"x": np.array([[1e5, -1e5, 1e3, -30.0, 0.0]])})],
                              hint=UNSTABLE_EXP, extreme_hint=UNSTABLE_EXP, what="elements"),
           backward_mistakes=[backward_forgets_dout,
                              Mistake("The derivative of tanh is 1 − tanh(x)², not 1 − tanh(x).", "gradients",
                                      lambda case, right, dout: {"x": dout * (1 - np.tanh(case.args["x"]))})]),

    *function(A, "losses", "softmax", ref_losses.softmax, logit_cases, summary="softmax over classes",
              extra=[Property("rows_sum_to_one", "softmax's rows are non-negative and sum to 1", _rows_sum_to_one,
                              cases=logit_cases),
                     _shift_invariant("softmax")],
              variants=stability(spread_logit_cases, [LARGE_LOGITS], extreme_hint=UNSTABLE_EXP),
              mistakes=[Mistake("Normalise each row over the classes (axis=1), not the whole array or the columns.", "output",
                                lambda case, right, _: np.exp(case.args["x"]) / np.exp(case.args["x"]).sum(axis=0, keepdims=True))]),
    *function(A, "losses", "log_softmax", ref_losses.log_softmax, logit_cases, summary="log-softmax over classes",
              extra=[_shift_invariant("log_softmax")], variants=stability(spread_logit_cases, [LARGE_LOGITS])),
    *loss(A, "losses", "softmax_loss", ref_losses.softmax_loss, label_cases, summary="softmax cross-entropy",
          mistakes=[Mistake(SUM_NOT_MEAN, "loss", _times(_batch)), Mistake(SUM_NOT_MEAN, "gradients", _times(_batch)),
                    Mistake("dx = (softmax(x) − onehot(y)) / N: subtract 1 at the correct class.", "gradients",
                            lambda case, right, _: {"x": evaluate(ref_losses.softmax, {"x": case.args["x"]}).output / len(case.args["x"])})],
          variants=stability(spread_label_cases, [Case({"x": LARGE_LOGITS.args["x"], "y": np.array([2, 0])})])),
    *loss(A, "losses", "cross_entropy_loss", ref_losses.cross_entropy_loss, soft_label_cases,
          summary="cross-entropy with a target distribution",
          mistakes=[Mistake(SUM_NOT_MEAN, "loss", _times(_batch)), Mistake(SUM_NOT_MEAN, "gradients", _times(_batch))],
          variants=stability(spread_soft_label_cases,
                             [Case({"x": LARGE_LOGITS.args["x"], "p": np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])})])),
    *loss(A, "losses", "svm_loss", ref_losses.svm_loss, svm_cases, summary="multiclass hinge loss",
          variants=[convention("margin_exactly_zero", "{function}: a margin of exactly 0 is inactive (no gradient; a "
                               "convention: minor)", examples(*SVM_EDGES), SVM_AT_ZERO)],
          mistakes=[Mistake(SUM_NOT_MEAN, "loss", _times(_batch)), Mistake(SUM_NOT_MEAN, "gradients", _times(_batch)),
                    Mistake("The correct class has no margin term: skip j == y[i] (it would add 1 per example).", "loss",
                            lambda case, right, _: right + 1.0)]),
    *loss(A, "losses", "mse_loss", ref_losses.mse_loss, regression_cases, ("pred",), summary="mean squared error",
          mistakes=[Mistake("The mean is over ALL elements, not only the batch.", "loss",
                            lambda case, right, _: right * case.args["pred"][0].size),
                    Mistake("d/dpred of (pred − target)² is 2·(pred − target): keep the factor 2.", "gradients",
                            _times(lambda case: 0.5)),
                    Mistake("Divide by the number of elements: the loss is a mean.", "gradients", _times(_size))]),
    *loss(A, "losses", "l1_loss", ref_losses.l1_loss, regression_cases, ("pred",), summary="mean absolute error",
          variants=[convention("gradient_where_equal", "{function}'s derivative where pred == target exactly is the "
                               "contract's 0 (a convention: minor)", examples(*L1_EDGES), L1_AT_ZERO)],
          mistakes=[Mistake("Divide by the number of elements: the loss is a mean.", "gradients", _times(_size)),
                    Mistake("Divide by the number of elements: the loss is a mean.", "loss", _times(_size))]),
    *loss(A, "losses", "huber_loss", ref_losses.huber_loss, huber_cases, ("pred",), summary="Huber loss",
          mistakes=[Mistake("Beyond delta the gradient is delta·sign(r): clip it.", "gradients",
                            lambda case, right, _: {"pred": (case.args["pred"] - case.args["target"]) / case.args["pred"].size}),
                    Mistake("Divide by the number of elements: the loss is a mean.", "gradients", _times(_size))]),
    *loss(A, "losses", "l2_regularization", ref_losses.l2_regularization, l2_cases, ("w",), summary="L2 penalty",
          mistakes=[Mistake("The penalty is 0.5·reg·sum(w²), with the 0.5, so that its gradient is reg·w.", "loss",
                            _times(lambda case: 2.0)),
                    Mistake("The gradient of 0.5·reg·sum(w²) is reg·w.", "gradients", _times(lambda case: 2.0))]),

    *loss(A, "net", "two_layer_net", ref_net.two_layer_net, two_layer_cases, ("params",),
          summary="two-layer network: loss and gradients",
          extra=[_scores_without_labels("two_layer_net", ref_net.two_layer_net)],
          mistakes=[Mistake("The L2 term is 0.5·reg·(sum W1² + sum W2²), and its gradient reg·W goes into dW1 and dW2.",
                            "loss", lambda case, right, _: right + 0.5 * case.args["reg"] * sum(
                                float(np.sum(v ** 2)) for k, v in case.args["params"].items() if k.startswith("W"))),
                    Mistake("Add the regularisation gradient reg·W to each dW.", "gradients",
                            lambda case, right, _: {"params": {k: v - case.args["reg"] * case.args["params"][k] if k.startswith("W") else v
                                                               for k, v in right["params"].items()}})]),
    *loss(A, "net", "fully_connected_net", ref_net.fully_connected_net, deep_cases, ("params",),
          summary="fully connected network of any depth: loss and gradients",
          extra=[_scores_without_labels("fully_connected_net", ref_net.fully_connected_net)],
          mistakes=[Mistake("Regularise every W (W1..WL), none of the biases.", "loss",
                            lambda case, right, _: right + 0.5 * case.args["reg"] * sum(
                                float(np.sum(v ** 2)) for k, v in case.args["params"].items() if k.startswith("b")))]),
]
