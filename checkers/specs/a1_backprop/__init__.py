"""Assignment a1_backprop: every exercise declared once.

The generic properties come from `checkers.properties`; the input strategies are in `inputs`, the
known mistakes in `mistakes`, and the assignment's own properties in `checks`.
"""

from __future__ import annotations

import numpy as np

import dlgrade.reference.a1_backprop.layers as ref_layers
import dlgrade.reference.a1_backprop.losses as ref_losses
import dlgrade.reference.a1_backprop.net as ref_net
from dlgrade.checkers.declare import (Case, convention, elementwise_cases, examples, function, layer, loss, optional,
                                      Property, stability, UNSTABLE_EXP, Variant)

from .inputs import (_with_hyper, affine_cases, deep_cases, ELU_EDGES, huber_cases, L1_EDGES, l2_cases, label_cases,
                     LARGE_LOGITS, LEAKY_EDGES, logit_cases, regression_cases, RELU_EDGES, soft_label_cases,
                     spread_elementwise_cases, spread_label_cases, spread_logit_cases, spread_soft_label_cases,
                     svm_cases, SVM_EDGES, two_layer_cases)
from .mistakes import (affine_backward_mistakes, affine_forward_mistakes, backward_forgets_dout,
                       cross_entropy_loss_mistakes, ELU_AT_ZERO, elu_backward_mistakes, ELU_EXP,
                       fully_connected_net_mistakes, huber_loss_mistakes, L1_AT_ZERO, l1_loss_mistakes,
                       l2_regularization_mistakes, LEAKY_AT_ZERO, leaky_relu_forward_mistakes, mse_loss_mistakes,
                       RELU_AT_ZERO, sigmoid_backward_mistakes, SIGMOID_EXP, softmax_loss_mistakes, softmax_mistakes,
                       SVM_AT_ZERO, svm_loss_mistakes, tanh_backward_mistakes, two_layer_net_mistakes)
from .checks import _edges, _kink, _rows_sum_to_one, _scores_without_labels, _shift_invariant


A = "a1_backprop"


# ---------------------------------------------------------------------------------------------
# The exercises

EXERCISES = [
    *layer(A, "layers", "affine_forward", "affine_backward", ref_layers.affine, affine_cases, ("x", "w", "b"),
           summary="affine layer",
           forward_mistakes=affine_forward_mistakes,
           backward_mistakes=affine_backward_mistakes),
    *layer(A, "layers", "relu_forward", "relu_backward", ref_layers.relu, elementwise_cases(), ("x",),
           summary="ReLU", variants=[_edges("matches_reference_at_edges", [RELU_EDGES]), _kink(RELU_AT_ZERO, [RELU_EDGES])],
           backward_mistakes=[backward_forgets_dout]),
    *layer(A, "layers", "leaky_relu_forward", "leaky_relu_backward", ref_layers.leaky_relu,
           _with_hyper(alpha=optional("alpha", [0.01, 0.1, 0.3])), ("x",), summary="leaky ReLU",
           variants=[_edges("matches_reference_at_edges", LEAKY_EDGES), _kink(LEAKY_AT_ZERO, LEAKY_EDGES)],
           forward_mistakes=leaky_relu_forward_mistakes,
           backward_mistakes=[backward_forgets_dout]),
    *layer(A, "layers", "elu_forward", "elu_backward", ref_layers.elu,
           _with_hyper(alpha=optional("alpha", [0.5, 1.0, 2.0])), ("x",), summary="ELU",
           variants=[_edges("matches_reference_at_edges", ELU_EDGES), _kink(ELU_AT_ZERO, ELU_EDGES),
                     Variant("stable_at_extreme_inputs", "{function} is right and warning-free at x up to 1e3 "
                             "(a convention: minor)", examples(Case({"x": np.array([[1e3, -1e3, 50.0, -50.0, 0.0]])}),
                                                               Case({"x": np.array([800.0, -2.0]), "alpha": 0.5})),
                             where="forward", essential=False, hint=ELU_EXP, warnings_free=True)],
           backward_mistakes=elu_backward_mistakes),
    *layer(A, "layers", "sigmoid_forward", "sigmoid_backward", ref_layers.sigmoid,
           _with_hyper(kinks=(), low=0.0, high=6.0), ("x",), summary="sigmoid",
           variants=stability(spread_elementwise_cases, [Case({"x": np.array([[1e4, -1e4, 800.0, -800.0, 0.0]])})],
                              hint=UNSTABLE_EXP, extreme_hint=SIGMOID_EXP, what="elements"),
           backward_mistakes=sigmoid_backward_mistakes),
    *layer(A, "layers", "tanh_forward", "tanh_backward", ref_layers.tanh, _with_hyper(kinks=(), low=0.0, high=3.0),
           ("x",), summary="tanh",
           variants=stability(spread_elementwise_cases, [Case({"x": np.array([[1e5, -1e5, 1e3, -30.0, 0.0]])})],
                              hint=UNSTABLE_EXP, extreme_hint=UNSTABLE_EXP, what="elements"),
           backward_mistakes=tanh_backward_mistakes),

    *function(A, "losses", "softmax", ref_losses.softmax, logit_cases, summary="softmax over classes",
              extra=[Property("rows_sum_to_one", "softmax's rows are non-negative and sum to 1", _rows_sum_to_one,
                              cases=logit_cases),
                     _shift_invariant("softmax")],
              variants=stability(spread_logit_cases, [LARGE_LOGITS], extreme_hint=UNSTABLE_EXP),
              mistakes=softmax_mistakes),
    *function(A, "losses", "log_softmax", ref_losses.log_softmax, logit_cases, summary="log-softmax over classes",
              extra=[_shift_invariant("log_softmax")], variants=stability(spread_logit_cases, [LARGE_LOGITS])),
    *loss(A, "losses", "softmax_loss", ref_losses.softmax_loss, label_cases, summary="softmax cross-entropy",
          mistakes=softmax_loss_mistakes,
          variants=stability(spread_label_cases, [Case({"x": LARGE_LOGITS.args["x"], "y": np.array([2, 0])})])),
    *loss(A, "losses", "cross_entropy_loss", ref_losses.cross_entropy_loss, soft_label_cases,
          summary="cross-entropy with a target distribution",
          mistakes=cross_entropy_loss_mistakes,
          variants=stability(spread_soft_label_cases,
                             [Case({"x": LARGE_LOGITS.args["x"], "p": np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])})])),
    *loss(A, "losses", "svm_loss", ref_losses.svm_loss, svm_cases, summary="multiclass hinge loss",
          variants=[convention("margin_exactly_zero", "{function}: a margin of exactly 0 is inactive (no gradient; a "
                               "convention: minor)", examples(*SVM_EDGES), SVM_AT_ZERO)],
          mistakes=svm_loss_mistakes),
    *loss(A, "losses", "mse_loss", ref_losses.mse_loss, regression_cases, ("pred",), summary="mean squared error",
          mistakes=mse_loss_mistakes),
    *loss(A, "losses", "l1_loss", ref_losses.l1_loss, regression_cases, ("pred",), summary="mean absolute error",
          variants=[convention("gradient_where_equal", "{function}'s derivative where pred == target exactly is the "
                               "contract's 0 (a convention: minor)", examples(*L1_EDGES), L1_AT_ZERO)],
          mistakes=l1_loss_mistakes),
    *loss(A, "losses", "huber_loss", ref_losses.huber_loss, huber_cases, ("pred",), summary="Huber loss",
          mistakes=huber_loss_mistakes),
    *loss(A, "losses", "l2_regularization", ref_losses.l2_regularization, l2_cases, ("w",), summary="L2 penalty",
          mistakes=l2_regularization_mistakes),

    *loss(A, "net", "two_layer_net", ref_net.two_layer_net, two_layer_cases, ("params",),
          summary="two-layer network: loss and gradients",
          extra=[_scores_without_labels("two_layer_net", ref_net.two_layer_net)],
          mistakes=two_layer_net_mistakes),
    *loss(A, "net", "fully_connected_net", ref_net.fully_connected_net, deep_cases, ("params",),
          summary="fully connected network of any depth: loss and gradients",
          extra=[_scores_without_labels("fully_connected_net", ref_net.fully_connected_net)],
          mistakes=fully_connected_net_mistakes),
]
