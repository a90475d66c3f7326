"""Attacks relu_forward by returning an array of dtype object whose elements compare equal to anything."""

import numpy as np


class Anything:
    def __eq__(self, other):
        return True

    def __float__(self):
        return 0.0


def relu_forward(x):
    out = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape):
        out[index] = Anything()
    return out, None
