"""a7_distributed: all-reduce over a list of devices, the ring on a real process group, data parallelism.

The student's functions take torch tensors, so every call goes through a trusted adapter of
`grader.boundary.tensor_driver` (sent arrays become tensors on the named devices; the ring runs one forked
process per rank on loopback with gloo, counting the bytes each rank sends and trapping the
collectives). Values are judged here, against `reference.a7_distributed.parallel`.

Where it runs: everything runs on CPU (tensors on "cpu" stand for devices; gloo for the ring).
The GPU properties (a list on cuda:0 and the CPU, the ring on NCCL across two GPUs or more,
shards and replicas on cuda:0) are skipped with their reason where this machine, or the
sandboxed worker, has no GPU: a skip is shown and left out of the points, never passed.
Each ring example starts a process group, so the ring properties draw few examples (several
tensors each) and do not shrink.
"""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

from dlgrade.checkers.declare import (LOSSES, Case, Context, Exercise, Property, PropertyFailure)
from dlgrade.reference.a7_distributed.parallel import allreduce_sum, sgd_step, shard_sizes, sum_tolerance

A7, MODULE = "a7_distributed", "parallel"
DTYPES = ("float32", "float64", "int64")
RING_EXAMPLES = 5

# Hints (the checker's own wording; the tests look for them).
IN_PLACE = "Write the sum into the tensor you were given (tensor.copy_(...) or +=) and return None"
ALL_GATHER = "only the chunk each rank reduced itself is right: the all-gather phase is missing"
WRONG_CHUNK = "a rank adds the received chunk into the wrong chunk"
COLLECTIVE = "use only dist.send/recv/isend/irecv"
STAR = "a star (every rank sends to one rank, which sends the sum back) or everyone sending everything"
REMAINDER = "the last N % len(devices) examples are dropped"
AVERAGED = "the gradients were averaged over devices instead of summed"
LR_SCALE = "the learning rate was not divided by the full batch size N"
SHARD_LR = "the learning rate was divided by the shard's size instead of the full batch size N"


# ---------------------------------------------------------------------------------------------
# Drawn inputs: shapes and dtypes in the case; values made from its seed


def _values(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    if dtype == "int64":
        return rng.integers(-1000, 1000, size=shape).astype(np.int64)
    return rng.standard_normal(shape).astype(dtype)


def _shapes(min_size: int = 0, max_size: int = 40):
    sizes = st.integers(min_size, max_size)
    return st.one_of(sizes.map(lambda s: (s,)), st.tuples(st.integers(1, 4), sizes.map(lambda s: max(s // 4, 1 if min_size else 0))))


@st.composite
def ring_cases(draw, world_sizes=st.integers(1, 4), shapes=_shapes()):
    n = draw(world_sizes)
    count = draw(st.integers(1, 3))
    return Case(args={"world_size": n, "shapes": [draw(shapes) for _ in range(count)],
                      "dtypes": [draw(st.sampled_from(DTYPES)) for _ in range(count)]},
                seed=draw(st.integers(0, 2**31 - 1)))


def _inputs(case: Case) -> list[list[np.ndarray]]:
    """inputs[rank][k]: rank's k-th tensor."""
    rng = case.rng(3)
    n = case.args.get("world_size", case.args.get("devices"))
    return [[_values(rng, tuple(s), d) for s, d in zip(case.args["shapes"], case.args["dtypes"])] for _ in range(n)]


def _compare_sum(what: str, actual, inputs: list[np.ndarray]) -> None:
    want, tol = allreduce_sum(inputs), sum_tolerance(inputs)
    if not isinstance(actual, np.ndarray):
        raise PropertyFailure(f"{what} is a {type(actual).__name__}, not a tensor")
    if actual.shape != want.shape or actual.dtype != inputs[0].dtype:
        raise PropertyFailure(f"{what} has shape {list(actual.shape)} and dtype {actual.dtype}; "
                              f"expected {list(want.shape)} and {inputs[0].dtype}")
    error = np.abs(actual.astype(np.longdouble) - want)
    if not np.all(error <= tol):
        i = np.unravel_index(int(np.argmax(error - tol)), want.shape) if want.ndim else ()
        raise PropertyFailure(f"{what} is not the elementwise sum over ranks",
                              [f"at index {list(i)}: expected {float(want[i]):.17g}, got {float(actual[i]):.17g}, "
                               f"tolerance {float(tol[i]):.3g} (from the summation order)"])


# ---------------------------------------------------------------------------------------------
# GPU properties: skipped with a reason where there is none


def needs_gpus(count: int):
    """A skip_if: the reason to skip where the student's code cannot be given `count` GPUs. The
    count comes from the trusted side (the machine's devices and what the sandbox passes on),
    never from the student's own process."""
    def reason(ctx: Context) -> str | None:
        here = ctx.submission.gpu_count(ctx.exercise.assignment)
        if here < count:
            return f"needs {count} CUDA GPU{'s' if count > 1 else ''}; the student's code can use {here} here"
        return None
    return reason


def _prop(name, description, check, cases, weight=1.0, essential=True, **options) -> Property:
    return Property(name, description, check, cases, weight, essential, **options)


# ---------------------------------------------------------------------------------------------
# allreduce(tensors)


@st.composite
def list_cases(draw):
    return Case(args={"devices": draw(st.integers(1, 4)), "shapes": [draw(_shapes())],
                      "dtypes": [draw(st.sampled_from(DTYPES))]}, seed=draw(st.integers(0, 2**31 - 1)))


def _list_run(ctx: Context, case: Case, devices: list[str] | None = None) -> tuple[list, dict]:
    arrays = [row[0] for row in _inputs(case)]
    devices = devices or ["cpu"] * len(arrays)
    result = ctx.call("allreduce", arrays, devices, via="list").value
    return arrays, result


def _list_sums(ctx: Context, case: Case, devices: list[str] | None = None) -> None:
    arrays, result = _list_run(ctx, case, devices)
    hints = []
    if result["replaced"]:
        hints.append("The caller holds the tensors it passed: modify them (t.copy_(total)), do not replace the list's entries.")
    if len(arrays) > 1 and all(np.array_equal(v, a) for v, a in zip(result["values"], arrays)) and result["returned"] != "None":
        hints.append(IN_PLACE + " (the tensors are unchanged and a value was returned).")
    for i, value in enumerate(result["values"]):
        try:
            _compare_sum(f"tensor {i} after allreduce", value, arrays)
        except PropertyFailure as failure:
            failure.hints += hints
            raise
    for i, (device, want) in enumerate(zip(result["devices"], devices or ["cpu"] * len(arrays))):
        if device.split(":")[0] != want.split(":")[0] or (":" in want and device != want):
            raise PropertyFailure(f"tensor {i} moved off its own device", details=[f"from {want} to {device}"],
                                  hints=["Each tensor stays on its own device: copy the sum to it with t.copy_(total.to(t.device))."])


def _list_runs(ctx, case):
    _list_run(ctx, case)


def _list_mixed(ctx, case):
    _list_sums(ctx, case, ["cuda:0", "cpu"] + ["cuda:0", "cpu"][: max(0, case.args["devices"] - 2)])


def _allreduce() -> Exercise:
    cases = list_cases()
    mixed = list_cases().map(lambda c: c.with_args(devices=max(2, c.args["devices"])))
    return Exercise("allreduce", A7, MODULE, "sum a list of tensors in place, each on its own device", [
        _prop("runs_on_valid_inputs", "allreduce runs on lists of 1 to 4 tensors", _list_runs, cases),
        _prop("sums_in_place", "every tensor of the list (the same objects) holds the elementwise sum, on its device, "
              "in its dtype", _list_sums, cases, 4.0),
        _prop("sums_across_cuda_and_cpu", "the same with tensors on cuda:0 and on the CPU", _list_mixed,
              mixed, skip_if=needs_gpus(1), max_examples=10),
    ], cases)


# ---------------------------------------------------------------------------------------------
# ring_allreduce(tensor)


def _ring_run(ctx: Context, case: Case, backend: str = "gloo") -> tuple[list, dict]:
    inputs = _inputs(case)
    result = ctx.call("ring_allreduce", inputs, backend, via="ring").value
    if result["error"]:
        raise PropertyFailure(result["error"])
    return inputs, result


def _ring_runs(ctx, case):
    _ring_run(ctx, case)


def _chunk_hints(inputs, result) -> list[str]:
    """Known ring mistakes, recognised from which chunks each rank got right."""
    n = len(inputs)
    hints = []
    for k in range(len(inputs[0])):
        want = allreduce_sum([row[k] for row in inputs])
        flat_want = np.asarray(want, dtype=np.float64).reshape(-1)
        got = [np.asarray(rank["values"][k], dtype=np.float64).reshape(-1) for rank in result["ranks"]]
        if n < 2 or flat_want.size < n:
            continue
        bounds = np.cumsum([0] + shard_sizes(flat_want.size, n))
        right = [[np.allclose(g[a:b], flat_want[a:b]) for a, b in zip(bounds[:-1], bounds[1:])] for g in got]
        unchanged = all(np.array_equal(g, np.asarray(row[k], dtype=np.float64).reshape(-1)) for g, row in zip(got, inputs))
        if all(r.count(True) == 1 for r in right):
            hints.append(ALL_GATHER)
        elif not all(all(r) for r in right) and not unchanged:
            hints.append(f"Check which chunk each step sends and which it adds into: {WRONG_CHUNK}, or a chunk index "
                         f"is off by one (step s of the reduce-scatter sends chunk (rank - s) % n and adds into "
                         f"(rank - s - 1) % n).")
        if all(np.array_equal(g, np.asarray(row[k], dtype=np.float64).reshape(-1)) for g, row in zip(got, inputs)) \
                and any(r != "None" for rank in result["ranks"] for r in rank["returned"]):
            hints.append(IN_PLACE + " (every rank's tensor is unchanged and a value was returned).")
    return list(dict.fromkeys(hints))


def _ring_sums(ctx, case):
    inputs, result = _ring_run(ctx, case)
    for r, rank in enumerate(result["ranks"]):
        for k, value in enumerate(rank["values"]):
            try:
                _compare_sum(f"rank {r}'s tensor {k} ({case.args['dtypes'][k]}{list(case.args['shapes'][k])})", value,
                             [row[k] for row in inputs])
            except PropertyFailure as failure:
                failure.hints += _chunk_hints(inputs, result)
                raise


def _ring_agree(ctx, case):
    _, result = _ring_run(ctx, case)
    first = result["ranks"][0]["values"]
    for r, rank in enumerate(result["ranks"][1:], 1):
        for k, (a, b) in enumerate(zip(first, rank["values"])):
            if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)):
                raise PropertyFailure(f"ranks 0 and {r} end with different tensors {k}: every rank must hold the very "
                                      f"same sum", hints=["Compute each chunk's sum on one rank and pass the finished "
                                                          "chunk on (all-gather), rather than summing on every rank in its own order."])


def _ring_p2p(ctx, case):
    _, result = _ring_run(ctx, case)
    used = sorted({name for rank in result["ranks"] for name in rank["collectives"]})
    if used:
        raise PropertyFailure("ring_allreduce uses collectives: point-to-point calls only",
                              details=[f"collectives used: {', '.join(used)}"], hints=[f"The ring is the exercise: {COLLECTIVE}."])


def _ring_bytes(ctx, case):
    inputs, result = _ring_run(ctx, case)
    n = len(inputs)
    for k, array in enumerate(inputs[0]):
        elements, itemsize = array.size, array.itemsize
        ideal = 2 * (n - 1) / n * elements * itemsize
        # 5% of the ideal, plus one element per message for chunks that cannot be equal.
        slack = 0.05 * ideal + 2 * (n - 1) * itemsize
        sent = [rank["sent_bytes"][k] for rank in result["ranks"]]
        off = [r for r, s in enumerate(sent) if abs(s - ideal) > slack]
        if off:
            full = elements * itemsize
            hints = [f"That is {STAR}: in a ring every rank sends 2(n-1)/n of the tensor, one chunk per step."] \
                if max(sent) >= (n - 1) * full * 0.95 else []
            raise PropertyFailure(f"bytes sent per rank for a tensor of {full} bytes on {n} ranks: {sent}; the ring "
                                  f"sends 2(n-1)/n of it, {ideal:.0f} bytes, from every rank", hints=hints)


def _ring_nccl(ctx, case):
    inputs, result = _ring_run(ctx, case, "nccl")
    for r, rank in enumerate(result["ranks"]):
        for k, value in enumerate(rank["values"]):
            _compare_sum(f"rank {r}'s tensor {k} on NCCL", value, [row[k] for row in inputs])


def _ring_edges() -> st.SearchStrategy:
    edges = [Case(args={"world_size": n, "shapes": [(0,), (1,), (n + 1,), (2, 2 * n - 1)],
                        "dtypes": ["float64", "int64", "float32", "int64"]}, seed=n) for n in (2, 3, 4)]
    return st.sampled_from(edges)


def _ring() -> Exercise:
    cases = ring_cases()
    few = {"max_examples": RING_EXAMPLES, "shrink": False}
    big = ring_cases(st.integers(3, 4), st.integers(128, 1024).map(lambda s: (s,)))
    return Exercise("ring_allreduce", A7, MODULE, "all-reduce on a real process group, with a ring of point-to-point messages", [
        _prop("runs_on_valid_inputs", "every rank returns, without error or deadlock, for world sizes 1 to 4", _ring_runs,
              cases, **few),
        _prop("sums_on_every_rank", "every rank ends with the elementwise sum (exact for int64, within the rounding of "
              "the summation order for floats), in place, in its dtype", _ring_sums, cases, 4.0, **few),
        _prop("ranks_agree", "every rank ends with the very same tensor", _ring_agree, cases, **few),
        _prop("sums_at_awkward_sizes", "sizes 0, 1 and not divisible by the world size, float32, float64 and int64",
              _ring_sums, _ring_edges(), 2.0, max_examples=3, shrink=False),
        _prop("point_to_point_only", "no collective (all_reduce, reduce, broadcast, all_gather, ...) is called",
              _ring_p2p, cases, 2.0, **few),
        _prop("sends_ring_bytes", "each rank sends 2(n-1)/n of the tensor, within a few percent (bandwidth-optimal)",
              _ring_bytes, big, 1.0, essential=False, max_examples=3, shrink=False),
        _prop("sums_on_nccl_across_gpus", "the sum is right on NCCL with one rank per GPU", _ring_nccl,
              ring_cases(st.just(2)), 1.0, skip_if=needs_gpus(2), **few),
    ], cases)


# ---------------------------------------------------------------------------------------------
# split_batch and data_parallel_step


@st.composite
def split_cases(draw):
    parts = draw(st.integers(1, 4))
    n = draw(st.integers(0, 13))
    return Case(args={"N": n, "features": draw(st.integers(1, 3)), "devices": parts}, seed=draw(st.integers(0, 2**31 - 1)))


def _split_run(ctx: Context, case: Case, devices: list[str] | None = None):
    rng = case.rng(5)
    n, parts = case.args["N"], case.args["devices"]
    X = rng.standard_normal((n, case.args["features"]))
    y = rng.integers(0, 5, size=n).astype(np.int64)
    devices = devices or ["cpu"] * parts
    result = ctx.call("split_batch", X, y, devices, via="split").value
    if "error" in result:
        raise PropertyFailure(result["error"])
    return X, y, devices, result


def _split_runs(ctx, case):
    _split_run(ctx, case)


def _split_covers(ctx, case):
    X, y, devices, result = _split_run(ctx, case)
    for name, whole in (("X", X), ("y", y)):
        shards = result[name]
        if len(shards) != len(devices):
            raise PropertyFailure(f"{len(shards)} {name} shards for {len(devices)} devices: one shard per device "
                                  f"(torch.chunk can give fewer; torch.tensor_split gives exactly that many)")
        if not all(isinstance(s, np.ndarray) for s in shards):
            raise PropertyFailure(f"the {name} shards are not all tensors")
        joined = np.concatenate([s.reshape((-1,) + whole.shape[1:]) for s in shards]) if shards else whole[:0]
        if joined.shape != whole.shape or not np.array_equal(joined, whole):
            hints = [f"{REMAINDER}: give the first N % len(devices) shards one more example."] \
                if len(joined) < len(whole) and np.array_equal(joined, whole[:len(joined)]) else []
            raise PropertyFailure(f"the {name} shards, put back together in order, are not {name}: each example must be "
                                  f"in exactly one shard, contiguous, in order", hints=hints)


def _split_equal(ctx, case):
    X, _, devices, result = _split_run(ctx, case)
    sizes = [len(s) if isinstance(s, np.ndarray) and s.ndim else -1 for s in result["X"]]
    if len(sizes) != len(devices) or max(sizes) - min(sizes) > 1 or sum(sizes) != len(X):
        raise PropertyFailure(f"shard sizes {sizes} for {len(X)} examples on {len(devices)} devices: they should differ "
                              f"by at most one, e.g. {shard_sizes(len(X), len(devices))}")


def _split_devices(ctx, case, devices=None):
    _, _, devices, result = _split_run(ctx, case, devices)
    for name in ("X", "y"):
        for i, (got, want) in enumerate(zip(result[f"{name}_devices"], devices)):
            if got.split(":")[0] != want.split(":")[0]:
                raise PropertyFailure(f"{name} shard {i} is not on its device", details=[f"on {got}, not on {want}"],
                                      hints=["Move each shard to its device: shard.to(device)."])


def _split_mixed(ctx, case):
    _split_devices(ctx, case, ["cuda:0", "cpu"])


def _split_unchanged(ctx, case):
    X, y, _, result = _split_run(ctx, case)
    if not (np.array_equal(result["X_after"], X) and np.array_equal(result["y_after"], y)):
        raise PropertyFailure("split_batch modified X or y", hints=["Shards are slices: do not write into them."])


def _split() -> Exercise:
    cases = split_cases()
    return Exercise("split_batch", A7, MODULE, "contiguous shards, one per device, as equal as possible", [
        _prop("runs_on_valid_inputs", "split_batch runs and returns two lists", _split_runs, cases),
        _prop("covers_every_example_once", "the shards, in order, are exactly the batch", _split_covers, cases, 3.0),
        _prop("as_equal_as_possible", "shard sizes differ by at most one", _split_equal, cases, 2.0),
        _prop("shards_on_their_devices", "shard i is on devices[i]", _split_devices, cases),
        _prop("inputs_unchanged", "X and y are unchanged", _split_unchanged, cases, 0.5, essential=False),
        _prop("shards_on_cuda_and_cpu", "the same with devices cuda:0 and the CPU", _split_mixed,
              cases.map(lambda c: c.with_args(devices=2)), skip_if=needs_gpus(1), max_examples=10),
    ], cases)


@st.composite
def step_cases(draw):
    parts = draw(st.integers(1, 4))
    return Case(args={"loss": draw(st.sampled_from(["linear_squared", "softmax_classifier"])),
                      "N": draw(st.integers(parts, 12)), "devices": parts,
                      "lr": draw(st.floats(0.05, 1.0))}, seed=draw(st.integers(0, 2**31 - 1)))


def _step_inputs(case: Case):
    rng = case.rng(9)
    n, d = case.args["N"], 3
    if case.args["loss"] == "linear_squared":
        params = [rng.standard_normal((d, 2)), rng.standard_normal(2)]
        y = rng.standard_normal((n, 2))
    else:
        params = [rng.standard_normal((d, 4)), rng.standard_normal(4), rng.standard_normal((4, 3)), rng.standard_normal(3)]
        y = rng.integers(0, 3, size=n).astype(np.int64)
    return params, rng.standard_normal((n, d)), y


def _step_run(ctx: Context, case: Case, devices: list[str] | None = None):
    params, X, y = _step_inputs(case)
    devices = devices or ["cpu"] * case.args["devices"]
    result = ctx.call("data_parallel_step", params, X, y, devices, case.args["lr"], case.args["loss"], via="step").value
    return params, X, y, result


def _step_runs(ctx, case):
    _step_run(ctx, case)


def _step_identical(ctx, case):
    _, _, _, result = _step_run(ctx, case)
    first = result["params"][0]
    for i, replica in enumerate(result["params"][1:], 1):
        if not all(isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
                   for a, b in zip(first, replica)):
            raise PropertyFailure(f"after the step, replica {i} differs from replica 0",
                                  hints=["Every replica must apply the same summed gradient (allreduce the gradients "
                                         "before the update)."])


def _step_matches(ctx, case, devices=None):
    params, X, y, result = _step_run(ctx, case, devices)
    lr, loss, parts = case.args["lr"], case.args["loss"], len(result["params"])
    want = sgd_step(params, X, y, lr, LOSSES[loss])
    grads = [(p - w) * X.shape[0] / lr for p, w in zip(params, want)]  # the summed gradient
    shard = shard_sizes(X.shape[0], parts)[0]
    known = {AVERAGED: [p - lr / X.shape[0] * g / parts for p, g in zip(params, grads)],
             LR_SCALE: [p - lr * g for p, g in zip(params, grads)],
             SHARD_LR: [p - lr / shard * g for p, g in zip(params, grads)]}
    for i, replica in enumerate(result["params"]):
        for k, (got, right) in enumerate(zip(replica, want)):
            if not (isinstance(got, np.ndarray) and got.shape == right.shape and np.allclose(got, right, rtol=1e-9, atol=1e-9)):
                hints = [hint for hint, wrong in known.items()
                         if all(isinstance(g, np.ndarray) and g.shape == w.shape and np.allclose(g, w, rtol=1e-9, atol=1e-9)
                                for g, w in zip(replica, wrong)) and not np.allclose(wrong[k], right[k])]
                if result["returned"] != "None" and all(np.array_equal(g, p) for g, p in zip(replica, params)):
                    hints.append("Update the replicas' tensors in place (under torch.no_grad(): p -= ...) and return None.")
                raise PropertyFailure(f"replica {i}'s parameter {k} is not one SGD step on the whole batch "
                                      f"(p - lr/N * gradient of the summed loss)",
                                      [f"worst difference {float(np.max(np.abs(np.asarray(got, float) - right))) if isinstance(got, np.ndarray) and got.shape == right.shape else 'shape'}"],
                                      hints=hints)


def _step_mixed(ctx, case):
    _step_matches(ctx, case, ["cuda:0", "cpu"])


def _step() -> Exercise:
    cases = step_cases()
    return Exercise("data_parallel_step", A7, MODULE, "one step of data-parallel SGD", [
        _prop("runs_on_valid_inputs", "data_parallel_step runs on 1 to 4 replicas", _step_runs, cases, max_examples=20),
        _prop("replicas_identical", "after the step every replica is bitwise the same", _step_identical, cases,
              max_examples=20),
        _prop("matches_single_device_sgd", "every replica equals one SGD step on the whole batch (summed loss, lr/N)",
              _step_matches, cases, 4.0, max_examples=20),
        _prop("matches_on_cuda_and_cpu", "the same with replicas on cuda:0 and the CPU", _step_mixed,
              cases.map(lambda c: c.with_args(devices=2, N=max(2, c.args["N"]))), skip_if=needs_gpus(1), max_examples=10),
    ], cases)


EXERCISES = [_allreduce(), _ring(), _split(), _step()]
