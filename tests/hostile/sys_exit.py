"""Attacks relu_forward with sys.exit(0) inside the function: SystemExit must be a verdict, not an exit."""

import sys


def relu_forward(x):
    sys.exit(0)
