"""Attacks relu_forward by leaving a process behind: on its first call in a worker, a double fork
with setsid, whose grandchild closes its inherited descriptors and execs a long sleep named with
the marker (__MARKER__); every call returns garbage. After grading no process carrying the marker
may be left running. (Once per worker: one grandchild per call would soon reach the sandbox's
process limit, and fork would fail instead.)
"""

import os

import numpy as np


_spawned = []


def relu_forward(x):
    if _spawned:
        return x * 0 - 1.0, None
    _spawned.append(True)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.closerange(3, 1024)
                os.execv("/bin/sh", ["/bin/sh", "-c", "sleep 1000; : __MARKER__", "__MARKER__"])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return x * 0 - 1.0, None
