"""Attacks relu_forward by raising an exception on every call."""


def relu_forward(x):
    raise ValueError("hostile: this is not an answer")
