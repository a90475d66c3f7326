"""Attacks softmax (losses.py) by returning an np.matrix (a numpy subclass whose operators differ)
filled with garbage."""

import numpy as np


def softmax(x):
    return np.matrix(np.full(x.shape, 0.5))
