"""Attacks relu_forward by deleting it at the end of the module: the exercise is "missing"."""

del relu_forward
