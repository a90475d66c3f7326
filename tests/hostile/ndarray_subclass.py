"""Attacks relu_forward by returning a numpy subclass with a lying __eq__, a lying __array_ufunc__
(every ufunc says "all close") and a lying __array_finalize__ around garbage values."""

import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.shape(self))

    def __array_function__(self, func, types, args, kwargs):
        return True


def relu_forward(x):
    garbage = np.full(x.shape, -7.0).view(Liar)
    return garbage, None
