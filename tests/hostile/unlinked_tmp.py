"""Attacks the limit on temporary files with files that no folder lists: relu_forward writes
600 MiB into its temporary folder in files of 16 MiB (under the per-file limit), removing each
while it keeps it open, so that a watchdog that walks the folder sees nothing while the disk
space stays taken. Where all of it is written, it returns the right answer.
"""

import os
import tempfile

import numpy as np

_HELD = []


def _fill(mib: int) -> bool:
    chunk = b"\x01" * (1 << 20)
    try:
        for _ in range(mib // 16):
            fd, path = tempfile.mkstemp(prefix="__MARKER__")
            os.unlink(path)
            _HELD.append(fd)
            for _ in range(16):
                os.write(fd, chunk)
        return True
    except OSError:
        return False


_filled = []


def relu_forward(x):
    if not _filled:  # once per worker
        _filled.append(_fill(600))
    if _filled[0]:
        return np.maximum(x, 0), x
    return x * 0 - 1.0, None
