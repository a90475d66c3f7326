"""Attacks relu_forward by allocating (and touching) 50 GB: the memory limit must refuse it."""

import numpy as np


def relu_forward(x):
    bomb = np.ones(50 * 10**9 // 8)
    return bomb, None
