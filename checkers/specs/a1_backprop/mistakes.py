"""Known mistakes of a1_backprop: hint texts and the models of the results they give."""

from __future__ import annotations

import numpy as np

import dlgrade.reference.a1_backprop.losses as ref_losses
from dlgrade.checkers.declare import evaluate, Mistake


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


# Known mistakes of each exercise, by the function they are shown for

affine_forward_mistakes = [Mistake("The bias b is added to every row: out = x_flat @ w + b.", "output",
                                   lambda case, right, _: right - case.args["b"])]
affine_backward_mistakes = [
    Mistake("db is the SUM of dout over the batch (axis 0), not the mean.", "gradients",
            lambda case, right, _: {**right, "b": right["b"] / len(case.args["x"])}),
]
leaky_relu_forward_mistakes = [Mistake("The default slope is alpha=0.01 for x <= 0.", "output",
                                       lambda case, right, _: np.where(case.args["x"] > 0, case.args["x"], 0.0))]
elu_backward_mistakes = [backward_forgets_dout,
                         Mistake("For x < 0 the derivative is alpha·exp(x) = out + alpha, not exp(x).", "gradients",
                                 lambda case, right, dout: {"x": dout * np.where(case.args["x"] < 0, np.exp(np.minimum(case.args["x"], 0)), 1.0)})]
sigmoid_backward_mistakes = [backward_forgets_dout,
                             Mistake("The derivative is s·(1 − s) with s = sigmoid(x), not s alone.", "gradients",
                                     lambda case, right, dout: {"x": dout / (1 + np.exp(-case.args["x"]))}),
                             Mistake("The derivative is s·(1 − s) with s = sigmoid(x): use s, not x.", "gradients",
                                     lambda case, right, dout: {"x": dout * case.args["x"] * (1 - case.args["x"])})]
tanh_backward_mistakes = [backward_forgets_dout,
                          Mistake("The derivative of tanh is 1 − tanh(x)², not 1 − tanh(x).", "gradients",
                                  lambda case, right, dout: {"x": dout * (1 - np.tanh(case.args["x"]))})]
softmax_mistakes = [Mistake("Normalise each row over the classes (axis=1), not the whole array or the columns.", "output",
                            lambda case, right, _: np.exp(case.args["x"]) / np.exp(case.args["x"]).sum(axis=0, keepdims=True))]
softmax_loss_mistakes = [Mistake(SUM_NOT_MEAN, "loss", _times(_batch)), Mistake(SUM_NOT_MEAN, "gradients", _times(_batch)),
                         Mistake("dx = (softmax(x) − onehot(y)) / N: subtract 1 at the correct class.", "gradients",
                                 lambda case, right, _: {"x": evaluate(ref_losses.softmax, {"x": case.args["x"]}).output / len(case.args["x"])})]
cross_entropy_loss_mistakes = [Mistake(SUM_NOT_MEAN, "loss", _times(_batch)), Mistake(SUM_NOT_MEAN, "gradients", _times(_batch))]
svm_loss_mistakes = [Mistake(SUM_NOT_MEAN, "loss", _times(_batch)), Mistake(SUM_NOT_MEAN, "gradients", _times(_batch)),
                     Mistake("The correct class has no margin term: skip j == y[i] (it would add 1 per example).", "loss",
                             lambda case, right, _: right + 1.0)]
mse_loss_mistakes = [Mistake("The mean is over ALL elements, not only the batch.", "loss",
                             lambda case, right, _: right * case.args["pred"][0].size),
                     Mistake("d/dpred of (pred − target)² is 2·(pred − target): keep the factor 2.", "gradients",
                             _times(lambda case: 0.5)),
                     Mistake("Divide by the number of elements: the loss is a mean.", "gradients", _times(_size))]
l1_loss_mistakes = [Mistake("Divide by the number of elements: the loss is a mean.", "gradients", _times(_size)),
                    Mistake("Divide by the number of elements: the loss is a mean.", "loss", _times(_size))]
huber_loss_mistakes = [Mistake("Beyond delta the gradient is delta·sign(r): clip it.", "gradients",
                               lambda case, right, _: {"pred": (case.args["pred"] - case.args["target"]) / case.args["pred"].size}),
                       Mistake("Divide by the number of elements: the loss is a mean.", "gradients", _times(_size))]
l2_regularization_mistakes = [Mistake("The penalty is 0.5·reg·sum(w²), with the 0.5, so that its gradient is reg·w.", "loss",
                                      _times(lambda case: 2.0)),
                              Mistake("The gradient of 0.5·reg·sum(w²) is reg·w.", "gradients", _times(lambda case: 2.0))]
two_layer_net_mistakes = [Mistake("The L2 term is 0.5·reg·(sum W1² + sum W2²), and its gradient reg·W goes into dW1 and dW2.",
                                  "loss", lambda case, right, _: right + 0.5 * case.args["reg"] * sum(
                                      float(np.sum(v ** 2)) for k, v in case.args["params"].items() if k.startswith("W"))),
                          Mistake("Add the regularisation gradient reg·W to each dW.", "gradients",
                                  lambda case, right, _: {"params": {k: v - case.args["reg"] * case.args["params"][k] if k.startswith("W") else v
                                                                     for k, v in right["params"].items()}})]
fully_connected_net_mistakes = [Mistake("Regularise every W (W1..WL), none of the biases.", "loss",
                                        lambda case, right, _: right + 0.5 * case.args["reg"] * sum(
                                            float(np.sum(v ** 2)) for k, v in case.args["params"].items() if k.startswith("b")))]
