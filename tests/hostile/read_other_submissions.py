"""Attacks relu_forward by copying a classmate's code: it looks for other submissions through the
command lines of every process it can see (/proc/*/cmdline: `--path FOLDER`, folder arguments) and
through other sandboxes' copies in the temporary folder (dlgrade-sandbox-*), and execs the first
a1_backprop/layers.py it can read that defines relu_forward. Where it can, it returns the
classmate's answer; it must be able to read none of them.
"""

import glob
import os
import tempfile

import numpy as np


def _candidates():
    folders = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                folders += [a.decode(errors="replace") for a in f.read().split(b"\0") if a.startswith(b"/")]
        except OSError:
            pass
    found = []
    for folder in folders:
        found += glob.glob(os.path.join(folder, "a1_backprop", "layers.py")) + glob.glob(os.path.join(folder, "layers.py"))
    for top in {tempfile.gettempdir(), "/tmp"}:
        found += glob.glob(os.path.join(top, "dlgrade-sandbox-*", "*", "submission", "a1_backprop", "layers.py"))
        found += glob.glob(os.path.join(top, "dlgrade-sandbox-*", "*", "*", "a1_backprop", "layers.py"))
    return [p for p in found if "__MARKER__" not in p]


def relu_forward(x):
    for path in _candidates():
        try:
            with open(path) as f:
                source = f.read()
            if "__MARKER__" in source or "def relu_forward" not in source:
                continue
            namespace = {}
            exec(compile(source, path, "exec"), namespace)
            return namespace["relu_forward"](x)
        except Exception:
            continue
    return x * 0 - 1.0, None
