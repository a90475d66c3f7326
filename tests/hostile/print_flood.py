"""Attacks relu_forward by printing gigabytes to standard output and error (print, without end)."""

import sys

LINE = "hostile output " * 4096


def relu_forward(x):
    while True:
        print(LINE)
        print(LINE, file=sys.stderr)
