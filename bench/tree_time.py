"""The wall and CPU time of a command and of every process it starts, orphans included.

A command's CPU time is counted in its parent's only for the processes that were waited for: a
forkserver that a batch's pool forks from, or a daemon left to exit on its own, is reparented
to init and its time lost. Run as a child subreaper (Linux), this process becomes the parent of
every such orphan, waits for them all, and so counts the whole tree.

    python bench/tree_time.py RESULT.json COMMAND...

writes {"returncode", "wall_s", "cpu_s", "user_s", "system_s"} to RESULT.json (cpu_s null where
the platform has no subreaper); the command's output goes where this process's goes.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
#: How long the orphans may take to exit after the command has (a forkserver sees its end of a pipe close).
ORPHANS_GRACE_S = 60.0


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _reap_orphans(grace_s: float) -> bool:
    """Wait for every remaining descendant; False when some outlive `grace_s`."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def main(argv: list[str]) -> int:
    result, command = Path(argv[0]), argv[1:]
    counted = _become_subreaper()
    start = time.perf_counter()
    returncode = subprocess.run(command).returncode
    wall = time.perf_counter() - start
    counted = _reap_orphans(ORPHANS_GRACE_S) and counted
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.write_text(json.dumps({"returncode": returncode, "wall_s": wall,
                                  "cpu_s": usage.ru_utime + usage.ru_stime if counted else None,
                                  "user_s": usage.ru_utime, "system_s": usage.ru_stime}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
