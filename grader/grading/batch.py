"""Batch grading: many submissions, side by side, each result into the gradebook as it finishes.

`discover` (grader.grading.discovery) finds the submissions in a folder and brings each into the
release layout; `grade_batch` grades them through an engine (grader.grading.engines: a local
process pool, or Dask distributed) and records each result in the parent process as soon as its
future completes, so an interrupted batch resumes where it stopped, with nothing lost and nothing
counted twice.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from pathlib import Path
from typing import Any, Callable

from dlgrade.grader.grading.discovery import Discovered, discover
from dlgrade.grader.grading.engines import ENGINES, Engine, error_result, start_engine


def _drive(engine: Engine, queue: deque[Discovered], record: Callable[[str, dict], None], max_score: float) -> None:
    """Grade everything in `queue` through `engine`, calling `record` as each result arrives.

    A local pool breaks as a whole when one worker dies, failing every future in flight, so the
    submissions that were in flight are graded again one at a time: the one that kills its
    worker alone gets status "error", the others their scores. With Dask, or a pool of one, the
    future that fails is the submission at fault."""
    in_flight: dict[Future, tuple[Discovered, bool]] = {}
    suspects: deque[Discovered] = deque()  # in flight when the pool broke: to grade again, alone
    culprits: list[Discovered] = []  # alone when the pool broke
    broken = False

    def submit(sub: Discovered, alone: bool, back_to: deque[Discovered]) -> None:
        nonlocal broken
        try:
            in_flight[engine.submit(sub)] = (sub, alone)
        except BrokenExecutor:
            back_to.appendleft(sub)
            broken = True
        except (OSError, ValueError) as e:  # a submission that cannot be read or is too large to ship
            record(sub.name, error_result(str(e), max_score))

    while queue or suspects or in_flight:
        if not broken and suspects and not in_flight:
            submit(suspects.popleft(), True, suspects)
        elif not broken and not suspects:
            while queue and not broken and (engine.window is None or len(in_flight) < engine.window):
                submit(queue.popleft(), engine.window == 1, queue)
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED) if in_flight else (set(), set())
        for future in done:
            sub, alone = in_flight.pop(future)
            try:
                result = future.result()
            except BrokenExecutor:
                broken = True
                (culprits if alone else suspects).append(sub)
            except Exception as e:  # noqa: BLE001 - e.g. Dask's KilledWorker: this submission's error only
                record(sub.name, error_result(f"grading failed: {type(e).__name__}: {e}", max_score))
            else:
                record(sub.name, result)
        if broken and not in_flight:
            engine.restart()  # first, so that a machine whose pool cannot work blames no submission
            broken = False
            for sub in culprits:
                record(sub.name, error_result("the grading process died while grading this submission", max_score))
            culprits.clear()


# -- the batch -------------------------------------------------------------------------------------


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch; `summary` says what was recorded before it (all of it kept)."""

    def __init__(self, summary: dict[str, Any]):
        super().__init__("batch interrupted")
        self.summary = summary


class UnknownSubmissions(KeyError):
    """Submissions named to regrade that the folder does not hold."""


class GradebookMismatch(ValueError):
    """The gradebook holds results graded with other exercises or another seed."""


def grade_batch(submissions_dir: Path | str, names: list[str], db_path: Path | str, jobs: int | None = None,
                engine: str = "local", scheduler: str | None = None, timeout: float = 60.0, regrade: bool = False,
                seed: int | None = None, sandbox: bool = True, progress: bool = True,
                only: list[str] | None = None) -> dict[str, Any]:
    """Grade every submission in `submissions_dir` (see `discover`) on the exercises or
    assignments `names` (none: all) at the grading profile, into the gradebook `db_path`.

    Submissions already in the gradebook are skipped unless `regrade`. engine: "local" (a pool
    of `jobs` processes, default one per CPU) or "dask" (a LocalCluster of `jobs` workers, or
    the cluster whose scheduler is at `scheduler`). timeout: CPU seconds per exercise in student
    code. seed: the course seed (default: DLGRADE_COURSE_SEED, else the profile's). progress:
    a progress bar on stderr. only: grade again just these submissions (by name), into the same
    gradebook, whether or not they are recorded; UnknownSubmissions names any the folder lacks.

    A Gradescope bulk export's `submission_metadata.yml` is read for who each submission is by
    (grader.grading.roster), kept in the gradebook; a file that cannot be read is a warning.

    Returns the summary: submissions, graded (now), skipped, errors (now), mean, median and
    max_score (over every recorded result of this folder), seconds, db, interrupted (False),
    warnings (lines).
    Raises KeyError for unknown names, GradebookMismatch when the gradebook was graded with
    other exercises or seed (unless `regrade`), RuntimeError when the local pool's processes
    die even on a no-op, OSError when the Dask scheduler cannot be reached, and
    BatchInterrupted on Ctrl-C, after stopping the workers; every result recorded before it stays.
    """
    from dlgrade.assignments import active_source
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.grader.grading.gradebook import Gradebook

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: {' or '.join(ENGINES)}")
    start = time.monotonic()
    exercises = select(list(names))
    exercise_names = [e.name for e in exercises]
    assignments = list(dict.fromkeys(e.assignment for e in exercises))
    max_score = float(sum(e.points for e in exercises))
    seed = get_profile("grading", seed).seed
    jobs = jobs or os.cpu_count() or 1
    counts = {"graded": 0, "errors": 0}
    warnings: list[str] = []

    with Gradebook(db_path) as book, tempfile.TemporaryDirectory(prefix="dlgrade-batch-") as work:
        previous = book.meta()
        settings = (previous.get("exercises"), previous.get("seed"))
        if not regrade and book.graded() and settings != (exercise_names, seed):
            # --regrade-only too: a gradebook graded two ways would mix its scores
            raise GradebookMismatch(f"{db_path} holds results graded on other exercises or with another seed; "
                                    "grade into another gradebook, or regrade everything with --regrade")
        book.set_meta(assignments=assignments, exercises=exercise_names, profile="grading", seed=seed)

        def summary(interrupted: bool) -> dict[str, Any]:
            names_here = {s.name for s in found}
            scores = [r["score"] for r in book.results() if r["name"] in names_here]
            return {"submissions": len(found), "graded": counts["graded"], "skipped": len(found) - len(todo),
                    "errors": counts["errors"], "mean": statistics.fmean(scores) if scores else None,
                    "median": statistics.median(scores) if scores else None, "max_score": max_score,
                    "seconds": time.monotonic() - start, "db": str(db_path), "interrupted": interrupted,
                    "warnings": warnings}

        found: list[Discovered] = []
        todo: list[Discovered] = []
        try:
            found = discover(submissions_dir, work, assignments)
            warnings += _record_metadata(Path(submissions_dir), book)
            if only is not None:
                unknown = sorted(set(only) - {s.name for s in found})
                if unknown:
                    raise UnknownSubmissions(f"no submission {', '.join(map(repr, unknown))} in {submissions_dir}")
                todo = [s for s in found if s.name in set(only)]
            else:
                done = set() if regrade else book.graded()
                todo = [s for s in found if s.name not in done]
            with _ProgressBar(progress, len(todo), len(found) - len(todo)) as advance:
                def record(name: str, result: dict[str, Any]) -> None:
                    book.record(name, result)
                    counts["graded"] += 1
                    counts["errors"] += result["status"] == "error"
                    advance(counts["errors"])

                for sub in todo:
                    if sub.problem:
                        record(sub.name, error_result(sub.problem, max_score))
                queue = deque(s for s in todo if not s.problem)
                if queue:
                    # The machine locks are shared by the processes of this machine: not with a
                    # remote cluster's workers.
                    locks = Path(work) / "machine"
                    locks.mkdir()
                    # The course goes with each task: a worker process may have been started for another.
                    task = (exercise_names, seed, timeout, sandbox, None if scheduler else str(locks), active_source())
                    runner = start_engine(engine, jobs, scheduler, task)
                    try:
                        _drive(runner, queue, record, max_score)
                    except BaseException:
                        runner.stop(now=True)
                        raise
                    runner.stop(now=False)
        except KeyboardInterrupt:
            raise BatchInterrupted(summary(interrupted=True)) from None
        return summary(interrupted=False)


def _record_metadata(submissions_dir: Path, book) -> list[str]:
    """Who each submission of a Gradescope bulk export is by, from its submission_metadata.yml,
    into the gradebook; the warnings (a file that cannot be read)."""
    from dlgrade.grader.grading.roster import METADATA_FILE, RosterError, gradebook_names, read_gradescope_metadata

    path = submissions_dir / METADATA_FILE
    if not path.is_file() or path.is_symlink():
        return []
    try:
        book.set_students(gradebook_names(read_gradescope_metadata(path)))
    except RosterError as e:
        return [f"students' names and ids not read: {e}"]
    return []


class _ProgressBar:
    """A rich progress bar on stderr: count, rate per minute, elapsed time and ETA; entering it
    gives the function that counts one more submission done (given the errors so far)."""

    def __init__(self, enabled: bool, total: int, skipped: int):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task) -> Text:
                rate = "–" if task.speed is None else f"{task.speed * 60:.1f}"
                return Text(f"{rate}/min", style="progress.data.speed")

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 console=Console(stderr=True), disable=not enabled, speed_estimate_period=600)
        self.enabled, self.total, self.skipped = enabled, total, skipped

    def __enter__(self) -> Callable[[int], None]:
        self.progress.start()
        if self.enabled and self.skipped:
            self.progress.console.print(f"skipping {self.skipped} submission(s) already in the gradebook")
        task = self.progress.add_task("grading", total=self.total)

        def advance(errors: int) -> None:
            description = f"grading ({errors} error{'s' * (errors > 1)})" if errors else "grading"
            self.progress.update(task, advance=1, description=description)
        return advance

    def __exit__(self, *exc) -> None:
        self.progress.stop()
