"""Assignment a6_attention: every exercise declared once.

Masks are drawn in all three forms (None, per-batch (B,), per-query (B, Q) integer lengths); the
specific properties check what the generic ones cannot see: masked keys get exactly zero weight
(also at scores of 1e12, where a large negative constant leaks) and zero gradient, attention is
equivariant to permuting the queries and invariant to permuting keys with their values, and the
positional encoding is made of (sin, cos) pairs that rotate by a fixed angle per step.

The input strategies are in `inputs`, the known mistakes in `mistakes`, and the assignment's own
checks in `checks`.
"""

from __future__ import annotations

from hypothesis import strategies as st

import dlgrade.reference.a6_attention.attention as ref
from dlgrade.checkers.declare import cases, examples, Exercise, layer, output_properties, Property, stability, Target

from .inputs import (_additive, _additive_spread, _big_additive, _big_multihead, _dot, _dot_spread, _masking,
                     _multihead, _multihead_spread, _sizes, _softmax, additive_cases, additive_sizes, big_dot_cases,
                     BIG_LENS, big_softmax_cases, dot_cases, dot_sizes, multihead_cases, multihead_sizes, pe_cases,
                     pe_rotation_cases, softmax_cases, spread_softmax_cases, stable_softmax_case)
from .mistakes import (_scale_mistakes, masked_softmax_backward_mistakes, masked_softmax_forward_mistakes,
                       multihead_attention_forward_mistakes, positional_encoding_mistakes, ROWS_APART)
from .checks import (_attention_extras, _fixed_rotation, _masked_gradient_zero, _per_query_lens, _sin_cos_pairs,
                     _softmax_zeros, _spread_variant, A)


def _positional_encoding() -> Exercise:
    # No float input, so no float32 variant; nothing to modify.
    generic = [p for p in output_properties(Target("positional_encoding"), ref.positional_encoding, pe_cases,
                                                   positional_encoding_mistakes)
               if p.name not in ("preserves_float32", "inputs_unchanged")]
    return Exercise("positional_encoding", A, "attention", "sinusoidal positional encoding", generic + [
        Property("sin_cos_pairs", "each column pair (2j, 2j+1) is (sin, cos) of one angle, 0 at position 0", _sin_cos_pairs,
                 cases=pe_cases),
        Property("fixed_rotation", "P[i + k] is P[i] rotated by an angle that depends on k and the pair only",
                 _fixed_rotation, cases=pe_rotation_cases),
    ], pe_cases)


# ---------------------------------------------------------------------------------------------
# The exercises

EXERCISES = [
    *layer(A, "attention", "masked_softmax_forward", "masked_softmax_backward", ref.masked_softmax, softmax_cases,
           ("x",), summary="masked softmax",
           variants=stability(spread_softmax_cases, [stable_softmax_case], hint=ROWS_APART,
                              extreme_hint="Subtract the row maximum (over the visible keys) before exp: scores of 1e5 "
                                           "then stay finite and warning-free."),
           forward_mistakes=masked_softmax_forward_mistakes,
           forward_extra=[_softmax_zeros("masked_softmax_forward", softmax_cases,
                                         "masked_entries_exactly_zero: masked entries are exactly 0, the others sum to 1",
                                         False),
                          _softmax_zeros("masked_softmax_forward", examples(*big_softmax_cases),
                                         "masked_entries_exactly_zero_at_large_scores: masked entries stay exactly 0 "
                                         "at scores of ±1e12", True),
                          _per_query_lens("masked_softmax_forward", ref.masked_softmax,
                                          cases(_softmax, **{**_sizes(st.just("query")), "q": st.integers(2, 4),
                                                             "k": st.integers(2, 4)}))],
           backward_extra=[_masked_gradient_zero("masked_softmax_backward", "masked_softmax_forward",
                                                 cases(_softmax, **{**_sizes(st.sampled_from(["batch", "query"])),
                                                                    "k": st.integers(2, 4)}), ("x",))],
           backward_mistakes=masked_softmax_backward_mistakes),
    *layer(A, "attention", "dot_product_attention_forward", "dot_product_attention_backward", ref.dot_product_attention,
           dot_cases, ("q", "k", "v"), summary="scaled dot-product attention", forward_mistakes=_scale_mistakes,
           variants=[_spread_variant(_dot_spread, **dot_sizes)],
           forward_extra=_attention_extras("dot_product_attention_forward", ref.dot_product_attention, _dot, dot_sizes,
                                           big_dot_cases),
           backward_extra=[_masked_gradient_zero("dot_product_attention_backward", "dot_product_attention_forward",
                                                 _masking(_dot, **dot_sizes), ("k", "v"))]),
    *layer(A, "attention", "additive_attention_forward", "additive_attention_backward", ref.additive_attention,
           additive_cases, ("q", "k", "v", "Wq", "Wk", "wv"), summary="additive attention",
           variants=[_spread_variant(_additive_spread, **additive_sizes)],
           forward_extra=_attention_extras("additive_attention_forward", ref.additive_attention, _additive,
                                           additive_sizes, [_big_additive(lens) for lens in BIG_LENS]),
           backward_extra=[_masked_gradient_zero("additive_attention_backward", "additive_attention_forward",
                                                 _masking(_additive, **additive_sizes), ("k", "v"))]),
    *layer(A, "attention", "multihead_attention_forward", "multihead_attention_backward", ref.multihead_attention,
           multihead_cases, ("q", "k", "v", "params"), summary="multi-head attention",
           variants=[_spread_variant(_multihead_spread, **multihead_sizes)],
           forward_mistakes=multihead_attention_forward_mistakes,
           forward_extra=_attention_extras("multihead_attention_forward", ref.multihead_attention, _multihead,
                                           multihead_sizes, [_big_multihead(lens) for lens in BIG_LENS]),
           backward_extra=[_masked_gradient_zero("multihead_attention_backward", "multihead_attention_forward",
                                                 _masking(_multihead, **multihead_sizes), ("k", "v"))]),
    _positional_encoding(),
]
