"""Known mistakes of a5_rnn, recognised by their result.

Many known mistakes of the LSTM and the GRU (gates in another order, z and 1 - z swapped) are
the right layer applied to rearranged weights: `_rearranged` models them for forwards and
backwards, one step or a whole sequence, from the reference alone.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

import dlgrade.reference.a5_rnn.rnn_layers as ref
from dlgrade.checkers.declare import Case, evaluate, Mistake

from .inputs import SEQUENCE_INPUTS, SEQUENCE_REFERENCE, STEP_REFERENCE, WEIGHTS


# ---------------------------------------------------------------------------------------------
# Known mistakes, recognised by their result


def _rearranged(oracle, blocks: int, order, signs=None):
    """A mistake that is the right layer applied to weights whose column blocks are rearranged:
    block k of what the mistaken code uses is `signs[k]` times block `order[k]` of the real
    weights (gates read in another order; a negated block turns sigmoid(a) into 1 - sigmoid(a)).

    Returns (output, gradients) models: the gradients of the mistaken code with respect to the
    real weights are the reference's, taken at the rearranged weights, rearranged back."""
    signs = np.ones(blocks) if signs is None else np.asarray(signs, dtype=float)

    def forward(w):
        parts = np.split(w, blocks, axis=-1)
        return np.concatenate([signs[k] * parts[order[k]] for k in range(blocks)], axis=-1)

    def back(g):
        parts = np.split(g, blocks, axis=-1)
        out = [None] * blocks
        for k in range(blocks):
            out[order[k]] = signs[k] * parts[k]
        return np.concatenate(out, axis=-1)

    def args_of(case):
        return {**case.args, **{w: forward(case.args[w]) for w in WEIGHTS}}

    def output(case, right, dout):
        out = evaluate(oracle, args_of(case)).output
        return dict(zip(right, out)) if isinstance(right, dict) else out

    def gradients(case, right, dout):
        ev = evaluate(oracle, args_of(case), tuple(right))
        grads = ev.vjp(tuple(dout.values()) if isinstance(dout, dict) else dout)
        return {k: back(g) if k in WEIGHTS else g for k, g in grads.items()}

    return output, gradients


def _rearrangement_mistakes(hint: str, oracle, blocks: int, rearrangements) -> tuple[list, list]:
    """The (forward, backward) Mistakes of every rearrangement, all with one hint."""
    forward, backward = [], []
    for order, signs in rearrangements:
        output, gradients = _rearranged(oracle, blocks, order, signs)
        # Keyword arguments: the hint is one of the module's constants, named where this is called.
        forward.append(Mistake(hint=hint, quantity="output", expected=output))
        backward.append(Mistake(hint=hint, quantity="gradients", expected=gradients))
    return forward, backward


def _other_orders(blocks: int):
    identity = tuple(range(blocks))
    return [(order, None) for order in itertools.permutations(identity) if order != identity]


#: next_h = (1 - z) * prev_h + z * n is the right GRU with z's block negated (1 - σ(a) = σ(-a)).
_SWAPPED_Z = [((0, 1, 2), (-1, 1, 1))]


def _other_oracle(oracle):
    """Output and gradient models of the student having written another function (`oracle`)."""
    def output(case, right, dout):
        return evaluate(oracle, case.args).output

    def gradients(case, right, dout):
        return evaluate(oracle, case.args, tuple(right)).vjp(dout)
    return output, gradients


def _torch_args(case: Case) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in case.args.items()}


def _unrolled(kind: str, args: dict[str, torch.Tensor], first_step_weights=None, carry_cell: bool = True,
              start_every_step_from_h0: bool = False, c0=None) -> torch.Tensor:
    """A sequence of the reference step with one thing changed, for the models of mistakes
    through time: step 0 uses `first_step_weights` (leaves of their own), the cell state's
    gradient is cut between steps, every step starts from h0, or the cell starts from c0."""
    step, x, h0 = STEP_REFERENCE[kind], args["x"], args["h0"]
    weights = tuple(args[w] for w in WEIGHTS)
    h, c, hs = h0, torch.zeros_like(h0) if c0 is None else c0, []
    for t in range(x.shape[1]):
        w = first_step_weights if t == 0 and first_step_weights is not None else weights
        prev_h = h0 if start_every_step_from_h0 else h
        if kind == "lstm":
            h, c = step(x[:, t], prev_h, c if carry_cell else c.detach(), *w)
        else:
            h = step(x[:, t], prev_h, *w)
        hs.append(h)
    return torch.stack(hs, dim=1)


def _assigned_not_accumulated(kind: str, names: tuple[str, ...]):
    """`dW = ...` instead of `dW += ...` in a loop over t = T-1 .. 0: the named weights get the
    gradient of step 0 alone (the other gradients are right)."""
    def model(case, right, dout):
        args = _torch_args(case)
        first = tuple(args[w].clone().requires_grad_(True) for w in WEIGHTS)
        pairing = (_unrolled(kind, args, first_step_weights=first) * torch.as_tensor(dout)).sum()
        grads = torch.autograd.grad(pairing, first, allow_unused=True)
        step0 = {w: np.zeros(args[w].shape) if g is None else g.numpy() for w, g in zip(WEIGHTS, grads)}
        return {**right, **{w: step0[w] for w in names}}
    return model


def _cell_gradient_cut(case, right, dout):
    """lstm_backward with dnext_c = 0 at every step: the cell state's gradient not carried back."""
    args = {k: t.requires_grad_(True) for k, t in _torch_args(case).items()}
    pairing = (_unrolled("lstm", args, carry_cell=False) * torch.as_tensor(dout)).sum()
    grads = torch.autograd.grad(pairing, [args[k] for k in SEQUENCE_INPUTS])
    return {k: g.numpy() for k, g in zip(SEQUENCE_INPUTS, grads)}


def _sequence_variant(kind: str, **change):
    """The output of the sequence with one thing changed (see `_unrolled`)."""
    def model(case, right, dout):
        args = _torch_args(case)
        if change.get("c0") == "h0":
            return _unrolled(kind, args, c0=args["h0"]).numpy()
        return _unrolled(kind, args, **change).numpy()
    return model


def _only_last_upstream(oracle):
    def model(case, right, dout):
        last = np.zeros_like(dout)
        last[:, -1] = dout[:, -1]
        return evaluate(oracle, case.args, tuple(right)).vjp(last)
    return model


def _dh0_zero(case, right, dout):
    return {**right, "h0": np.zeros_like(right["h0"])}


def _lstm_gates(case):
    """The reference's gates of one LSTM step, in numpy: i, f, o, g."""
    a = case.args["x"] @ case.args["Wx"] + case.args["prev_h"] @ case.args["Wh"] + case.args["b"]
    a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    return sig(a_i), sig(a_f), sig(a_o), np.tanh(a_g)


def _dprev_c_without_h_path(case, right, dout):
    """dprev_c = dnext_c * f: the gradient that reaches next_c through next_h left out."""
    _, f, _, _ = _lstm_gates(case)
    return {**right, "prev_c": dout["next_c"] * f}


def _dnext_c_ignored(case, right, dout):
    ev = evaluate(ref.lstm_step, case.args, tuple(right))
    return ev.vjp((dout["next_h"], np.zeros_like(dout["next_c"])))


def _tanh_derivative_without_square(case, right, dout):
    """rnn_step_backward with da = dnext_h * (1 - next_h) instead of (1 - next_h**2)."""
    a = case.args
    next_h = np.tanh(a["x"] @ a["Wx"] + a["prev_h"] @ a["Wh"] + a["b"])
    da = dout * (1 - next_h)
    return {"x": da @ a["Wx"].T, "prev_h": da @ a["Wh"].T, "Wx": a["x"].T @ da, "Wh": a["prev_h"].T @ da,
            "b": da.sum(axis=0)}


def _repeats_not_accumulated(case, right, dout):
    """dW[x] += dout: numpy's buffered fancy-index update keeps one of each repeated index."""
    dW = np.zeros_like(case.args["W"])
    dW[case.args["x"]] += dout
    return {"W": dW}


def _loss_scaled(factor_of):
    def model(case, right, _):
        f = factor_of(case)
        return {k: v * f for k, v in right.items()} if isinstance(right, dict) else right * f
    return model


def _mask_ignored(quantity):
    def model(case, right, _):
        ev = evaluate(ref.temporal_softmax_loss, {**case.args, "mask": np.ones_like(case.args["mask"])}, ("x",))
        return np.array(float(ev.output)) if quantity == "loss" else ev.vjp(np.array(1.0))
    return model


GATE_ORDER = ("The LSTM's four blocks of H columns are, in order, i, f, o, g (sigmoid gates i, f, o, then "
              "the tanh candidate g); torch and Keras use i, f, g, o.")
GRU_ORDER = "The GRU's three blocks of H columns are, in order, z, r, n (torch uses r, z, n)."
SWAPPED_Z = "next_h = z * prev_h + (1 - z) * n: z weighs the PREVIOUS state (z and 1 - z are swapped)."
RESET_AFTER = ("The reset gate scales prev_h BEFORE the product, (r * prev_h) @ Wh_n, not the product "
               "r * (prev_h @ Wh_n) as torch.nn.GRU does.")
DNEXT_C = "next_c has an upstream gradient of its own: dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2)."
DPREV_C = ("dprev_c = dc * f, where dc includes the gradient reaching next_c through next_h "
           "(dnext_h * o * (1 - tanh(next_c)**2)), not dnext_c alone.")
CELL_THROUGH_TIME = ("The cell state's gradient flows back through time too: pass each step's dprev_c to the "
                     "step before as its dnext_c.")
ACCUMULATE = ("The weights are shared by every step: accumulate their gradients over time "
              "(dWx += dWx_t, not dWx = dWx_t).")
DH0 = "dh0 is the gradient flowing out of the first step (its dprev_h), not zeros."
EVERY_H = ("dh holds an upstream gradient for EVERY h_t: at each step t add dh[:, t] to the gradient "
           "flowing back from step t + 1, not only at the last step.")
FROM_PREVIOUS = "Each step starts from the previous step's hidden state (h0 only at t = 0)."
C0_ZERO = "The initial cell state c0 is zeros (not h0)."
WH_TRANSPOSED = "The recurrence is prev_h @ Wh (Wh maps the previous hidden state): check for a transposed Wh."
TANH_DERIVATIVE = "The derivative of tanh is 1 - tanh(a)**2 = 1 - next_h**2, not 1 - next_h."
REPEATS = ("Repeated indices must accumulate: np.add.at(dW, x, dout); with repeated indices dW[x] += dout "
           "adds only one of them.")
OVER_NT = "Sum the loss over time and average over the batch: divide by N, not by N * T."
OVER_UNMASKED = "Divide by N (the batch size), not by the number of unmasked steps."
MASK_IGNORED = "Masked steps contribute nothing: multiply each step's loss and its gradient by mask."

_lstm_order = _rearrangement_mistakes(GATE_ORDER, ref.lstm_step, 4, _other_orders(4))
_lstm_sequence_order = _rearrangement_mistakes(GATE_ORDER, ref.lstm, 4, _other_orders(4))
_gru_order = _rearrangement_mistakes(GRU_ORDER, ref.gru_step, 3, _other_orders(3))
_gru_sequence_order = _rearrangement_mistakes(GRU_ORDER, ref.gru, 3, _other_orders(3))
_gru_swapped = _rearrangement_mistakes(SWAPPED_Z, ref.gru_step, 3, _SWAPPED_Z)
_gru_sequence_swapped = _rearrangement_mistakes(SWAPPED_Z, ref.gru, 3, _SWAPPED_Z)
_reset_after = _other_oracle(ref.gru_step_reset_after)
_sequence_reset_after = _other_oracle(ref.gru_reset_after)


def _through_time_mistakes(kind: str) -> list[Mistake]:
    """Mistakes of any sequence backward: weights assigned not accumulated, dh0 left at zero,
    only the last step's upstream used."""
    assigned = [Mistake(ACCUMULATE, "gradients", _assigned_not_accumulated(kind, names))
                for names in (WEIGHTS, ("Wx",), ("Wh",), ("b",))]
    return [*assigned, Mistake(DH0, "gradients", _dh0_zero),
            Mistake(EVERY_H, "gradients", _only_last_upstream(SEQUENCE_REFERENCE[kind]))]


# Known mistakes of each exercise, by the function they are shown for

rnn_forward_mistakes = [Mistake(WH_TRANSPOSED, "output", lambda case, right, _: evaluate(
          ref.rnn_step, {**case.args, "Wh": case.args["Wh"].T}).output)]
rnn_backward_mistakes = [Mistake(TANH_DERIVATIVE, "gradients", _tanh_derivative_without_square)]
rnn_sequence_forward_mistakes = [Mistake(FROM_PREVIOUS, "output",
                                         _sequence_variant("rnn", start_every_step_from_h0=True))]
lstm_backward_mistakes = [*_lstm_order[1], Mistake(DNEXT_C, "gradients", _dnext_c_ignored),
                          Mistake(DPREV_C, "gradients", _dprev_c_without_h_path)]
lstm_sequence_forward_mistakes = [*_lstm_sequence_order[0],
                                  Mistake(C0_ZERO, "output", _sequence_variant("lstm", c0="h0")),
                                  Mistake(FROM_PREVIOUS, "output",
                                          _sequence_variant("lstm", start_every_step_from_h0=True))]
lstm_sequence_backward_mistakes = [*_lstm_sequence_order[1],
                                   Mistake(CELL_THROUGH_TIME, "gradients", _cell_gradient_cut)]
gru_forward_mistakes = [*_gru_order[0], *_gru_swapped[0], Mistake(RESET_AFTER, "output", _reset_after[0])]
gru_backward_mistakes = [*_gru_order[1], *_gru_swapped[1], Mistake(RESET_AFTER, "gradients", _reset_after[1])]
gru_sequence_forward_mistakes = [*_gru_sequence_order[0], *_gru_sequence_swapped[0],
                                 Mistake(RESET_AFTER, "output", _sequence_reset_after[0]),
                                 Mistake(FROM_PREVIOUS, "output",
                                         _sequence_variant("gru", start_every_step_from_h0=True))]
gru_sequence_backward_mistakes = [*_gru_sequence_order[1], *_gru_sequence_swapped[1],
                                  Mistake(RESET_AFTER, "gradients", _sequence_reset_after[1])]
word_embedding_backward_mistakes = [Mistake(REPEATS, "gradients", _repeats_not_accumulated)]
temporal_softmax_loss_mistakes = [Mistake(OVER_NT, "loss", _loss_scaled(lambda case: 1 / case.args["x"].shape[1])),
                                  Mistake(OVER_NT, "gradients", _loss_scaled(lambda case: 1 / case.args["x"].shape[1])),
                                  Mistake(OVER_UNMASKED, "loss", _loss_scaled(
                                      lambda case: len(case.args["x"]) / max(1, int(case.args["mask"].sum())))),
                                  Mistake(OVER_UNMASKED, "gradients", _loss_scaled(
                                      lambda case: len(case.args["x"]) / max(1, int(case.args["mask"].sum())))),
                                  Mistake(MASK_IGNORED, "loss", _mask_ignored("loss")),
                                  Mistake(MASK_IGNORED, "gradients", _mask_ignored("gradients"))]
