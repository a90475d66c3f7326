"""Known mistakes of a1_backprop: hint texts and the models of the results they give."""

from __future__ import annotations

from dlgrade.checkers.declare import Mistake


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
