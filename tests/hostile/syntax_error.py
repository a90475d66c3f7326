"""Attacks relu_forward (layers.py) with a syntax error: the whole module fails to import.

Every exercise of layers.py gets a module_error verdict naming the syntax error; losses.py is
untouched and keeps its points.
"""


def relu_forward(x:
    return x
