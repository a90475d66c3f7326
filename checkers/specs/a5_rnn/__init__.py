"""Assignment a5_rnn: every exercise declared once.

The generic properties come from `checkers.properties`; what is written here is each exercise's
input strategy, its reference, the known mistakes it recognises, and its own invariants:

- a sequence backward is also set against the student's own step functions run through time,
  which tells a bug in the step from a bug in the loop through time;
- masked steps of the temporal softmax loss contribute exactly nothing.

Many known mistakes of the LSTM and the GRU (gates in another order, z and 1 - z swapped) are
the right layer applied to rearranged weights: `_rearranged` models them for forwards and
backwards, one step or a whole sequence, from the reference alone.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from hypothesis import strategies as st

import dlgrade.reference.a5_rnn.rnn_layers as ref
from dlgrade.checkers.declare import (assert_matches, call_target, Case, cases, evaluate, gradient_names, labels,
                                      layer, loss, Mistake, mistake_hints, Property, PropertyFailure, require_like,
                                      spread_rows, stability, Target, unpack_gradients, upstream, values, values_close)

A = "a5_rnn"
M = "rnn_layers"
WEIGHTS = ("Wx", "Wh", "b")
#: What the hidden state of each kind of layer is computed from, and how many weight blocks it has.
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
STEP_INPUTS = {"rnn": ("x", "prev_h", *WEIGHTS), "lstm": ("x", "prev_h", "prev_c", *WEIGHTS),
               "gru": ("x", "prev_h", *WEIGHTS)}
SEQUENCE_INPUTS = ("x", "h0", *WEIGHTS)
STEP_REFERENCE = {"rnn": ref.rnn_step, "lstm": ref.lstm_step, "gru": ref.gru_step}
SEQUENCE_REFERENCE = {"rnn": ref.rnn, "lstm": ref.lstm, "gru": ref.gru}


# ---------------------------------------------------------------------------------------------
# Input strategies: small sizes (a sequence check runs the whole recurrence), T = 1 included


batch_sizes = st.integers(1, 3)
feature_sizes = st.integers(1, 3)
hidden_sizes = st.integers(1, 3)
lengths = st.integers(1, 4)


def _weights(rng, d, h, blocks):
    """Weights scaled so that pre-activations stay of order 1: the gates neither saturate (a
    dropped term would be invisible) nor sit where rounding matters."""
    scale = 1.0 / np.sqrt(d + h)
    return {"Wx": values(rng, (d, blocks * h), 0.1, 1.0) * scale * 1.5,
            "Wh": values(rng, (h, blocks * h), 0.1, 1.0) * scale * 1.5,
            "b": values(rng, (blocks * h,), 0.1, 1.0)}


def _hidden(rng, n, h):
    """A hidden state as a tanh layer leaves it: inside (-1, 1)."""
    return values(rng, (n, h), 0.05, 0.95)


def _step(kind):
    def make(rng, n, d, h):
        args = {"x": values(rng, (n, d), 0.1, 1.0), "prev_h": _hidden(rng, n, h)}
        if kind == "lstm":
            args["prev_c"] = values(rng, (n, h), 0.1, 1.5)
        return {**args, **_weights(rng, d, h, BLOCKS[kind])}
    return cases(make, n=batch_sizes, d=feature_sizes, h=hidden_sizes)


def _sequence(kind):
    def make(rng, n, t, d, h):
        return {"x": values(rng, (n, t, d), 0.1, 1.0), "h0": _hidden(rng, n, h), **_weights(rng, d, h, BLOCKS[kind])}
    return cases(make, n=batch_sizes, t=lengths, d=feature_sizes, h=hidden_sizes)


step_cases = {kind: _step(kind) for kind in BLOCKS}
sequence_cases = {kind: _sequence(kind) for kind in BLOCKS}


def _embedding(rng, n, t, v, d):
    """Indices with repeats on purpose (the first index appears again at the end), and a
    vocabulary that may hold words no index uses."""
    x = rng.integers(0, v, (n, t)).astype(np.int64)
    x.flat[-1] = x.flat[0]
    return {"x": x, "W": values(rng, (v, d), 0.1, 2.0)}


embedding_cases = cases(_embedding, n=batch_sizes, t=lengths, v=st.integers(1, 5), d=feature_sizes)
temporal_affine_cases = cases(
    lambda rng, n, t, d, m: {"x": values(rng, (n, t, d)), "w": values(rng, (d, m), 0.05, 1.0), "b": values(rng, (m,))},
    n=batch_sizes, t=lengths, d=feature_sizes, m=st.integers(1, 4))


def _scores(rng, n, t, v, masked):
    """Scores, labels and a mask in which about a fraction `masked` of the steps is masked."""
    mask = rng.random((n, t)) >= masked
    return {"x": rng.normal(0.0, 2.0, (n, t, v)), "y": labels(rng, n * t, v).reshape(n, t), "mask": mask}


score_sizes = dict(n=batch_sizes, t=lengths, v=st.integers(1, 5))
softmax_cases = cases(_scores, masked=st.sampled_from([0.0, 0.3, 0.6]), **score_sizes)


def _with_masked_step(rng, n, t, v):
    args = _scores(rng, n, t, v, 0.4)
    args["mask"].flat[-1] = False  # at least one masked step
    return args


masked_cases = cases(_with_masked_step, **score_sizes)


def _spread_scores(rng, n, t, v, masked):
    """Scores whose steps (one row of V scores each) sit at very different scales side by side."""
    return {**_scores(rng, n, t, v, masked), "x": spread_rows(rng, (n, t, v))}


spread_softmax_cases = cases(_spread_scores, masked=st.sampled_from([0.0, 0.3]),
                             **{**score_sizes, "t": st.integers(2, 4)})
#: Scores far beyond exp's range: the correct class's probability underflows to 0 at some steps.
EXTREME_SCORES = Case({"x": np.array([[[1e5, 0.0, -1e5], [3.0, 1e5, 1e5]], [[-1e5, 2.0, 1e5], [0.0, 0.0, 0.0]]]),
                       "y": np.array([[2, 0], [0, 1]]), "mask": np.array([[True, True], [True, False]])})


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


# ---------------------------------------------------------------------------------------------
# Exercise-specific properties


def _compose_own_steps(ctx, kind: str, case: Case, dh: np.ndarray) -> dict[str, np.ndarray]:
    """The student's own step forward and step backward run through time over the sequence in
    `case`, with the upstream gradient `dh` of every hidden state: the gradients that the
    sequence backward should give if its loop through time is right."""
    a = case.args
    x, h0, weights = a["x"], a["h0"], tuple(a[w] for w in WEIGHTS)
    n, steps, _ = x.shape
    forward = Target(f"{kind}_step_forward", ("next_h", "next_c") if kind == "lstm" else ("next_h",), cache=True)
    backward = f"{kind}_step_backward"
    caches, h, c = [], h0, np.zeros_like(h0)
    try:
        for t in range(steps):
            step_args = dict(zip(STEP_INPUTS[kind], (x[:, t], h, *((c,) if kind == "lstm" else ()), *weights)))
            called = call_target(ctx, forward, Case(step_args, case.seed))
            caches.append((called.cache, step_args))
            h = called.outputs["next_h"]
            require_like("next_h", h, h0)
            if kind == "lstm":
                c = called.outputs["next_c"]
                require_like("next_c", c, h0)
        totals = {"x": np.zeros(x.shape), **{w: np.zeros(np.shape(v)) for w, v in zip(WEIGHTS, weights)}}
        dnext_h, dnext_c = np.zeros(h0.shape), np.zeros(h0.shape)
        for t in reversed(range(steps)):
            cache, step_args = caches[t]
            upstreams = (dh[:, t] + dnext_h, *((dnext_c,) if kind == "lstm" else ()))
            grads = unpack_gradients(backward, ctx.call(backward, *upstreams, cache).value, step_args)
            for name, value in step_args.items():
                require_like(f"d{name}", grads[name], value)
            totals["x"][:, t] = grads["x"]
            for w in WEIGHTS:
                totals[w] += grads[w]
            dnext_h = grads["prev_h"]
            if kind == "lstm":
                dnext_c = grads["prev_c"]
    finally:
        for cache, _ in caches:
            ctx.forget(cache)
    return {"x": totals["x"], "h0": dnext_h, **{w: totals[w] for w in WEIGHTS}}


def _backward_matches_own_steps(kind: str, mistakes) -> Property:
    """The sequence backward against the student's own step functions run through time: a
    sequence backward that is wrong is either wrong in its loop (its own steps, composed,
    would be right, or at least give something else) or only repeats its steps' mistake."""
    forward, backward = Target(f"{kind}_forward", ("h",), cache=True), f"{kind}_backward"
    step = f"{kind}_step_forward/{kind}_step_backward"

    def check(ctx, case):
        n, steps, _ = case.args["x"].shape
        dh = upstream(case.rng(1), (n, steps, case.args["h0"].shape[1]))
        called = call_target(ctx, forward, case)
        outcome = ctx.call(backward, dh, called.cache)
        ctx.forget(called.cache)
        inputs = {k: case.args[k] for k in SEQUENCE_INPUTS}
        grads = unpack_gradients(backward, outcome.value, inputs)
        for name, value in inputs.items():
            require_like(f"d{name}", grads[name], value)
        right = evaluate(SEQUENCE_REFERENCE[kind], case.args, SEQUENCE_INPUTS).vjp(dh)
        if values_close(gradient_names(grads), gradient_names(right)):
            return  # a right sequence backward is never blamed for its steps
        try:
            composed = _compose_own_steps(ctx, kind, case, dh)
        except PropertyFailure as failure:
            failure.summary = (f"{backward} does not match the reference, and your own {step} could not be run "
                               f"through time to tell where the bug is: {failure.summary}")
            raise
        if values_close(gradient_names(grads), gradient_names(composed)):
            return  # same as its own steps: the bug is in a step, which its own exercises report
        steps_right = values_close(gradient_names(composed), gradient_names(right))
        try:
            assert_matches("gradients", gradient_names(grads), gradient_names(composed),
                           what=f"your own {step} run through time")
        except PropertyFailure as failure:
            failure.summary = f"{backward} disagrees with your own steps: {failure.summary}"
            failure.hints += mistake_hints(mistakes, "gradients", case, right, grads, dh)
            failure.diagnosis = (
                f"your own {step}, run through time, give the reference's gradients: the bug is in {backward}'s "
                f"loop through time (or in what {kind}_forward caches), not in the step." if steps_right else
                f"neither matches the reference: your {kind}_step_backward is wrong too (see its own checks), and "
                f"{backward}'s loop through time differs from running it step by step.")
            raise

    return Property("backward_matches_own_steps",
                    f"where {backward} is wrong, it at least agrees with your own {step} run through time "
                    f"(a failure here means the bug is in the loop through time, not in the step)", check)


def _masked_steps_contribute_nothing(ctx, case):
    """Changing scores and labels at masked steps changes nothing; dx there is exactly 0."""
    target = Target("temporal_softmax_loss", ("loss", "grads"))
    mask = case.args["mask"]
    rng = case.rng(5)
    x2, y2 = case.args["x"].copy(), case.args["y"].copy()
    x2[~mask] = rng.normal(0.0, 4.0, x2[~mask].shape)
    y2[~mask] = rng.integers(0, x2.shape[2], int((~mask).sum()))
    results = []
    for variant in (case, case.with_args(x=x2, y=y2)):
        called = call_target(ctx, target, variant)
        value = called.outputs["loss"]
        value = float(value) if np.ndim(value) == 0 and isinstance(value, (float, int, np.ndarray)) else value
        if not isinstance(value, float):
            raise PropertyFailure("temporal_softmax_loss should return a scalar loss")
        dx = called.outputs["grads"]
        require_like("dx", dx, case.args["x"])
        results.append((value, dx))
    for (value, dx), label in zip(results, ("", " after changing the scores and labels of masked steps")):
        if np.any(dx[~mask] != 0):
            worst = np.unravel_index(int(np.argmax(np.abs(dx) * (~mask)[..., None])), dx.shape)
            raise PropertyFailure(f"dx is not exactly 0 at a masked step{label}",
                                  details=[f"dx{list(worst)} = {dx[worst]:.6g} where mask{list(worst[:2])} is False"],
                                  hints=[MASK_IGNORED])
    try:
        assert_matches("loss", {"loss": np.array(results[1][0])}, {"loss": np.array(results[0][0])},
                       what="the loss before the change")
    except PropertyFailure as failure:
        failure.summary = "changing the scores and labels of masked steps changes the loss: " + failure.summary
        failure.hints.append(MASK_IGNORED)
        raise


# ---------------------------------------------------------------------------------------------
# The exercises


def _recurrent(kind: str, forward_mistakes=(), backward_mistakes=(), sequence_forward_mistakes=(),
               sequence_backward_mistakes=()) -> list:
    """One kind of recurrent layer: its step pair and its sequence pair."""
    name = {"rnn": "vanilla (tanh) RNN", "lstm": "LSTM", "gru": "GRU"}[kind]
    step_outputs = ("next_h", "next_c") if kind == "lstm" else ("next_h",)
    through_time = [*_through_time_mistakes(kind), *sequence_backward_mistakes]
    return [
        *layer(A, M, f"{kind}_step_forward", f"{kind}_step_backward", STEP_REFERENCE[kind], step_cases[kind],
               STEP_INPUTS[kind], outputs=step_outputs, summary=f"{name}, one step",
               forward_mistakes=forward_mistakes, backward_mistakes=backward_mistakes),
        *layer(A, M, f"{kind}_forward", f"{kind}_backward", SEQUENCE_REFERENCE[kind], sequence_cases[kind],
               SEQUENCE_INPUTS, outputs=("h",), summary=f"{name} over a sequence",
               forward_mistakes=sequence_forward_mistakes, backward_mistakes=through_time,
               backward_extra=[_backward_matches_own_steps(kind, through_time)]),
    ]


EXERCISES = [
    *_recurrent("rnn",
                forward_mistakes=[Mistake(WH_TRANSPOSED, "output", lambda case, right, _: evaluate(
                    ref.rnn_step, {**case.args, "Wh": case.args["Wh"].T}).output)],
                backward_mistakes=[Mistake(TANH_DERIVATIVE, "gradients", _tanh_derivative_without_square)],
                sequence_forward_mistakes=[Mistake(FROM_PREVIOUS, "output",
                                                   _sequence_variant("rnn", start_every_step_from_h0=True))]),
    *_recurrent("lstm",
                forward_mistakes=_lstm_order[0],
                backward_mistakes=[*_lstm_order[1], Mistake(DNEXT_C, "gradients", _dnext_c_ignored),
                                   Mistake(DPREV_C, "gradients", _dprev_c_without_h_path)],
                sequence_forward_mistakes=[*_lstm_sequence_order[0],
                                           Mistake(C0_ZERO, "output", _sequence_variant("lstm", c0="h0")),
                                           Mistake(FROM_PREVIOUS, "output",
                                                   _sequence_variant("lstm", start_every_step_from_h0=True))],
                sequence_backward_mistakes=[*_lstm_sequence_order[1],
                                            Mistake(CELL_THROUGH_TIME, "gradients", _cell_gradient_cut)]),
    *_recurrent("gru",
                forward_mistakes=[*_gru_order[0], *_gru_swapped[0], Mistake(RESET_AFTER, "output", _reset_after[0])],
                backward_mistakes=[*_gru_order[1], *_gru_swapped[1], Mistake(RESET_AFTER, "gradients", _reset_after[1])],
                sequence_forward_mistakes=[*_gru_sequence_order[0], *_gru_sequence_swapped[0],
                                           Mistake(RESET_AFTER, "output", _sequence_reset_after[0]),
                                           Mistake(FROM_PREVIOUS, "output",
                                                   _sequence_variant("gru", start_every_step_from_h0=True))],
                sequence_backward_mistakes=[*_gru_sequence_order[1], *_gru_sequence_swapped[1],
                                            Mistake(RESET_AFTER, "gradients", _sequence_reset_after[1])]),
    *layer(A, M, "word_embedding_forward", "word_embedding_backward", ref.word_embedding, embedding_cases, ("W",),
           summary="word embedding lookup",
           backward_mistakes=[Mistake(REPEATS, "gradients", _repeats_not_accumulated)]),
    *layer(A, M, "temporal_affine_forward", "temporal_affine_backward", ref.temporal_affine, temporal_affine_cases,
           ("x", "w", "b"), summary="affine layer at every time step"),
    *loss(A, M, "temporal_softmax_loss", ref.temporal_softmax_loss, softmax_cases, ("x",),
          summary="masked softmax loss over time",
          variants=stability(spread_softmax_cases, [EXTREME_SCORES], what="time steps"),
          mistakes=[Mistake(OVER_NT, "loss", _loss_scaled(lambda case: 1 / case.args["x"].shape[1])),
                    Mistake(OVER_NT, "gradients", _loss_scaled(lambda case: 1 / case.args["x"].shape[1])),
                    Mistake(OVER_UNMASKED, "loss", _loss_scaled(
                        lambda case: len(case.args["x"]) / max(1, int(case.args["mask"].sum())))),
                    Mistake(OVER_UNMASKED, "gradients", _loss_scaled(
                        lambda case: len(case.args["x"]) / max(1, int(case.args["mask"].sum())))),
                    Mistake(MASK_IGNORED, "loss", _mask_ignored("loss")),
                    Mistake(MASK_IGNORED, "gradients", _mask_ignored("gradients"))],
          extra=[Property("masked_steps_contribute_nothing",
                          "scores and labels at masked steps change neither the loss nor the gradient, "
                          "and dx is exactly 0 there", _masked_steps_contribute_nothing, cases=masked_cases)]),
]
