"""Attacks relu_forward with an infinite loop: the call must time out and the worker be stopped."""


def relu_forward(x):
    while True:
        pass
