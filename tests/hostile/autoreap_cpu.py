"""Attacks the CPU-time accounting: each of the first 24 relu_forward calls burns a quarter of a
second of CPU in a child process that the kernel reaps by itself (SIGCHLD ignored), so that its
time would be added to no parent's count of reaped children: twice the exercise's budget in
all, out of sight. The sandbox refuses to ignore SIGCHLD (and the count charges such children
what they were last seen using).
"""

import os
import signal
import time

import numpy as np

_calls = [0]


def _burn_in_child(seconds: float) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    r, w = os.pipe()
    if os.fork() == 0:
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
        os._exit(0)
    os.close(w)
    while os.read(r, 1):  # until the child is gone
        pass
    os.close(r)


def relu_forward(x):
    _calls[0] += 1
    if _calls[0] <= 24:
        _burn_in_child(0.25)
    return np.maximum(x, 0), x
