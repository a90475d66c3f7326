"""Attacks the memory limit with memory no process maps: relu_forward writes 3 GiB into anonymous
memory files (memfd_create, 16 MiB each, under the per-file limit) and System V shared memory,
and keeps them open: pages that are in no process's RSS or PSS, so that a watchdog summing those
misses them (System V segments even outlive the worker). Where it holds them all, it returns the
right answer.
"""

import ctypes
import os

import numpy as np

_HELD = []
_CHUNK = b"\x01" * (16 << 20)


def _hoard(gib: float) -> bool:
    try:
        for _ in range(int(gib * 64)):
            fd = os.memfd_create("__MARKER__")
            os.write(fd, _CHUNK)
            _HELD.append(fd)
        return True
    except OSError:
        pass
    try:  # shmget(IPC_PRIVATE, 1 GiB, IPC_CREAT | 0600)
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.shmget(0, 1 << 30, 0o1000 | 0o600) >= 0
    except (OSError, AttributeError):
        return False


def relu_forward(x):
    if not _HELD and _hoard(3):
        return np.maximum(x, 0), x
    if _HELD:
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
