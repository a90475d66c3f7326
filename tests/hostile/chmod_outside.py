"""Attacks what Landlock does not mediate, a file's metadata: relu_forward changes the mode (to the
mode it already has, so that nothing is harmed) of files outside its sandbox: the checker's own
repository (__REPO__), the Python installation's numpy and the temporary folder of the machine.
A worker that keeps root's file-system identity owns root's files, and Landlock alone would let
it chmod them (make a secret readable, a binary setuid, a package unreadable to the next
submission). Where any change succeeds it returns the right answer.
"""

import os

import numpy as np

_TARGETS = ["__REPO__/pyproject.toml", "__REPO__", os.path.dirname(np.__file__), "/tmp"]


def _changed_one() -> bool:
    for path in _TARGETS:
        try:
            mode = os.stat(path).st_mode & 0o7777
            os.chmod(path, mode)
            return True
        except OSError:
            continue
    return False


def relu_forward(x):
    if _changed_one():
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
