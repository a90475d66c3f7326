"""Attacks the memory limit per process: four forked children (named with the marker, __MARKER__)
allocate and touch 1.25 GiB each, 5 GiB together under a 2 GiB limit per submission. Where all
four hold their memory at once it returns the right answer; the limit must hold for the whole
process tree (the worker and everything it forked), so the tree is stopped instead.
"""

import ctypes
import os
import select
import time

import numpy as np

GIB = 1 << 30


def relu_forward(x):
    read_end, write_end = os.pipe()
    for _ in range(4):
        if os.fork() == 0:
            try:
                ctypes.CDLL(None).prctl(15, b"__MARKER__", 0, 0, 0)
                block = np.ones(int(1.25 * GIB) // 8)
                os.write(write_end, b"1")
                time.sleep(1000)
                block[0] = 0
            finally:
                os._exit(0)
    held, deadline = b"", time.monotonic() + 20
    while len(held) < 4 and time.monotonic() < deadline:
        if select.select([read_end], [], [], 0.1)[0]:
            held += os.read(read_end, 4)
    if len(held) >= 4:
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
