"""Planted mistakes in the a7_distributed solutions: the checker must catch every one.

The harness is `tests/mutants.py`. The ring mutants start real process groups (gloo on loopback),
so this file also checks that a deadlock leaves no process behind.
"""

from __future__ import annotations

import os

import pytest

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.grader.grading.session import run_checks
from mutants import M, check_planted

A7 = "a7_distributed"
ASSIGNMENT = A7  # this file's mutant table, for the coverage tests of tests/test_mutants.py

# A correct ring to edit: the mutants change a line or two.
_RING = """
        def ring_allreduce(tensor):
            n, rank = dist.get_world_size(), dist.get_rank()
            if n == 1 or tensor.numel() == 0:
                return None
            flat = tensor.view(-1)
            chunks = list(torch.tensor_split(flat, n))
            right, left = (rank + 1) % n, (rank - 1) % n
            def exchange(send_index, recv_index):
                buffer = torch.empty_like(chunks[recv_index])
                request = dist.isend(chunks[send_index].contiguous(), right)
                dist.recv(buffer, left)
                request.wait()
                return buffer
            for step in range(n - 1):
                send_index, recv_index = (rank - step) % n, (rank - step - 1) % n
                {reduce}
            for step in range({gather_steps}):
                send_index, recv_index = (rank + 1 - step) % n, (rank - step) % n
                chunks[recv_index].copy_(exchange(send_index, recv_index))
        """


def ring(reduce: str = "chunks[recv_index] += exchange(send_index, recv_index)", gather_steps: str = "n - 1") -> str:
    return _RING.format(reduce=reduce, gather_steps=gather_steps)


MUTANTS = [
    # ------------------------------------------------------------------------------- allreduce
    M("allreduce", "crash", "crash", """
        def allreduce(tensors):
            total = sum(tensors[1:], tensors[0]).item()
            for t in tensors:
                t.fill_(total)
        """, ["runs_on_valid_inputs"]),
    M("allreduce", "returns_new", "not_in_place", """
        def allreduce(tensors):
            return [sum(t.clone() for t in tensors) for _ in tensors]
        """, ["sums_in_place"], hint="Write the sum into the tensor you were given"),
    M("allreduce", "replaces_entries", "not_in_place", """
        def allreduce(tensors):
            total = sum(t.clone() for t in tensors)
            for i in range(len(tensors)):
                tensors[i] = total.clone()
        """, ["sums_in_place"], hint="do not replace the list's entries"),
    M("allreduce", "first_twice", "wrong_value", """
        def allreduce(tensors):
            total = tensors[0].clone()
            for t in tensors:
                total += t
            for t in tensors:
                t.copy_(total)
        """, ["sums_in_place"]),
    M("allreduce", "float_accumulator", "dtype", """
        def allreduce(tensors):
            total = sum(t.double() for t in tensors)
            for i, t in enumerate(tensors):
                t.copy_(total.float() if i else total)
        """, ["sums_in_place"]),
    # --------------------------------------------------------------------------- ring_allreduce
    # Adds into the chunk it sent (where the sizes allow it; otherwise the shapes would not match).
    M("ring_allreduce", "wrong_chunk", "wrong_value", ring(
        "target = send_index if chunks[send_index].numel() == chunks[recv_index].numel() else recv_index\n"
        "                chunks[target] += exchange(send_index, recv_index)"),
      ["sums_on_every_rank", "sums_at_awkward_sizes"], hint="wrong chunk"),
    M("ring_allreduce", "no_all_gather", "wrong_value", ring(gather_steps="0"),
      ["sums_on_every_rank", "sums_at_awkward_sizes", "sends_ring_bytes"], hint="the all-gather phase is missing"),
    M("ring_allreduce", "star", "inefficient", """
        def ring_allreduce(tensor):
            n, rank = dist.get_world_size(), dist.get_rank()
            if rank == 0:
                buffer = torch.empty_like(tensor)
                for other in range(1, n):
                    dist.recv(buffer, other)
                    tensor += buffer
                for other in range(1, n):
                    dist.send(tensor, other)
            else:
                dist.send(tensor, 0)
                dist.recv(tensor, 0)
        """, ["sends_ring_bytes"], hint="a star"),
    M("ring_allreduce", "everyone_sends_everything", "inefficient", """
        def ring_allreduce(tensor):
            n, rank = dist.get_world_size(), dist.get_rank()
            mine = tensor.clone()
            buffer = torch.empty_like(tensor)
            requests = [dist.isend(mine, other) for other in range(n) if other != rank]
            total = torch.zeros_like(tensor)
            for other in range(n):
                if other == rank:
                    total += mine
                else:
                    dist.recv(buffer, other)
                    total += buffer
            for r in requests:
                r.wait()
            tensor.copy_(total)
        """, ["sends_ring_bytes"], hint="everyone sending everything"),
    M("ring_allreduce", "uneven_off_by_one", "edge_size", ring(
        "chunks[recv_index] += exchange(send_index, recv_index)").replace(
        "chunks = list(torch.tensor_split(flat, n))",
        "size = flat.numel() // n\n"
        "            chunks = [flat[i * size:(i + 1) * size] for i in range(n)]"),
      ["sums_at_awkward_sizes"]),
    M("ring_allreduce", "rank_skips_a_step", "deadlock", ring(
        "if not (rank == n - 1 and step == 0): chunks[recv_index] += exchange(send_index, recv_index)"),
      ["runs_on_valid_inputs"]),
    M("ring_allreduce", "uses_all_reduce", "forbidden_call", """
        def ring_allreduce(tensor):
            dist.all_reduce(tensor)
        """, ["point_to_point_only"], hint="use only dist.send/recv/isend/irecv"),
    M("ring_allreduce", "returns_new", "not_in_place", """
        _solution_ring = ring_allreduce

        def ring_allreduce(tensor):
            result = tensor.clone()
            _solution_ring(result)
            return result
        """, ["sums_on_every_rank"], hint="Write the sum into the tensor you were given"),
    M("ring_allreduce", "own_order", "disagree", """
        def ring_allreduce(tensor):
            n, rank = dist.get_world_size(), dist.get_rank()
            mine = tensor.clone()
            buffer = torch.empty_like(tensor)
            total = mine.clone()
            for step in range(1, n):
                request = dist.isend(mine, (rank + step) % n)
                dist.recv(buffer, (rank - step) % n)
                request.wait()
                total += buffer
            tensor.copy_(total)
        """, ["ranks_agree"]),
    # ------------------------------------------------------------------------------ split_batch
    M("split_batch", "chunk", "crash", """
        def split_batch(X, y, devices):
            return None
        """, ["runs_on_valid_inputs"]),
    M("split_batch", "drops_remainder", "edge_size", """
        def split_batch(X, y, devices):
            size = X.shape[0] // len(devices)
            return ([X[i * size:(i + 1) * size].to(d) for i, d in enumerate(devices)],
                    [y[i * size:(i + 1) * size].to(d) for i, d in enumerate(devices)])
        """, ["covers_every_example_once", "as_equal_as_possible"], hint="examples are dropped"),
    M("split_batch", "remainder_on_last", "unequal", """
        def split_batch(X, y, devices):
            n, size = len(devices), X.shape[0] // len(devices)
            cuts = [i * size for i in range(n)] + [X.shape[0]]
            return ([X[a:b].to(d) for a, b, d in zip(cuts, cuts[1:], devices)],
                    [y[a:b].to(d) for a, b, d in zip(cuts, cuts[1:], devices)])
        """, ["as_equal_as_possible"]),
    M("split_batch", "strided", "not_contiguous", """
        def split_batch(X, y, devices):
            n = len(devices)
            return [X[i::n].to(d) for i, d in enumerate(devices)], [y[i::n].to(d) for i, d in enumerate(devices)]
        """, ["covers_every_example_once"]),
    M("split_batch", "wrong_device", "device", """
        _solution_split = split_batch

        def split_batch(X, y, devices):
            X_shards, y_shards = _solution_split(X, y, devices)
            return [s.to("meta") for s in X_shards], y_shards
        """, ["covers_every_example_once", "shards_on_their_devices"]),
    M("split_batch", "writes_input", "mutates_input", """
        _solution_split = split_batch

        def split_batch(X, y, devices):
            X_shards, y_shards = _solution_split(X, y, devices)
            X.mul_(1.0)
            X[:1] += 1.0
            return [s.clone() - (1.0 if i == 0 else 0.0) * (s == s) * 0 for i, s in enumerate(X_shards)], y_shards
        """, ["inputs_unchanged"]),
    # ----------------------------------------------------------------------- data_parallel_step
    M("data_parallel_step", "crash", "crash", """
        def data_parallel_step(params_per_device, X, y, devices, lr, loss_fn):
            loss_fn(params_per_device, X, y).backward()
        """, ["runs_on_valid_inputs"]),
    M("data_parallel_step", "averages", "wrong_value", """
        def data_parallel_step(params_per_device, X, y, devices, lr, loss_fn):
            X_shards, y_shards = split_batch(X, y, devices)
            grads = [torch.autograd.grad(loss_fn(p, xs, ys), p) for p, xs, ys in zip(params_per_device, X_shards, y_shards)]
            for k in range(len(grads[0])):
                allreduce([g[k] for g in grads])
            with torch.no_grad():
                for params, g in zip(params_per_device, grads):
                    for p, gk in zip(params, g):
                        p -= lr / X.shape[0] * gk / len(devices)
        """, ["matches_single_device_sgd"], hint="averaged over devices instead of summed"),
    M("data_parallel_step", "no_lr_scaling", "wrong_value", """
        def data_parallel_step(params_per_device, X, y, devices, lr, loss_fn):
            X_shards, y_shards = split_batch(X, y, devices)
            grads = [torch.autograd.grad(loss_fn(p, xs, ys), p) for p, xs, ys in zip(params_per_device, X_shards, y_shards)]
            for k in range(len(grads[0])):
                allreduce([g[k] for g in grads])
            with torch.no_grad():
                for params, g in zip(params_per_device, grads):
                    for p, gk in zip(params, g):
                        p -= lr * gk
        """, ["matches_single_device_sgd"], hint="not divided by the full batch size"),
    M("data_parallel_step", "no_allreduce", "replicas_drift", """
        def data_parallel_step(params_per_device, X, y, devices, lr, loss_fn):
            X_shards, y_shards = split_batch(X, y, devices)
            with torch.enable_grad():
                grads = [torch.autograd.grad(loss_fn(p, xs, ys), p) for p, xs, ys in zip(params_per_device, X_shards, y_shards)]
            with torch.no_grad():
                for params, g in zip(params_per_device, grads):
                    for p, gk in zip(params, g):
                        p -= lr / X.shape[0] * gk * len(devices)
        """, ["replicas_identical", "matches_single_device_sgd"]),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_is_caught(mutant, tmp_path):
    check_planted(A7, mutant, tmp_path)


def test_a_deadlock_leaves_no_process_behind(tmp_path):
    deadlock = next(m for m in MUTANTS if m.id == "rank_skips_a_step")
    check_planted(A7, deadlock, tmp_path)
    children = [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) == os.getpid()]
    assert not children, f"processes left behind: {children}"


def _parent(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_draws_do_not_depend_on_what_ran_before_in_the_process(tmp_path):
    """A sandboxed check first, then the same mutant as above: hypothesis would mix the constants of
    the modules loaded in this process into its draws, so that the earlier run changed which cases
    the later one drew (and the wrong chunk went unseen by sums_on_every_rank)."""
    run_checks([A7], ASSIGNMENTS_DIR, "student", seed=0, sandbox=True)
    check_planted(A7, next(m for m in MUTANTS if m.id == "wrong_chunk"), tmp_path)
