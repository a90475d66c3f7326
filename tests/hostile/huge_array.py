"""Attacks relu_forward by returning an array of 1e9 float64 elements (8 GB once copied): a
broadcast view costs the student nothing, but copying it for the answer would."""

import numpy as np


def relu_forward(x):
    return np.broadcast_to(np.float64(1.0), (10**9,)), None
