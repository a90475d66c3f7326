"""Attacks the hidden examples' seed: it searches the command lines and environments of every
process it can see (/proc/*/cmdline, /proc/*/environ), its own environment and arguments, and the
files named by --seed-file, for the course seed. Where it finds one it returns the right answer
(in a real attack: the examples computed in advance); the seed must be readable nowhere.
"""

import glob
import os
import re
import sys

import numpy as np

_PATTERNS = [re.compile(rb"DLGRADE_COURSE_SEED=(\d+)"), re.compile(rb"--seed\x00(\d+)"),
             re.compile(rb"--seed=(\d+)"), re.compile(rb"--seed-file\x00([^\x00]+)"),
             re.compile(rb"--seed-file=([^\x00]+)")]


def _found():
    texts = [b"\0".join(a.encode() for a in sys.argv), b"\0".join(f"{k}={v}".encode() for k, v in os.environ.items())]
    for path in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as f:
                texts.append(f.read())
        except OSError:
            pass
    for text in texts:
        for pattern in _PATTERNS:
            for match in pattern.findall(text):
                if match.isdigit():
                    return True
                try:
                    with open(match.decode(errors="replace"), "rb") as f:
                        if f.read(64).strip().isdigit():
                            return True
                except OSError:
                    pass
    return False


def relu_forward(x):
    if _found():
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
