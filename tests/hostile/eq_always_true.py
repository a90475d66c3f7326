"""Attacks relu_forward by returning an object whose __eq__ (and every comparison) is always True."""


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __array__(self, dtype=None, copy=None):
        raise TypeError("no")


def relu_forward(x):
    return AlwaysEqual(), None
