"""Attacks the process limit by shipping an extra, empty a7_distributed/ folder beside a1_backprop/
(a7's manifest allows more processes), then forking 30 sleeping children (named with the marker,
__MARKER__) in relu_forward. Where all 30 start it returns the right answer: the limits must come
from the assignment graded (a1: 16 processes), never from what the submission ships.
"""

import ctypes
import os
import time

import numpy as np

_children = []


def relu_forward(x):
    while len(_children) < 30:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            ctypes.CDLL(None).prctl(15, b"__MARKER__", 0, 0, 0)
            time.sleep(1000)
            os._exit(0)
        _children.append(pid)
    if len(_children) >= 30:
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
