"""Attacks relu_forward by connecting to a server on the grading machine's loopback (127.0.0.1:__PORT__,
a listener the test starts). Where it connects it sends the marker and returns the right answer;
in the sandbox (its own network namespace) the connection must fail, so it returns garbage.
"""

import socket

import numpy as np


def relu_forward(x):
    try:
        with socket.create_connection(("127.0.0.1", __PORT__), timeout=0.5) as s:
            s.sendall(b"__MARKER__")
        return np.maximum(x, 0), x
    except OSError:
        return x * 0 - 1.0, None
