"""Trusted adapters that call a student's torch functions (assignment a7_distributed).

Only plain values cross the call boundary (grader.boundary.wire), so these adapters run next to the
student's code (in the sandboxed worker, or in this process with --no-sandbox): they turn the
arrays they are sent into tensors on the named devices, call the student's function, and give
back plain arrays and counts. `ring` starts a real `torch.distributed` process group: one forked
process per rank, gloo on loopback (or NCCL across GPUs), with the point-to-point calls wrapped to
count the bytes each rank sends, the collectives recorded, and a deadline after which
every rank (each in a process group of its own, with whatever it started) is killed.

What this can and cannot see: it runs in the student's process, so a hostile submission can undo
the wrappers (call the process group's C++ methods directly, or patch this module). The checker
judges the values it gets back against its own sums, so such a submission can hide its
collectives or its bytes from the counter, not make a wrong sum pass.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import select
import signal
import tempfile
import time
from typing import Any, Callable

import numpy as np

#: Seconds a process group may take, from the fork to the last rank's answer, before its ranks
#: are killed and the call is a deadlock.
RANK_TIMEOUT = 4.0
#: Collectives that ring_allreduce may not use (each call is recorded in every rank).
COLLECTIVES = ("all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
               "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "gather", "scatter",
               "all_gather_object", "broadcast_object_list", "_all_gather_base", "_reduce_scatter_base")
#: Names whose use in ring_allreduce's own source is a way around the wrappers.
_BYPASS = {"_C", "_get_default_group", "ProcessGroupGloo", "ProcessGroupNCCL", "_distributed_c10d"}


def adapter(name: str, function: Callable) -> Callable:
    """The adapter called `name`, bound to the student's `function`."""
    return functools.partial(ADAPTERS[name], function)


def _torch():
    import torch
    return torch


def _tensor(array: np.ndarray, device: str, requires_grad: bool = False):
    torch = _torch()
    t = torch.tensor(np.array(array, copy=True), device=device)
    return t.requires_grad_(True) if requires_grad else t


def _array(t: Any) -> Any:
    torch = _torch()
    if not isinstance(t, torch.Tensor):
        return f"not a tensor: {type(t).__name__}"
    if t.device.type == "meta":
        return "a tensor on the meta device (no values)"
    return t.detach().cpu().numpy().copy()


def _returned(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def list_allreduce(function: Callable, arrays: list, devices: list) -> dict:
    """allreduce(tensors) on tensors made from `arrays` on `devices`; what each holds after."""
    tensors = [_tensor(a, d) for a, d in zip(arrays, devices)]
    given, originals = list(tensors), list(tensors)
    returned = function(given)
    return {"values": [_array(t) for t in originals], "devices": [str(t.device) for t in originals],
            "replaced": [i for i, (a, b) in enumerate(zip(given, originals)) if a is not b],
            "returned": _returned(returned)}


def split(function: Callable, X: np.ndarray, y: np.ndarray, devices: list) -> dict:
    """split_batch(X, y, devices); the shards and their devices."""
    torch = _torch()
    Xt, yt = _tensor(X, "cpu"), _tensor(y, "cpu")
    result = function(Xt, yt, [torch.device(d) for d in devices])
    if not (isinstance(result, (tuple, list)) and len(result) == 2 and all(isinstance(s, (list, tuple)) for s in result)):
        return {"error": f"split_batch should return two lists (X_shards, y_shards); got {_returned(result)}"}
    return {"X": [_array(s) for s in result[0]], "y": [_array(s) for s in result[1]],
            "X_devices": [str(getattr(s, "device", "?")) for s in result[0]],
            "y_devices": [str(getattr(s, "device", "?")) for s in result[1]],
            "X_after": _array(Xt), "y_after": _array(yt)}


def linear_squared_loss(params, X, y):
    """Summed squared error of a linear model: sum((X @ W + b - y)**2)."""
    W, b = params
    return ((X @ W + b - y) ** 2).sum()


def softmax_classifier_loss(params, X, y):
    """Summed cross-entropy of a one-hidden-layer tanh network with integer labels y."""
    torch = _torch()
    W1, b1, W2, b2 = params
    scores = torch.tanh(X @ W1 + b1) @ W2 + b2
    return torch.nn.functional.cross_entropy(scores, y, reduction="sum")


LOSSES = {"linear_squared": linear_squared_loss, "softmax_classifier": softmax_classifier_loss}


def step(function: Callable, params: list, X: np.ndarray, y: np.ndarray, devices: list, lr: float, loss: str) -> dict:
    """data_parallel_step on replicas of `params` on `devices`; each replica's values after."""
    torch = _torch()
    replicas = [[_tensor(p, d, requires_grad=True) for p in params] for d in devices]
    held = [list(r) for r in replicas]
    Xt, yt = _tensor(X, "cpu"), _tensor(y, "cpu")
    returned = function(replicas, Xt, yt, [torch.device(d) for d in devices], float(lr), LOSSES[loss])
    return {"params": [[_array(p) for p in r] for r in held], "devices": [[str(p.device) for p in r] for r in held],
            "returned": _returned(returned), "X_after": _array(Xt), "y_after": _array(yt)}


# ---------------------------------------------------------------------------------------------
# The ring: one forked process per rank


def ring(function: Callable, inputs: list, backend: str = "gloo", timeout: float = RANK_TIMEOUT) -> dict:
    """Run `function(tensor)` on every rank of a fresh process group, once per tensor.

    inputs[r] is the list of arrays of rank r (the same shapes on every rank). Returns
    {"ranks": [per rank: values after each call, bytes sent per call, collectives called, what
    each call returned], "error": "" or what went wrong (an exception, a rank that never
    answered)}. No rank outlives the call."""
    from dlgrade.grader.boundary import wire

    n = len(inputs)
    fd, store = tempfile.mkstemp(prefix="dlgrade-ring-")
    os.close(fd)
    os.unlink(store)
    pipes, pids = [], []
    try:
        for rank in range(n):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the rank: never returns into the caller's stack
                status = 0
                try:
                    os.close(read_end)
                    os.setpgid(0, 0)
                    _quiet()
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    answer = _run_rank(function, rank, n, inputs[rank], store, backend, timeout)
                    with os.fdopen(write_end, "wb") as out:
                        out.write(wire.encode(answer))
                except BaseException:  # noqa: BLE001 - the parent reports a rank that did not answer
                    status = 1
                finally:
                    os._exit(status)
            os.close(write_end)
            pids.append(pid)
            pipes.append(read_end)
        answers = _collect(pipes, time.monotonic() + timeout)
    finally:
        for pid in pids:
            for target in (-pid, pid):  # the rank's own process group, then the rank itself
                try:
                    os.kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for p in pipes:
            try:
                os.close(p)
            except OSError:
                pass
        for leftover in (store,):
            if os.path.exists(leftover):
                os.unlink(leftover)
    crashed = [r for r, a in enumerate(answers) if a == "exited"]
    if crashed:
        return {"ranks": [], "error": f"rank {crashed[0]} of {n} exited without answering (it crashed, or called "
                                      f"sys.exit / os._exit)"}
    missing = [r for r, a in enumerate(answers) if a is None]
    if missing:
        names = ", ".join(str(r) for r in missing)
        return {"ranks": [], "error": f"rank{'s' if len(missing) > 1 else ''} {names} of {n} did not finish within "
                                      f"{timeout:g} s (a deadlock: every send needs its matching receive on the "
                                      f"other rank, in an order that cannot wait in a circle); every rank was stopped"}
    if any(a.get("error") == "not_implemented" for a in answers):
        raise NotImplementedError("ring_allreduce raises NotImplementedError")
    errors = [f"rank {r}: {a['error']}" for r, a in enumerate(answers) if a.get("error")]
    return {"ranks": [a for a in answers], "error": errors[0] if errors else ""}


def _quiet() -> None:
    """In a rank: nothing it prints or dumps (a rank stopped while its peers wait) reaches the
    caller's terminal or channel."""
    import faulthandler

    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _collect(pipes: list, deadline: float) -> list:
    """Each rank's decoded answer, or None for a rank that did not answer before the deadline."""
    from dlgrade.grader.boundary import wire

    buffers = {p: bytearray() for p in pipes}
    open_pipes = set(pipes)
    while open_pipes:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(list(open_pipes), [], [], left)
        for p in ready:
            chunk = os.read(p, 1 << 20)
            if chunk:
                buffers[p] += chunk
            else:
                open_pipes.discard(p)
    answers = []
    for p in pipes:
        if p in open_pipes:
            answers.append(None)
            continue
        if not buffers[p]:
            answers.append("exited")
            continue
        try:
            answers.append(wire.receive(_BytesReader(bytes(buffers[p]))))
        except (EOFError, wire.WireError):
            answers.append("exited")
    return answers


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def read(self, n: int) -> bytes:
        chunk = self.data[self.at:self.at + n]
        self.at += len(chunk)
        return chunk


def _run_rank(function: Callable, rank: int, n: int, arrays: list, store_path: str, backend: str,
              timeout: float) -> dict:
    """In a rank's process: join the group, wrap the point-to-point calls, call `function` on
    each array in turn, and describe what happened."""
    from datetime import timedelta

    torch = _torch()
    import torch.distributed as dist
    import torch.distributed.distributed_c10d as c10d

    torch.set_num_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    device = "cpu"
    if backend == "nccl":
        device = f"cuda:{rank}"
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, store=dist.FileStore(store_path, n), rank=rank, world_size=n,
                            timeout=timedelta(seconds=timeout))
    sent = [0]
    called: list[str] = []

    inside = [False]

    def counting(original):
        @functools.wraps(original)
        def wrapper(tensor, *args, **kwargs):
            if inside[0]:  # send is made of isend: count the outermost call only
                return original(tensor, *args, **kwargs)
            sent[0] += tensor.numel() * tensor.element_size()
            inside[0] = True
            try:
                return original(tensor, *args, **kwargs)
            finally:
                inside[0] = False
        return wrapper

    def trap(name, original):
        # Recorded, then done: the values are still judged, and the property says what was used.
        @functools.wraps(original)
        def collective(*args, **kwargs):
            called.append(name)
            return original(*args, **kwargs)
        return collective

    replacements = {name: counting(getattr(dist, name)) for name in ("send", "isend")}
    replacements.update({name: trap(name, getattr(dist, name)) for name in COLLECTIVES if hasattr(dist, name)})
    originals = {getattr(dist, name): new for name, new in replacements.items()}
    for module in (dist, c10d):
        for name, new in replacements.items():
            if hasattr(module, name):
                setattr(module, name, new)
    # `from torch.distributed import send` in the student's module bound the originals already.
    student_globals = getattr(function, "__globals__", {})
    for key, value in list(student_globals.items()):
        try:
            if value in originals:
                student_globals[key] = originals[value]
        except TypeError:
            continue
    called += sorted(_suspicious_names(function))

    values, sent_bytes, returned = [], [], []
    error = ""
    for array in arrays:
        tensor = _tensor(array, device)
        before = sent[0]
        try:
            result = function(tensor)
        except NotImplementedError:
            error = "not_implemented"
            break
        except Exception as e:  # noqa: BLE001 - reported to the checker as this rank's error
            error = f"ring_allreduce raised {type(e).__name__}: {e}"
            break
        values.append(_array(tensor))
        sent_bytes.append(sent[0] - before)
        returned.append(_returned(result))
    return {"values": values, "sent_bytes": sent_bytes, "collectives": list(dict.fromkeys(called)),
            "returned": returned, "error": error}


def _suspicious_names(function: Callable) -> set[str]:
    """Collectives and ways around the wrappers named in the function's own source."""
    try:
        tree = ast.parse(_dedented(function))
    except (OSError, TypeError, SyntaxError):
        return set()
    found = set()
    for node in ast.walk(tree):
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if name in COLLECTIVES or name in _BYPASS:
            found.add(f"{name} (in its source)")
    return found


def _dedented(function: Callable) -> str:
    import textwrap
    return textwrap.dedent(inspect.getsource(function))


ADAPTERS: dict[str, Callable] = {"list": list_allreduce, "ring": ring, "split": split, "step": step}
