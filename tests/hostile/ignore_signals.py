"""Attacks relu_forward by ignoring SIGTERM, SIGALRM, SIGINT, SIGHUP and SIGXCPU, then looping.

The worker's own alarm cannot stop it: the trusted side must kill it from outside.
"""

import signal


def relu_forward(x):
    for name in ("SIGTERM", "SIGALRM", "SIGINT", "SIGHUP", "SIGXCPU", "SIGUSR1"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 0)
    while True:
        pass
