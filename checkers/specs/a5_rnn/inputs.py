"""The input strategies of a5_rnn, and what each kind of layer's inputs are: small sizes (a sequence
check runs the whole recurrence), T = 1 included."""

from __future__ import annotations

from hypothesis import strategies as st
import numpy as np

import dlgrade.reference.a5_rnn.rnn_layers as ref
from dlgrade.checkers.declare import Case, cases, labels, spread_rows, values


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
