"""Attacks the time budget through the requests that ask whether a function exists: relu_forward is
deleted, and a module-level __getattr__ sleeps 60 s before saying there is no such attribute, so
every status request waits. That wait must count against the exercise's time like any other."""

import time

del relu_forward


def __getattr__(name):
    time.sleep(60)
    raise AttributeError(name)
