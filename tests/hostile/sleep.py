"""Attacks relu_forward with time.sleep(1000): the call must time out."""

import time


def relu_forward(x):
    time.sleep(1000)
    return x, None
