"""a6_attention's own properties: masked softmax's exact zeros and per-query lengths, masked keys
ignored, permutations of queries and keys, the positional encoding's pairs and rotation."""

from __future__ import annotations

from hypothesis import strategies as st
import numpy as np

import dlgrade.reference.a6_attention.attention as ref
from dlgrade.checkers.declare import (assert_matches, call_target, Case, cases, evaluate, examples, Property,
                                      PropertyFailure, require_like, STABILITY_EXAMPLES, Target, values, Variant)

from .inputs import _masking, _per_query, _sizes, _unmasked, ATTENTION_FORMS
from .mistakes import EXACT_ZERO, INTERLEAVE_PE, LAST_AXIS, PER_QUERY, ROWS_APART, SWAPPED, WRONG_MASK


A = "a6_attention"


def _spread_variant(make, **sizes) -> Variant:
    return Variant("stable_at_large_inputs", "{function} is finite and right when the scores of different queries sit "
                   "at very different scales (near +1e3 and -1e3 in one batch)",
                   cases(make, **{**_sizes(ATTENTION_FORMS, **sizes), "q": st.integers(2, 4)}), where="forward",
                   hint=ROWS_APART, max_examples=STABILITY_EXAMPLES)


# ---------------------------------------------------------------------------------------------
# Helpers


def _visible(case: Case, queries: int, keys: int) -> np.ndarray:
    """Boolean (B, Q, K): the keys each query may see."""
    x = next(iter(case.args.values()))
    return ref.key_mask(case.args.get("valid_lens"), len(x), queries, keys).numpy()


def _masked_for_all_queries(case: Case) -> np.ndarray:
    """Boolean (B, K): keys that no query may see."""
    q, k = case.args["q"], case.args["k"]
    return ~_visible(case, q.shape[1], k.shape[1]).any(axis=1)


def _output(ctx, name: str, case: Case, like) -> np.ndarray:
    out = call_target(ctx, Target(name, cache=True), case)
    ctx.forget(out.cache)
    require_like("out", out.outputs["out"], like)
    return out.outputs["out"]


def _reference_out(reference, case: Case):
    return evaluate(reference, case.args).output


# ---------------------------------------------------------------------------------------------
# masked softmax: exact zeros, rows summing to one, per-query lengths


def _softmax_zeros(name: str, cases_, description: str, leak_hint: bool) -> Property:
    def check(ctx, case):
        x = case.args["x"]
        out = _output(ctx, name, case, x)
        visible = _visible(case, *x.shape[1:])
        if np.any(out[~visible] != 0):
            largest = float(np.max(np.abs(out[~visible])))
            # A tiny weight is a leak through a large negative constant; a large one, a wrong mask.
            hint = EXACT_ZERO if leak_hint or largest < 1e-6 else WRONG_MASK
            raise PropertyFailure(f"{name} gives masked entries a weight that is not exactly 0 (largest {largest:.3g})",
                                  hints=[hint])
        sums = np.where(visible, out, 0).sum(axis=-1)
        if not np.allclose(sums, 1.0, rtol=0, atol=1e-9) or np.any(out < 0):
            hints = [LAST_AXIS] if np.allclose(out.sum(axis=1), 1.0, atol=1e-9) and x.shape[1] != x.shape[2] else []
            if leak_hint:
                hints.append(EXACT_ZERO)
            raise PropertyFailure(f"{name}'s rows are not distributions over the visible keys (non-negative, summing to 1)",
                                  details=[f"row sums: {np.array2string(sums, precision=6)}"], hints=hints)
    return Property(description.split(":")[0], description.split(": ", 1)[1], check, cases=cases_)


def _per_query_lens(name: str, reference, cases_) -> Property:
    """Right with per-query lengths; when wrong there but right with per-batch ones, say so."""
    def check(ctx, case):
        want = _reference_out(reference, case)
        got = _output(ctx, name, case, want)
        try:
            assert_matches("output", {"out": got}, {"out": want})
        except PropertyFailure as failure:
            per_batch = case.with_args(valid_lens=case.args["valid_lens"][:, 0].copy())
            try:
                batch_want = _reference_out(reference, per_batch)
                assert_matches("output", {"out": _output(ctx, name, per_batch, batch_want)}, {"out": batch_want})
                failure.hints.append(PER_QUERY)
            except PropertyFailure:
                pass
            failure.summary = "with per-query valid_lens (B, Q): " + failure.summary
            raise
    return Property("per_query_valid_lens", f"{name} gives each query its own length when valid_lens is (B, Q)", check,
                    cases=cases_)


def _masked_gradient_zero(backward: str, forward: str, cases_, wrt: tuple[str, ...]) -> Property:
    """The gradients of masked entries (scores, or keys and values no query sees) are exactly 0."""
    def check(ctx, case):
        called = call_target(ctx, Target(forward, cache=True), case)
        dout = case.rng(1).normal(size=np.shape(called.outputs["out"]))
        grads = ctx.call(backward, dout, called.cache).value
        ctx.forget(called.cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if forward.startswith("masked_softmax"):
            masked, named = ~_visible(case, *case.args["x"].shape[1:]), {"dx": grads[0]}
        else:
            masked = _masked_for_all_queries(case)
            named = {f"d{n}": g for n, g in zip(("q", "k", "v"), grads) if n in wrt}
        for label, g in named.items():
            like = case.args["x"] if label == "dx" else case.args[label[1:]]
            require_like(label, g, like)
            if np.any(g[masked] != 0):
                raise PropertyFailure(f"{label} is not exactly 0 at masked positions (largest {np.max(np.abs(g[masked])):.3g})",
                                      hints=[EXACT_ZERO, "Use the masked weights of the forward (zeros at masked keys) in the backward."])
    return Property("masked_gradient_exactly_zero", f"{backward}'s gradients at masked positions are exactly 0", check,
                    cases=cases_)


# ---------------------------------------------------------------------------------------------
# Attention: masked keys ignored, permutations


def _masked_keys_ignored(name: str, cases_) -> Property:
    def check(ctx, case):
        masked = _masked_for_all_queries(case)
        rng = case.rng(5)
        changed = {}
        for n in ("k", "v"):
            x = case.args[n].copy()
            x[masked] = values(rng, x[masked].shape, 2.0, 6.0)
            changed[n] = x
        base = _output(ctx, name, case, _reference_out(getattr(ref, _REFS[name]), case))
        other = _output(ctx, name, case.with_args(**changed), base)
        try:
            assert_matches("output", {"out": other}, {"out": base}, what="the output before the change")
        except PropertyFailure as failure:
            failure.summary = "changing keys and values that every query masks changed the output: " + failure.summary
            failure.hints.append(EXACT_ZERO)
            raise
    return Property("masked_keys_ignored", f"{name}'s output does not depend on keys and values at masked positions",
                    check, cases=cases_)


def _large_scores(name: str, reference, big: list[Case]) -> Property:
    def check(ctx, case):
        want = _reference_out(reference, case)
        got = _output(ctx, name, case, want)
        try:
            assert_matches("output", {"out": got}, {"out": want})
        except PropertyFailure as failure:
            failure.summary = "at scores near ±1e12: " + failure.summary
            failure.hints.append(EXACT_ZERO)
            raise
    return Property("masked_keys_ignored_at_large_scores",
                    f"{name} gives masked keys exactly zero weight even when their scores are huge", check,
                    cases=examples(*big))


def _queries_permuted(name: str, reference) -> Property:
    def check(ctx, case):
        perm = case.rng(6).permutation(case.args["q"].shape[1])
        changes = {"q": case.args["q"][:, perm]}
        lens = case.args.get("valid_lens")
        if lens is not None and lens.ndim == 2:
            changes["valid_lens"] = lens[:, perm]
        base = _output(ctx, name, case, _reference_out(reference, case))
        permuted = _output(ctx, name, case.with_args(**changes), base)
        try:
            assert_matches("output", {"out": permuted}, {"out": base[:, perm]}, what="the permuted output")
        except PropertyFailure as failure:
            failure.summary = "permuting the queries did not permute the output the same way: " + failure.summary
            failure.hints.append("Each query attends on its own: nothing may depend on a query's position "
                                 "(no causal mask, no mixing across queries).")
            raise
    return Property("queries_permute_outputs", f"permuting {name}'s queries permutes its output rows the same way",
                    check)


def _keys_permuted(name: str, reference, cases_) -> Property:
    def check(ctx, case):
        perm = case.rng(8).permutation(case.args["k"].shape[1])
        base = _output(ctx, name, case, _reference_out(reference, case))
        permuted = _output(ctx, name, case.with_args(k=case.args["k"][:, perm], v=case.args["v"][:, perm]), base)
        try:
            assert_matches("output", {"out": permuted}, {"out": base}, what="the output before permuting")
        except PropertyFailure as failure:
            failure.summary = "without a mask, permuting keys and values together changed the output: " + failure.summary
            failure.hints.append("Without a mask attention is a weighted sum over keys: it must not depend on their order.")
            raise
    return Property("keys_values_permutation_invariant",
                    f"without a mask, permuting {name}'s keys and values together leaves the output unchanged",
                    check, cases=cases_)


_REFS = {"dot_product_attention_forward": "dot_product_attention", "additive_attention_forward": "additive_attention",
         "multihead_attention_forward": "multihead_attention"}


def _attention_extras(name: str, reference, make, sizes, big) -> list[Property]:
    return [_masked_keys_ignored(name, _masking(make, **sizes)), _large_scores(name, reference, big),
            _queries_permuted(name, reference), _keys_permuted(name, reference, _unmasked(make, **sizes)),
            _per_query_lens(name, reference, _per_query(make, **sizes))]


# ---------------------------------------------------------------------------------------------
# Positional encoding


def _pe(ctx, case):
    out = call_target(ctx, Target("positional_encoding"), case).outputs["out"]
    require_like("P", out, np.zeros((case.args["max_len"], case.args["d"])))
    return out


def _sin_cos_pairs(ctx, case):
    P = _pe(ctx, case)
    norms = P[:, 0::2] ** 2 + P[:, 1::2] ** 2
    start = np.tile([0.0, 1.0], case.args["d"] // 2)
    if not np.allclose(norms, 1.0, atol=1e-9) or not np.allclose(P[0], start, atol=1e-12):
        hints = [SWAPPED] if np.allclose(P[0], 1 - start, atol=1e-12) else []
        hints += [INTERLEAVE_PE] if not np.allclose(norms, 1.0, atol=1e-9) else []
        raise PropertyFailure("columns 2j, 2j+1 are not a (sin, cos) pair of one angle starting at angle 0 "
                              "(P[i, 2j]² + P[i, 2j+1]² = 1, P[0] = [0, 1, 0, 1, ...])", hints=hints)


def _fixed_rotation(ctx, case):
    P = _pe(ctx, case)
    step = int(case.rng(2).integers(1, len(P) - 1))
    sin, cos = P[:, 0::2], P[:, 1::2]
    # The rotation taking position 0 to position `step`, per pair: angle theta = atan2(sin, cos).
    theta = np.arctan2(sin[step], cos[step])
    rotated_sin = sin[:-step] * np.cos(theta) + cos[:-step] * np.sin(theta)
    rotated_cos = cos[:-step] * np.cos(theta) - sin[:-step] * np.sin(theta)
    try:
        assert_matches("rows", {"P[i + k]": np.concatenate([sin[step:], cos[step:]], axis=1)},
                       {"P[i + k]": np.concatenate([rotated_sin, rotated_cos], axis=1)}, what="P[i] rotated by k steps")
    except PropertyFailure as failure:
        failure.summary = f"P[i + {step}] is not the same rotation of P[i] for every i: " + failure.summary
        failure.hints.append(INTERLEAVE_PE)
        raise
