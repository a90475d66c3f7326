"""Attacks relu_forward with the wrong signature (two required arguments): a TypeError at every call."""


def relu_forward(x, y):
    return x, y
