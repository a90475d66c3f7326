"""Assignment a6_attention: every exercise declared once.

Masks are drawn in all three forms (None, per-batch (B,), per-query (B, Q) integer lengths); the
specific properties check what the generic ones cannot see: masked keys get exactly zero weight
(also at scores of 1e12, where a large negative constant leaks) and zero gradient, attention is
equivariant to permuting the queries and invariant to permuting keys with their values, and the
positional encoding is made of (sin, cos) pairs that rotate by a fixed angle per step.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from hypothesis import strategies as st

import dlgrade.reference.a6_attention.attention as ref
from dlgrade.checkers.declare import (STABILITY_EXAMPLES, assert_matches, call_target, Case, cases, evaluate,
                                      examples, Exercise, layer, Mistake, output_properties, Property,
                                      PropertyFailure, require_like, spread_rows, stability, Target, values, Variant)

A = "a6_attention"
small = st.integers(1, 4)

# Hints (named, so that the tests can find them).
EXACT_ZERO = ("Masked entries must be EXACTLY 0: a large negative number (-1e6, -1e9) added to or put in place of "
              "masked scores leaks weight when scores are large; use np.where(mask, x, -np.inf) before exp "
              "(or multiply the exponentials by the mask).")
WRONG_MASK = ("Mask key j when j >= valid_lens[b] (shape (B,)) or j >= valid_lens[b, i] (shape (B, Q), one length "
              "per query).")
LAST_AXIS = "Normalise over the keys, the last axis (axis=-1), not over the queries."
PER_QUERY = ("valid_lens of shape (B, Q) gives each query its own length: mask key j for query i of batch b "
             "when j >= valid_lens[b, i] (use valid_lens[:, :, None], not valid_lens[:, None, None]).")
NO_SCALE = "Scale the scores by 1/sqrt(d), d the size of the queries and keys (of one head)."
HEAD_SIZE = "In multi-head attention the scale is 1/sqrt(E / num_heads), the size of one head, not of E."
INTERLEAVED = ("Split heads with x.reshape(B, L, num_heads, E // num_heads) (head h is columns h*d..h*d+d-1), "
               "not (B, L, d, num_heads), and merge them back the same way.")
SWAPPED = "Even columns are sin, odd columns cos: P[:, 0::2] = sin, P[:, 1::2] = cos."
INTERLEAVE_PE = "The columns come in (sin, cos) pairs, interleaved (P[:, 0::2], P[:, 1::2]), not sin in one half and cos in the other."
EXPONENT = "The frequency of pair j is 1/10000^(2j/d) with 2j the even column index (np.arange(0, d, 2) / d)."


# ---------------------------------------------------------------------------------------------
# Input strategies


def _lens(rng, form, batch, queries, keys):
    """valid_lens of the drawn form; per-query lengths differ between queries where they can."""
    if form == "none":
        return None
    if form == "batch":
        return rng.integers(1, keys + 1, batch).astype(np.int64)
    lens = rng.integers(1, keys + 1, (batch, queries)).astype(np.int64)
    if queries > 1 and keys > 1:
        same = lens[:, 0] == lens[:, 1]
        lens[same, 1] = lens[same, 0] % keys + 1
    return lens


def _with_lens(args, form, lens):
    """Attention's valid_lens is optional: 'omitted' leaves it out so its default is checked."""
    return args if form == "omitted" else {**args, "valid_lens": lens}


FORMS = st.sampled_from(["none", "batch", "query"])
ATTENTION_FORMS = st.sampled_from(["omitted", "none", "batch", "query"])


def _softmax(rng, b, q, k, form):
    return {"x": rng.normal(0, 3, (b, q, k)), "valid_lens": _lens(rng, form, b, q, k)}


def _dot(rng, b, q, k, d, dv, form):
    args = {"q": values(rng, (b, q, d)), "k": values(rng, (b, k, d)), "v": values(rng, (b, k, dv))}
    return _with_lens(args, form, _lens(rng, form if form != "omitted" else "none", b, q, k))


def _additive(rng, b, q, k, dq, dk, dv, h, form):
    args = {"q": values(rng, (b, q, dq)), "k": values(rng, (b, k, dk)), "v": values(rng, (b, k, dv)),
            "Wq": values(rng, (dq, h), 0.1, 1.0), "Wk": values(rng, (dk, h), 0.1, 1.0), "wv": values(rng, (h,))}
    return _with_lens(args, form, _lens(rng, form if form != "omitted" else "none", b, q, k))


def _multihead(rng, b, q, k, heads, head_size, form):
    e = heads * head_size
    params = {f"W{n}": rng.normal(0, 1 / np.sqrt(e), (e, e)) for n in "qkvo"}
    params.update({f"b{n}": rng.normal(0, 0.1, e) for n in "qkvo"})
    args = {"q": values(rng, (b, q, e)), "k": values(rng, (b, k, e)), "v": values(rng, (b, k, e)),
            "params": params, "num_heads": heads}
    return _with_lens(args, form, _lens(rng, form if form != "omitted" else "none", b, q, k))


def _sizes(forms, **more):
    return dict(b=st.integers(1, 3), q=small, k=small, **more, form=forms)


softmax_cases = cases(_softmax, **_sizes(FORMS))
dot_sizes = dict(d=small, dv=small)
additive_sizes = dict(dq=small, dk=small, dv=small, h=small)
multihead_sizes = dict(heads=st.integers(1, 3), head_size=st.integers(1, 3))
dot_cases = cases(_dot, **_sizes(ATTENTION_FORMS, **dot_sizes))
additive_cases = cases(_additive, **_sizes(ATTENTION_FORMS, **additive_sizes))
multihead_cases = cases(_multihead, **_sizes(ATTENTION_FORMS, **multihead_sizes))


def _masking(make, **sizes):
    """Cases where some key is masked: two or more keys, lengths per batch or per query."""
    return cases(make, **{**_sizes(st.sampled_from(["batch", "query"]), **sizes), "k": st.integers(2, 4)})


def _per_query(make, **sizes):
    """Cases with per-query lengths that differ between queries."""
    return cases(make, **{**_sizes(st.just("query"), **sizes), "q": st.integers(2, 4), "k": st.integers(2, 4)})


def _unmasked(make, **sizes):
    return cases(make, **_sizes(st.just("omitted"), **sizes))


# Scores whose rows (one query's scores over the keys) sit at very different scales side by side:
# near +1e3 for one query, near -1e3 for another. A softmax shifted by the maximum of the whole
# batch (or not shifted) gives NaN there; each row's own maximum keeps every row finite.


def _softmax_spread(rng, b, q, k, form):
    return {"x": spread_rows(rng, (b, q, k)), "valid_lens": _lens(rng, form, b, q, k)}


def _row_levels(rng, *shape) -> np.ndarray:
    """One offset per row, near +1e3 for one, near -1e3 for another, anywhere between for the rest."""
    return spread_rows(rng, (*shape, 1))[..., 0]


def _dot_spread(rng, b, q, k, d, dv, form):
    """Keys share a first component of 1, queries carry their row's level there: score = level + O(1)."""
    args = _dot(rng, b, q, k, d, dv, form)
    args["k"][..., 0] = 1.0
    args["q"][..., 0] = _row_levels(rng, b, q) * np.sqrt(d)
    return args


def _multihead_spread(rng, b, q, k, heads, head_size, form):
    """Identity projections for queries and keys; in each head, the dot-product construction above."""
    args = _multihead(rng, b, q, k, heads, head_size, form)
    e = heads * head_size
    args["params"].update({"Wq": np.eye(e), "Wk": np.eye(e), "bq": np.zeros(e), "bk": np.zeros(e)})
    first = np.arange(heads) * head_size
    args["k"][..., first] = 1.0
    args["q"][..., first] = _row_levels(rng, b, q, heads) * np.sqrt(head_size)
    return args


def _additive_spread(rng, b, q, k, dq, dk, dv, h, form):
    """Hidden unit 0 saturates at the sign of the query's first component, and wv[0] = 1e3 makes
    it a level of about +-1e3 per query (both signs present)."""
    args = _additive(rng, b, q, k, dq, dk, dv, h, form)
    args["Wq"][:, 0], args["Wk"][:, 0] = 0.0, 0.0
    args["Wq"][0, 0] = 50.0
    signs = np.where(rng.permutation(b * q) % 2 == 0, 1.0, -1.0).reshape(b, q)
    args["q"][..., 0] = signs * np.abs(args["q"][..., 0])
    args["wv"][0] = 1e3
    return args


spread_softmax_cases = cases(_softmax_spread, **{**_sizes(FORMS), "q": st.integers(2, 4)})
ROWS_APART = ("Subtract each row's own maximum (over the keys, axis=-1, keepdims=True) before exp, not one maximum "
              "of the whole batch: a row of scores far below another's then underflows to 0/0 = NaN.")


def _spread_variant(make, **sizes) -> Variant:
    return Variant("stable_at_large_inputs", "{function} is finite and right when the scores of different queries sit "
                   "at very different scales (near +1e3 and -1e3 in one batch)",
                   cases(make, **{**_sizes(ATTENTION_FORMS, **sizes), "q": st.integers(2, 4)}), where="forward",
                   hint=ROWS_APART, max_examples=STABILITY_EXAMPLES)


pe_cases = cases(lambda rng, max_len, half: {"max_len": max_len, "d": 2 * half},
                 max_len=st.integers(1, 40), half=st.integers(1, 8))
pe_rotation_cases = cases(lambda rng, max_len, half: {"max_len": max_len, "d": 2 * half},
                          max_len=st.integers(3, 40), half=st.integers(1, 8))


# ---------------------------------------------------------------------------------------------
# Large scores: valid ones near -2^40, masked ones near +2^40 (exact in float64, so a correct
# solution matches the reference bit for bit while a large negative constant leaks).

BIG = 2.0 ** 20


def _big_dot(lens):
    q = np.array([[[BIG, 1, 0, 0], [BIG, -1, 0, 0]]])                         # (1, 2, 4)
    k = np.array([[[-BIG, 1, 0, 0], [-BIG, 2, 0, 0], [BIG, 0, 0, 0], [BIG, 1, 0, 0]]])
    v = np.array([[[1.0, -2.0], [3.0, 0.5], [100.0, 50.0], [-70.0, 20.0]]])
    return Case({"q": q, "k": k, "v": v, "valid_lens": lens})


BIG_LENS = [np.array([2]), np.array([[2, 1]])]
big_dot_cases = [_big_dot(lens) for lens in BIG_LENS]


def _big_additive(lens):
    base = _big_dot(lens).args
    # features: first column -1 for valid keys and +1 for masked ones, second ±1 (tanh saturates).
    k = np.array([[[-100.0, 100.0], [-100.0, -100.0], [100.0, 100.0], [100.0, -100.0]]])
    q = np.array([[[0.0, 0.0], [0.0, 200.0]]])
    return Case({"q": q, "k": k, "v": base["v"], "Wq": np.eye(2), "Wk": np.eye(2), "wv": np.array([2.0 ** 40, 1.0]),
                 "valid_lens": lens})


def _big_multihead(lens):
    base = _big_dot(lens).args
    e = 4
    params = {**{f"W{n}": np.eye(e) for n in "qkvo"}, **{f"b{n}": np.zeros(e) for n in "qkvo"}}
    v = np.concatenate([base["v"], base["v"]], axis=-1)
    return Case({"q": base["q"], "k": base["k"], "v": v, "params": params, "num_heads": 1, "valid_lens": lens})


big_softmax_cases = [Case({"x": np.array([[[-1e12, -1e12 + 1.0, 1e12, 1e12], [-1e12 + 2.0, 5e11, 1e12, -1e12]]]),
                           "valid_lens": lens}) for lens in (np.array([2]), np.array([[2, 1]]))]
stable_softmax_case = Case({"x": np.array([[[1e5, 0.0, -1e5], [3.0, 1e4, 1e4]], [[-1e5, -1e5, 1e5], [1e4, -1e4, 0.0]]]),
                            "valid_lens": np.array([[3, 3], [2, 1]])})


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
# Known mistakes


def _with_scale(reference, scale_of):
    def model(case, right, dout):
        return evaluate(partial(reference, scale=scale_of(case)), case.args).output
    return model


def _interleaved_heads(case, right, dout):
    """Heads split as (B, L, d, heads) and merged the same way: the right layout with permuted columns."""
    params, h = case.args["params"], case.args["num_heads"]
    e = params["Wq"].shape[0]
    perm = np.arange(e).reshape(e // h, h).T.reshape(-1)   # head i takes columns i, i + h, ...
    permuted = {n: p[perm] if n == "Wo" else p if n == "bo" else p[..., perm] for n, p in params.items()}
    return evaluate(ref.multihead_attention, {**case.args, "params": permuted}).output


def _softmax_over_queries(case, right, dout):
    if case.args["valid_lens"] is not None:
        raise ValueError("modelled without a mask only")
    x = case.args["x"]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _pe_layout(kind):
    def model(case, right, dout):
        sin, cos = right[:, 0::2], right[:, 1::2]
        if kind == "swapped":
            return np.stack([cos, sin], axis=-1).reshape(right.shape)
        if kind == "halves":
            return np.concatenate([sin, cos], axis=1)
        max_len, d = case.args["max_len"], case.args["d"]
        angles = np.arange(max_len)[:, None] / 10000.0 ** (np.arange(0, 2 * d, 4) / d)
        return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(max_len, d)
    return model


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


def _positional_encoding() -> Exercise:
    mistakes = [Mistake(SWAPPED, "output", _pe_layout("swapped")), Mistake(INTERLEAVE_PE, "output", _pe_layout("halves")),
                Mistake(EXPONENT, "output", _pe_layout("exponent"))]
    # No float input, so no float32 variant; nothing to modify.
    generic = [p for p in output_properties(Target("positional_encoding"), ref.positional_encoding, pe_cases, mistakes)
               if p.name not in ("preserves_float32", "inputs_unchanged")]
    return Exercise("positional_encoding", A, "attention", "sinusoidal positional encoding", generic + [
        Property("sin_cos_pairs", "each column pair (2j, 2j+1) is (sin, cos) of one angle, 0 at position 0", _sin_cos_pairs,
                 cases=pe_cases),
        Property("fixed_rotation", "P[i + k] is P[i] rotated by an angle that depends on k and the pair only",
                 _fixed_rotation, cases=pe_rotation_cases),
    ], pe_cases)


# ---------------------------------------------------------------------------------------------
# The exercises

_scale_mistakes = [Mistake(NO_SCALE, "output", _with_scale(ref.dot_product_attention, lambda case: 1.0)),
                   Mistake(NO_SCALE, "output", _with_scale(ref.dot_product_attention,
                                                           lambda case: 1.0 / case.args["q"].shape[-1]))]

EXERCISES = [
    *layer(A, "attention", "masked_softmax_forward", "masked_softmax_backward", ref.masked_softmax, softmax_cases,
           ("x",), summary="masked softmax",
           variants=stability(spread_softmax_cases, [stable_softmax_case], hint=ROWS_APART,
                              extreme_hint="Subtract the row maximum (over the visible keys) before exp: scores of 1e5 "
                                           "then stay finite and warning-free."),
           forward_mistakes=[Mistake(LAST_AXIS, "output", _softmax_over_queries)],
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
           backward_mistakes=[Mistake("The softmax backward is out * (dout - sum(out * dout, axis=-1, keepdims=True)).",
                                      "gradients", lambda case, right, dout: {"x": evaluate(
                                          ref.masked_softmax, case.args).output * dout})]),
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
           forward_mistakes=[Mistake(NO_SCALE, "output", _with_scale(ref.multihead_attention, lambda case: 1.0)),
                             Mistake(HEAD_SIZE, "output", _with_scale(ref.multihead_attention,
                                                                      lambda case: 1.0 / np.sqrt(case.args["q"].shape[-1]))),
                             Mistake(INTERLEAVED, "output", _interleaved_heads)],
           forward_extra=_attention_extras("multihead_attention_forward", ref.multihead_attention, _multihead,
                                           multihead_sizes, [_big_multihead(lens) for lens in BIG_LENS]),
           backward_extra=[_masked_gradient_zero("multihead_attention_backward", "multihead_attention_forward",
                                                 _masking(_multihead, **multihead_sizes), ("k", "v"))]),
    _positional_encoding(),
]
