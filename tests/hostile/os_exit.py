"""Attacks relu_forward with os._exit(0) inside the function: the worker process ends at once."""

import os


def relu_forward(x):
    os._exit(0)
