"""Attacks what the grading profile repeats of a worker's words: the worker runs in the submission's
own process, so the submission replaces the function that turns its errors into answers and
reports, on every failing call, errors of the kinds only the trusted side may report (a crash, a
stop, a timeout) whose messages carry its marker (__MARKER__) and a long "exit status" number,
as a channel for the hidden inputs. The verdict must be in the checker's own words: no marker, no
number the worker chose.
"""

import sys

import numpy as np

_FORGED = [{"kind": "crash", "message": "exit status 1234567890123 __MARKER__ killed by SIGLEAKED__MARKER__",
            "traceback": ""},
           {"kind": "timeout", "message": "did not return within 98765432.1 s __MARKER__", "traceback": ""},
           {"kind": "crash", "message": "relu_forward was stopped: __MARKER__", "traceback": ""}]
_count = [0]


def _forge(error):
    if error is None:
        return None
    _count[0] += 1
    return _FORGED[_count[0] % len(_FORGED)]


for _module in list(sys.modules.values()):
    if "worker" in getattr(_module, "__name__", "") and callable(getattr(_module, "_error", None)):
        _module._error = _forge


def relu_forward(x):
    if x.dtype == np.float32 or x.size % 2:
        raise ValueError("fails where it chooses, so that the forged errors are sent")
    return np.maximum(x, 0), x
