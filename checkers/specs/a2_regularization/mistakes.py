"""Known mistakes of a2_regularization: hint texts and the models of the results they give."""

from __future__ import annotations

import numpy as np

import dlgrade.reference.a2_regularization.dropout as ref_dropout
import dlgrade.reference.a2_regularization.init as ref_init
from dlgrade.checkers.declare import Case, evaluate, Mistake


# ---------------------------------------------------------------------------------------------
# Dropout

KEEP_NOT_DROP = ("p is the probability of KEEPING a unit: mask = np.random.rand(*x.shape) < p and out = x·mask/p "
                 "(not 1 − p).")
NO_RESCALE = ("Inverted dropout divides the kept units by p in training (out = x·mask/p) so that test mode needs no "
              "change; the backward scales by 1/p too.")
TEST_IS_IDENTITY = "In test mode inverted dropout is the identity: out = x and dx = dout, with no scaling by p."
NEW_MASK = ("Use the mask that the forward stored in its cache: a mask drawn anew in the backward drops other units "
            "than the forward did.")
USE_SEED = ("When dropout_param has a 'seed', draw the mask from it (np.random.default_rng(seed), or "
            "np.random.seed(seed) before drawing) so that the same seed gives the same mask.")


def _dropout_expected(case: Case, mask: np.ndarray | None) -> np.ndarray:
    """The reference's output for the mask recovered from the student's output."""
    param = case.args["dropout_param"]
    x = case.args["x"]
    mask = np.ones(x.shape) if mask is None else mask.astype(np.float64)
    return evaluate(ref_dropout.dropout, {"x": x, "mask": mask, "p": param["p"], "mode": param["mode"]}).output


def _dropout_vjp(case: Case, mask: np.ndarray, dout: np.ndarray) -> np.ndarray:
    param = case.args["dropout_param"]
    ev = evaluate(ref_dropout.dropout, {"x": case.args["x"], "mask": mask.astype(np.float64), "p": param["p"],
                                "mode": param["mode"]}, ("x",))
    return ev.vjp(dout)["x"]


dropout_forward_mistakes = [
    Mistake(NO_RESCALE, "output", lambda case, right, _: case.args["x"] * (right != 0)),
    Mistake(KEEP_NOT_DROP, "output",
            lambda case, right, _: case.args["x"] * (right != 0) / (1 - case.args["dropout_param"]["p"])),
    Mistake(TEST_IS_IDENTITY, "output", lambda case, right, _: case.args["x"] * case.args["dropout_param"]["p"]),
    Mistake(TEST_IS_IDENTITY, "output", lambda case, right, _: case.args["x"] / case.args["dropout_param"]["p"]),
]
dropout_backward_mistakes = [
    Mistake(NO_RESCALE, "gradients", lambda case, right, dout: {"x": dout * (right["x"] != 0)}),
    Mistake(TEST_IS_IDENTITY, "gradients", lambda case, right, dout: {"x": dout * case.args["dropout_param"]["p"]}),
]
keep_rate_mistakes = [Mistake(KEEP_NOT_DROP, "keep_rate", lambda case, right, _: np.array(1 - right))]


# ---------------------------------------------------------------------------------------------
# Batch and layer normalisation

BIASED_VARIANCE = ("Use the biased variance (divide by N: np.var's default, not ddof=1), in the normalisation and in "
                   "the running variance.")
EPS_INSIDE = "eps goes inside the square root: (x − mean) / np.sqrt(var + eps)."
BN_AXIS = "Batch norm's statistics are per feature: mean and variance over the batch, axis=0."
LN_AXIS = "Layer norm's statistics are per example: mean and variance over the features, axis=1 (keepdims=True)."
MOMENTUM = ("momentum is the share of the OLD running value that is kept: running = momentum·running + "
            "(1 − momentum)·batch (default momentum 0.9).")
WRITE_BACK = ("Write the updated statistics back into the dict: bn_param['running_mean'] = ... and "
              "bn_param['running_var'] = ... (missing ones start as zeros of shape (D,)).")
TEST_USES_RUNNING = "In test mode normalise with bn_param's running_mean and running_var, not the batch's statistics."
ALL_PATHS = ("x reaches the loss through x̂ directly and through the mean and the variance: "
             "dx = gamma·inv_std/N·(N·dout − Σdout − x̂·Σ(dout·x̂)), not just dout·gamma·inv_std.")
SUMS = "dgamma = Σ dout·x̂ and dbeta = Σ dout are SUMS over the batch (axis 0), not means."


def _params(case: Case) -> dict:
    return case.args.get("bn_param", case.args.get("ln_param"))


def _normalised(case: Case, axis: int, ddof: int = 0, eps_outside: bool = False,
                stats: tuple | None = None) -> np.ndarray:
    """gamma·(x − mean)/sqrt(var + eps) + beta written the wrong ways a mistake model needs."""
    x, eps = case.args["x"], _params(case).get("eps", 1e-5)
    if x.shape[axis] - ddof <= 0:
        raise ValueError("the model does not apply")
    mean, var = stats if stats is not None else (x.mean(axis=axis, keepdims=True), x.var(axis=axis, ddof=ddof, keepdims=True))
    scale = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    return case.args["gamma"] * (x - mean) / scale + case.args["beta"]


def _train_only(model):
    def only_in_training(case, right, dout):
        if _params(case).get("mode", "train") != "train":
            raise ValueError("the model is of training mode")
        return model(case, right, dout)
    return only_in_training


def _test_stats(case: Case) -> tuple:
    bn = case.args["bn_param"]
    d = case.args["x"].shape[1]
    if bn.get("mode") != "test":
        raise ValueError("the model is of test mode")
    return bn.get("running_mean", np.zeros(d)), bn.get("running_var", np.zeros(d))


def _batch_stats_in_test(case: Case) -> np.ndarray:
    _test_stats(case)  # a model of test mode only
    return _normalised(case, 0)


bn_forward_mistakes = [
    Mistake(BIASED_VARIANCE, "output", _train_only(lambda case, right, _: _normalised(case, 0, ddof=1))),
    Mistake(EPS_INSIDE, "output", _train_only(lambda case, right, _: _normalised(case, 0, eps_outside=True))),
    Mistake(EPS_INSIDE, "output", lambda case, right, _: _normalised(case, 0, eps_outside=True, stats=_test_stats(case))),
    Mistake(BN_AXIS, "output", _train_only(lambda case, right, _: _normalised(case, 1))),
    Mistake(TEST_USES_RUNNING, "output", lambda case, right, _: _batch_stats_in_test(case)),
]
ln_forward_mistakes = [
    Mistake(BIASED_VARIANCE, "output", lambda case, right, _: _normalised(case, 1, ddof=1)),
    Mistake(EPS_INSIDE, "output", lambda case, right, _: _normalised(case, 1, eps_outside=True)),
    Mistake(LN_AXIS, "output", lambda case, right, _: _normalised(case, 0)),
]


def _direct_path_only(axis: int):
    """dx = dout·gamma·inv_std: the gradient through x̂ alone (the mean's and the variance's paths dropped)."""
    def model(case, right, dout):
        x, eps = case.args["x"], _params(case).get("eps", 1e-5)
        inv_std = 1 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
        return {**right, "x": dout * case.args["gamma"] * inv_std}
    return model


def _means_not_sums(case, right, dout):
    n = len(case.args["x"])
    return {**right, "gamma": right["gamma"] / n, "beta": right["beta"] / n}


bn_backward_mistakes = [Mistake(ALL_PATHS, "gradients", _direct_path_only(0)), Mistake(SUMS, "gradients", _means_not_sums)]
ln_backward_mistakes = [Mistake(ALL_PATHS, "gradients", _direct_path_only(1)), Mistake(SUMS, "gradients", _means_not_sums)]


def _next_running(case, right, _, momentum_swapped=False, ddof=0):
    bn, x = case.args["bn_param"], case.args["x"]
    d = x.shape[1]
    m = bn.get("momentum", 0.9)
    m = 1 - m if momentum_swapped else m
    if x.shape[0] - ddof <= 0:
        raise ValueError("the model does not apply")
    return {"running_mean": m * bn.get("running_mean", np.zeros(d)) + (1 - m) * x.mean(axis=0),
            "running_var": m * bn.get("running_var", np.zeros(d)) + (1 - m) * x.var(axis=0, ddof=ddof)}


running_mistakes = [
    Mistake(MOMENTUM, "running", lambda case, right, _: _next_running(case, right, _, momentum_swapped=True)),
    Mistake(BIASED_VARIANCE, "running", lambda case, right, _: _next_running(case, right, _, ddof=1)),
]


# ---------------------------------------------------------------------------------------------
# Initialisers

SWAPPED_FANS = ("fan_in is the size of the input side: D for a dense (D, M) weight used as x @ w (torch's "
                "(out, in) layout is the other way round), C·HH·WW for a convolution; fan_out is M, or F·HH·WW.")
RECEPTIVE_FIELD = "For a convolution (F, C, HH, WW): fan_in = C·HH·WW and fan_out = F·HH·WW (times the kernel size)."
STD_NOT_VARIANCE = ("rng.normal takes the standard deviation: scale = sqrt(variance), e.g. "
                    "np.sqrt(2 / (fan_in + fan_out)), not the variance itself.")
SQRT_BOUND = "The uniform bound is a square root: a = sqrt(6 / (fan_in + fan_out)) (Xavier), sqrt(6 / fan_in) (He)."
HE_GAIN = "He (Kaiming) initialisation has variance 2 / fan_in for ReLU layers (the gain 2), not 1 / fan_in."
UNIFORM_NOT_NORMAL = "A uniform initialiser draws from U(−a, a) (rng.uniform(-a, a, shape)): no value beyond a."
ONLY_RNG = ("Draw every number from the rng argument (rng.uniform, rng.normal, rng.standard_normal): not from "
            "np.random.* (the global state) nor from a generator of your own, so that the caller's seed decides.")


def _swapped_fans(case, right, _):
    return np.array(right[::-1])


def _without_receptive_field(case, right, _):
    shape = case.args["shape"]
    if len(shape) != 4:
        raise ValueError("a dense shape has no receptive field")
    return np.array([shape[1], shape[0]])


fans_mistakes = [Mistake(SWAPPED_FANS, "fans", _swapped_fans), Mistake(RECEPTIVE_FIELD, "fans", _without_receptive_field)]


def _variance_mistakes(name: str) -> list[Mistake]:
    """Models of the sample variance that known mistakes give; `right` is the contract's variance."""
    uniform = name.endswith("uniform")
    fans = lambda case: ref_init.compute_fans(case.args["shape"])  # noqa: E731
    if name.startswith("xavier"):
        # The variance (or, for a uniform, 6/(fan_in + fan_out)) used where its square root belongs.
        if uniform:  # a² = 3·variance
            return [Mistake(SQRT_BOUND, "variance", lambda case, right, _: (3 * right) ** 2 / 3)]
        return [Mistake(STD_NOT_VARIANCE, "variance", lambda case, right, _: right ** 2)]
    swapped = lambda case, right, _: 2.0 / fans(case)[1]  # noqa: E731
    mistakes = [Mistake(HE_GAIN, "variance", lambda case, right, _: right / 2),
                Mistake(SWAPPED_FANS, "variance", swapped)]
    if not uniform:
        mistakes.append(Mistake(STD_NOT_VARIANCE, "variance", lambda case, right, _: right ** 2))
    return mistakes
