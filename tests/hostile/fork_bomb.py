"""Attacks relu_forward with a fork bomb in the function body.

It forks in a loop until fork fails (the process limit); then the original and every child return
garbage, as copies of the worker that all read requests and write answers on the same pipes.
Each child names itself with the marker (__MARKER__, prctl PR_SET_NAME), so the test can find
any that survive grading.
"""

import ctypes
import os


def relu_forward(x):
    for _ in range(100000):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            ctypes.CDLL(None).prctl(15, b"__MARKER__", 0, 0, 0)
    return x * 0 - 1.0, None
