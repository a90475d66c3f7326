"""Attacks the limits through files: it writes 300 MiB into /tmp, then into /dev/shm (files of 15 MiB,
under the per-file limit), named with the marker (__MARKER__). Where either succeeds it returns
the right answer (it writes once per worker). Temporary files must be bounded per submission (private /tmp and /dev/shm of
bounded size with bubblewrap; a private folder of bounded size and no /dev/shm with Landlock),
count against its memory, and be gone when the worker ends.
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


_stored = []


def relu_forward(x):
    if not _stored:  # once per worker
        _stored.append(_fill(tempfile.gettempdir()) or _fill("/tmp") or _fill("/dev/shm"))
    if _stored[0]:
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
