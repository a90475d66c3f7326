"""Attacks the limit on temporary files faster than any watchdog can look: relu_forward reserves
blocks with posix_fallocate (gigabytes per millisecond on ext4), 15 MiB per file under the
per-file limit, 2 GiB in all against a limit of 256 MiB. Where the reservations succeed, it
returns the right answer.
"""

import os
import tempfile

import numpy as np

_done = []


def _reserve(files: int) -> bool:
    paths = []
    try:
        for i in range(files):
            fd, path = tempfile.mkstemp(prefix="__MARKER__")
            paths.append(path)
            os.posix_fallocate(fd, 0, 15 << 20)
            os.close(fd)
        return True
    except OSError:
        return False
    finally:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass


def relu_forward(x):
    if not _done:  # once per worker
        _done.append(_reserve(136))
    if _done[0]:
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
