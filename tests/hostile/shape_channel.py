"""Attacks the grading profile's secrecy through numbers the submission chooses: relu_forward
returns an empty array (no bytes on the wire) whose shape spells out the bits of its hidden input,
(0, a, b) with a and b of up to 31 bits each. Where
examples are hidden, the verdict may name only shapes a mistake gives and small counts: no
number of the submission's choosing of more than a few digits.
"""

import numpy as np

_SEEN = []


def relu_forward(x):
    _SEEN.append(float(np.ravel(x)[0]) if x.size else 0.0)
    bits = int(np.array(_SEEN[0]).view(np.int64))
    high, low = (bits >> 33) & 0x7FFFFFFF, (bits >> 2) & 0x7FFFFFFF
    return np.zeros((0, high + 1234567, low + 1234567), dtype=np.int8), None
