"""Attacks the trusted side's reading of answers: relu_forward finds the worker's answer pipe among
its own file descriptors and writes, before the real answer, a forged message announcing an
80 MB header made of `[],[],...` (some 4 GB of Python objects if it were parsed), then streams
it. The trusted side must refuse it from its announced size, without reading or parsing it, and
make it this call's verdict; the test measures the trusted process's peak memory.
"""

import fcntl
import os
import stat
import struct

import numpy as np

SIZE = 80_000_000


def _answer_pipes():
    found = []
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                found.append(fd)
        except OSError:
            continue
    return found


def relu_forward(x):
    header = b"[" + b"[]," * ((SIZE - 4) // 3) + b"[]]"
    message = memoryview(struct.pack(">Q", len(header)) + header)
    for fd in _answer_pipes():
        try:
            while message:
                message = message[os.write(fd, message):]
        except OSError:
            pass
    return np.maximum(x, 0), x
