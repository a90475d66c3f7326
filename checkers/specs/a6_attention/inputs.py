"""The input strategies of a6_attention: masks in all three forms, scores at very different
scales, and large scores that a leaky mask cannot hide."""

from __future__ import annotations

from hypothesis import strategies as st
import numpy as np

from dlgrade.checkers.declare import Case, cases, spread_rows, values


small = st.integers(1, 4)


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
