"""Attacks the time accounting: each relu_forward call makes itself starve (SCHED_IDLE, the lowest
priority, pinned to one CPU), so that on a busy machine it is ready to run almost all the time
but gets almost no CPU, which a count of waiting that leaves out the time spent ready without a
CPU would never use up: it could stretch its grading without end while looking like the victim
of the machine. Where it can change its own scheduling, it returns the right answer.
"""

import os

import numpy as np


def _starve() -> bool:
    done = False
    for attempt in (lambda: os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)),
                    lambda: os.setpriority(os.PRIO_PROCESS, 0, 19),
                    lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})):
        try:
            attempt()
            done = True
        except OSError:
            continue
    return done


def relu_forward(x):
    if _starve():
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
