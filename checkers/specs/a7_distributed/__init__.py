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

The input strategies are in `inputs`, the hint texts in `mistakes`, and the properties in `checks`.
"""

from __future__ import annotations

from hypothesis import strategies as st

from dlgrade.checkers.declare import Exercise

from .inputs import _ring_edges, list_cases, ring_cases, split_cases, step_cases
from .checks import (_list_mixed, _list_runs, _list_sums, _prop, _ring_agree, _ring_bytes, _ring_nccl, _ring_p2p,
                     _ring_runs, _ring_sums, _split_covers, _split_devices, _split_equal, _split_mixed, _split_runs,
                     _split_unchanged, _step_identical, _step_matches, _step_mixed, _step_runs, needs_gpus,
                     RING_EXAMPLES)


A7, MODULE = "a7_distributed", "parallel"


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
