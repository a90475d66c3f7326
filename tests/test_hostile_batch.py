"""One end-to-end batch of hostile submissions, runtime and intake attacks together, beside correct
ones: `dlgrade grade` finishes, the correct submissions keep every point, no attack earns the
points of the exercise it attacks, and the trusted processes stay small.

The attacks themselves are tested one by one in test_hostile.py (runtime, both confinements) and
test_hostile_intake.py (paths, links, archives, outputs); this test is about their running
together in one pool of two processes, as a course's batch would.
"""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path

from dlgrade.checkers.registry import select
from dlgrade.grader.grading.batch import grade_batch
from dlgrade.grader.grading.gradebook import Gradebook
from helpers import copy_solutions
from test_hostile import CASES, marker, needs_confinement, plant

NAMES = ["relu_forward", "svm_loss"]
POINTS = sum(e.points for e in select(NAMES))
RELU_POINTS = select(["relu_forward"])[0].points
#: Runtime attacks on relu_forward: memory, processes, files, answers, the worker's words, time.
RUNTIME = ["forked_memory", "fork_bomb", "tmp_flood", "unlinked_tmp", "forged_answer", "forged_worker_error",
           "chmod_outside", "starve_itself", "tamper_checker", "seed_search", "sleepy_getattr"]


@needs_confinement
def test_a_batch_of_runtime_and_intake_attacks_leaves_the_correct_submissions_their_points(tmp_path):
    subs = tmp_path / "subs"
    for name in ("correct_a", "correct_b"):
        copy_solutions(subs / name)
    mark = marker()
    for name in RUNTIME:
        plant(subs / f"attack_{name}", name, CASES[name], mark)
    with zipfile.ZipFile(subs / "zip_slip.zip", "w") as z:
        z.writestr("../../owned.py", "owned = 1")
    (subs / "link_to_classmate").symlink_to(subs / "correct_a")
    db = tmp_path / "book.sqlite"

    with TrustedPeak() as trusted:
        summary = grade_batch(subs, NAMES, db, jobs=2, seed=11, timeout=3.0, progress=False)

    assert summary["submissions"] == 2 + len(RUNTIME) + 2
    with Gradebook(db) as book:
        results = {r["name"]: r for r in book.results()}
    assert len(results) == summary["submissions"], sorted(results)
    for name in ("correct_a", "correct_b"):
        assert (results[name]["status"], results[name]["score"]) == ("graded", POINTS), results[name]
    for name in RUNTIME:
        result = results[f"attack_{name}"]
        relu = {e["name"]: e for e in result.get("exercises", [])}.get("relu_forward")
        earned = relu["points"] if relu else 0.0
        assert earned == 0, f"{name} earned {earned} of relu_forward's {RELU_POINTS} points"
    assert all(results[n]["score"] == 0 for n in results if not n.startswith(("correct", "attack"))), \
        {n: (r["status"], r["score"]) for n, r in results.items()}
    assert not list(tmp_path.parent.glob("owned*")) and not list(tmp_path.glob("**/owned.py"))
    assert trusted.peak < 1 << 30, f"a trusted process held {trusted.peak >> 20} MiB"


class TrustedPeak:
    """The largest resident memory of this process and of the batch's pool processes (forked by
    multiprocessing's forkserver; the sandboxed workers they start are not trusted, and left
    out), sampled every 0.1 s."""

    def __enter__(self) -> "TrustedPeak":
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.1):
            for pid in [me, *_multiprocessing_descendants(me)]:
                try:
                    rss = next(int(line.split()[1]) << 10 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                               if line.startswith("VmRSS:"))
                except (OSError, StopIteration, ValueError):
                    continue
                self.peak = max(self.peak, rss)


def _multiprocessing_descendants(root: int) -> list[int]:
    parents, commands = {}, {}
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit():
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and b"multiprocessing" in commands.get(pid, b""):
                found.append(pid)
                frontier.append(pid)
    return found
