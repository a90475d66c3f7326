"""Grading side by side on one machine, and checking an exercise again *alone*.

Budgets are CPU time, so a busy machine does not shorten them; only the generous wall-clock
allowance, kept against sleeps and deadlocks, can run out because the machine is busy. When it
does (a call got little CPU while it was ready to run), the exercise is checked again once, alone:
no other exercise of this batch runs on the machine meanwhile. What "alone" can promise is this
batch's own work; other users' processes are not ours to stop.

Every exercise check of a batch holds a shared lock on a file of the batch's private folder; a
check run alone holds it exclusively. A second lock, the gate, is taken briefly before the shared
one, and held by the exclusive check while it waits, so that checks that keep starting cannot
keep it waiting for ever. Outside a batch (one `dlgrade check`) there is nothing to share with, and
both are no-ops. The files are in a folder no submission can see.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

_folder: Path | None = None
_files: dict[str, int] = {}


def share(folder: Path | str | None) -> None:
    """Take part in the batch whose lock files are in `folder` (None: no batch)."""
    global _folder
    folder = Path(folder) if folder is not None else None
    if folder != _folder:
        for fd in _files.values():
            os.close(fd)
        _files.clear()
        _folder = folder if folder is not None and folder.is_dir() else None


def _fd(name: str) -> int:
    if name not in _files:
        _files[name] = os.open(_folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    return _files[name]


@contextlib.contextmanager
def shared() -> Iterator[None]:
    """Hold the machine together with the batch's other checks."""
    if _folder is None:
        yield
        return
    gate, machine = _fd("gate"), _fd("machine")
    fcntl.flock(gate, fcntl.LOCK_EX)
    fcntl.flock(machine, fcntl.LOCK_SH)
    fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(machine, fcntl.LOCK_UN)


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """Hold the machine alone: wait for the batch's checks in progress to end, and keep new
    ones from starting, until the block ends."""
    if _folder is None:
        yield
        return
    gate, machine = _fd("gate"), _fd("machine")
    fcntl.flock(gate, fcntl.LOCK_EX)
    try:
        fcntl.flock(machine, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(machine, fcntl.LOCK_UN)
    finally:
        fcntl.flock(gate, fcntl.LOCK_UN)
