"""Attacks relu_forward by opening a connection to a public address.

It looks for a network interface other than loopback (proof of network access without sending a
packet anywhere), then tries a TCP connection to 192.0.2.1:80 (TEST-NET-1, documentation-only,
routed nowhere). Either success returns the right answer; in the sandbox both fail.
"""

import errno
import socket

import numpy as np


def _network():
    if any(name != "lo" for _, name in socket.if_nameindex()):
        return True
    try:
        with socket.create_connection(("192.0.2.1", 80), timeout=0.3):
            return True
    except OSError as e:
        return e.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, None)


def relu_forward(x):
    if _network():
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
