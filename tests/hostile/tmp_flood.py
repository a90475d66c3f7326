"""Attacks the memory limit through files: it writes 300 MiB into /dev/shm and 300 MiB into /tmp
(files of 15 MiB, under the per-file limit), named with the marker (__MARKER__). Where both
succeed it returns the right answer. The files must count against the submission (bounded
private /tmp and /dev/shm with bubblewrap, no /dev/shm and a bounded private folder with Landlock),
and be gone when the worker ends.
"""

import os
import tempfile

import numpy as np

CHUNK = b"\0" * (15 << 20)


def _fill(folder, total=300 << 20):
    written = 0
    try:
        for i in range(total // len(CHUNK) + 1):
            with open(os.path.join(folder, f"__MARKER__-{i}"), "wb") as f:
                f.write(CHUNK)
            written += len(CHUNK)
    except OSError:
        pass
    return written >= total


def relu_forward(x):
    if _fill("/dev/shm") and _fill(tempfile.gettempdir()) and _fill("/tmp"):
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
