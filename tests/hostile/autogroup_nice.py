"""Attacks the time accounting through /proc rather than a system call: relu_forward makes itself
dumpable again (a worker that changed its uid is not) and raises the nice value of its session's
autogroup through /proc/self/autogroup, so that it starves on a busy machine and its waits look
like the machine's fault. Where the write succeeds, it returns the right answer.
"""

import ctypes
import time

import numpy as np


def _starve() -> bool:
    try:
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass
    for _ in range(20):  # the kernel allows one change per 100 ms
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write("19")
            return True
        except BlockingIOError:
            time.sleep(0.11)
        except OSError:
            return False
    return False


def relu_forward(x):
    if _starve():
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
