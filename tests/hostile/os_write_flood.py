"""Attacks relu_forward by writing gigabytes straight to file descriptors 1 and 2 (os.write, without end)."""

import os

CHUNK = b"hostile output " * 65536


def relu_forward(x):
    while True:
        os.write(1, CHUNK)
        os.write(2, CHUNK)
