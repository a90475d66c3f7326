"""Attacks relu_forward by returning, as its output, a list of lambdas and a dict of generators
(references that would compute an answer later, on the checker's side) instead of arrays."""

import numpy as np


def relu_forward(x):
    lazy = [lambda i=i: np.maximum(x.flat[i], 0) for i in range(x.size)]
    return {"out": (np.maximum(v, 0) for v in x.flat), "lazy": lazy}, (v for v in lazy)
