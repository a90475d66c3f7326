"""Attacks relu_forward by ignoring SIGTERM, SIGALRM, SIGPROF, SIGINT, SIGHUP and SIGXCPU, cancelling
the worker's timers, then looping.

The worker's own timers cannot stop it: the trusted side must kill it from outside.
"""

import signal


def relu_forward(x):
    for name in ("SIGTERM", "SIGALRM", "SIGPROF", "SIGINT", "SIGHUP", "SIGXCPU", "SIGUSR1"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    for timer in (signal.ITIMER_REAL, signal.ITIMER_PROF, signal.ITIMER_VIRTUAL):
        signal.setitimer(timer, 0)
    while True:
        pass
