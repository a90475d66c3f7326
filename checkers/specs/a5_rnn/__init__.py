"""Assignment a5_rnn: every exercise declared once.

The generic properties come from `checkers.properties`; what is written here is each exercise's
input strategy, its reference, the known mistakes it recognises, and its own invariants:

- a sequence backward is also set against the student's own step functions run through time,
  which tells a bug in the step from a bug in the loop through time;
- masked steps of the temporal softmax loss contribute exactly nothing.

Many known mistakes of the LSTM and the GRU (gates in another order, z and 1 - z swapped) are
the right layer applied to rearranged weights: `_rearranged` models them for forwards and
backwards, one step or a whole sequence, from the reference alone.

The input strategies are in `inputs`, the known mistakes in `mistakes`, and the assignment's own
checks in `checks`.
"""

from __future__ import annotations

import dlgrade.reference.a5_rnn.rnn_layers as ref
from dlgrade.checkers.declare import layer, loss, Property, stability

from .inputs import (embedding_cases, EXTREME_SCORES, masked_cases, sequence_cases, SEQUENCE_INPUTS,
                     SEQUENCE_REFERENCE, softmax_cases, spread_softmax_cases, step_cases, STEP_INPUTS, STEP_REFERENCE,
                     temporal_affine_cases)
from .mistakes import (_lstm_order, _through_time_mistakes, gru_backward_mistakes, gru_forward_mistakes,
                       gru_sequence_backward_mistakes, gru_sequence_forward_mistakes, lstm_backward_mistakes,
                       lstm_sequence_backward_mistakes, lstm_sequence_forward_mistakes, rnn_backward_mistakes,
                       rnn_forward_mistakes, rnn_sequence_forward_mistakes, temporal_softmax_loss_mistakes,
                       word_embedding_backward_mistakes)
from .checks import _backward_matches_own_steps, _masked_steps_contribute_nothing, A, M


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
                forward_mistakes=rnn_forward_mistakes,
                backward_mistakes=rnn_backward_mistakes,
                sequence_forward_mistakes=rnn_sequence_forward_mistakes),
    *_recurrent("lstm",
                forward_mistakes=_lstm_order[0],
                backward_mistakes=lstm_backward_mistakes,
                sequence_forward_mistakes=lstm_sequence_forward_mistakes,
                sequence_backward_mistakes=lstm_sequence_backward_mistakes),
    *_recurrent("gru",
                forward_mistakes=gru_forward_mistakes,
                backward_mistakes=gru_backward_mistakes,
                sequence_forward_mistakes=gru_sequence_forward_mistakes,
                sequence_backward_mistakes=gru_sequence_backward_mistakes),
    *layer(A, M, "word_embedding_forward", "word_embedding_backward", ref.word_embedding, embedding_cases, ("W",),
           summary="word embedding lookup",
           backward_mistakes=word_embedding_backward_mistakes),
    *layer(A, M, "temporal_affine_forward", "temporal_affine_backward", ref.temporal_affine, temporal_affine_cases,
           ("x", "w", "b"), summary="affine layer at every time step"),
    *loss(A, M, "temporal_softmax_loss", ref.temporal_softmax_loss, softmax_cases, ("x",),
          summary="masked softmax loss over time",
          variants=stability(spread_softmax_cases, [EXTREME_SCORES], what="time steps"),
          mistakes=temporal_softmax_loss_mistakes,
          extra=[Property("masked_steps_contribute_nothing",
                          "scores and labels at masked steps change neither the loss nor the gradient, "
                          "and dx is exactly 0 there", _masked_steps_contribute_nothing, cases=masked_cases)]),
]
