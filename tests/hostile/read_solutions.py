"""Attacks relu_forward by reading the instructor's solution and the reference by absolute path.

It opens __REPO__/assignments/a1_backprop/layers.py and execs it to get the right answer; failing
that it tries __REPO__/reference/layers.py and the installed copies of `assignments` and
`reference`. Where any of them can be read it returns the right answer (a leak would earn the
point); in the sandbox every read must fail, so it returns garbage and scores zero.
"""

import glob
import os

import numpy as np


def _leak():
    for path in ["__REPO__/assignments/a1_backprop/layers.py", *glob.glob("/**/assignments/a1_backprop/layers.py")[:5]]:
        try:
            namespace = {}
            with open(path) as f:
                exec(compile(f.read(), path, "exec"), namespace)
            return namespace["relu_forward"]
        except Exception:
            pass
    for path in ["__REPO__/reference/layers.py", "__REPO__/checkers/specs/a1_backprop/__init__.py"]:
        try:
            with open(path) as f:
                if f.read(100):
                    return lambda x: (np.maximum(x, 0), x)
        except OSError:
            pass
    return None


def relu_forward(x):
    solution = _leak()
    if solution is not None:
        return solution(x)
    return x * 0 - 1.0, None
