"""a7_distributed's properties: sums, the ring's point-to-point traffic and bytes, the split and
the data-parallel step; the GPU ones skipped with a reason where there is none."""

from __future__ import annotations

import numpy as np

from dlgrade.checkers.declare import Case, Context, LOSSES, Property, PropertyFailure
from dlgrade.reference.a7_distributed.parallel import allreduce_sum, sgd_step, shard_sizes, sum_tolerance

from .inputs import _inputs, _step_inputs
from .mistakes import _chunk_hints, AVERAGED, COLLECTIVE, IN_PLACE, LR_SCALE, REMAINDER, SHARD_LR, STAR


RING_EXAMPLES = 5


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
