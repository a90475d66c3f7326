"""Attacks the network confinement through sockets Landlock does not cover: relu_forward creates a
unix socket and tries to connect to every socket it can name under /tmp, /run and /var/run (a
root-only socket in a 0700 folder is reachable to a worker that keeps root's file-system
identity), and sends a UDP datagram to the machine's loopback. Where it can create a unix or a
UDP socket outside a network of its own, it returns the right answer.
"""

import os
import socket

import numpy as np


def _reached() -> bool:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return False
    with s:
        for folder in ("/tmp", "/run", "/var/run"):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                try:
                    s.connect(os.path.join(folder, name))
                    s.sendall(b"__MARKER__")
                    return True
                except OSError:
                    continue
    return True


def relu_forward(x):
    if _reached():
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
