"""Assignment a1_backprop: every exercise declared once.

The generic properties come from `checkers.properties`; the input strategies are in `inputs`, the
known mistakes in `mistakes`, and the assignment's own properties in `checks`.
"""

from __future__ import annotations

import numpy as np

import dlgrade.reference.a1_backprop.layers as ref_layers
import dlgrade.reference.a1_backprop.losses as ref_losses
import dlgrade.reference.a1_backprop.net as ref_net
from dlgrade.checkers.declare import (Case, convention, elementwise_cases, evaluate, examples, function, layer, loss,
                                      Mistake, optional, Property, stability, UNSTABLE_EXP, Variant)

from .inputs import (_with_hyper, affine_cases, deep_cases, ELU_EDGES, huber_cases, L1_EDGES, l2_cases, label_cases,
                     LARGE_LOGITS, LEAKY_EDGES, logit_cases, regression_cases, RELU_EDGES, soft_label_cases,
                     spread_elementwise_cases, spread_label_cases, spread_logit_cases, spread_soft_label_cases,
                     svm_cases, SVM_EDGES, two_layer_cases)
from .mistakes import (_batch, _size, _times, backward_forgets_dout, ELU_AT_ZERO, ELU_EXP, L1_AT_ZERO, LEAKY_AT_ZERO,
                       RELU_AT_ZERO, SIGMOID_EXP, SUM_NOT_MEAN, SVM_AT_ZERO)
from .checks import _edges, _kink, _rows_sum_to_one, _scores_without_labels, _shift_invariant


A = "a1_backprop"


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
