"""Attacks relu_forward by deleting layers.py from the submission altogether.

The test removes the module instead of appending this file: every exercise of layers.py is
"missing" (the file is not found); losses.py keeps its points.
"""
