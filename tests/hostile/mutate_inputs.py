"""Attacks relu_forward by mutating its input so that the garbage it returns would match a
reference computed from the mutated input (x := 0, out := 0): the checker must judge against the
input it sent, not the one it gets back."""

import numpy as np


def relu_forward(x):
    x[...] = 0.0
    return np.zeros_like(x), x
