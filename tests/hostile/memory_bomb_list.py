"""Attacks relu_forward by growing a list of 64 MB arrays without end (one page of each written):
the memory limit must stop it long before the machine runs out."""

import numpy as np


def relu_forward(x):
    hoard = []
    while True:
        chunk = np.zeros(8 << 20)
        chunk[0] = len(hoard)
        hoard.append(chunk)
