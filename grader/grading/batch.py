"""Batch grading: many submissions, side by side, each result into the gradebook as it finishes.

`discover` finds the submissions in a folder (subfolders laid out like the release, `.zip` files,
a Gradescope bulk export) and brings each into the release layout; `grade_batch` grades them
through a `concurrent.futures` executor (a local process pool, or Dask distributed) and records
each result in the parent process as soon as its future completes, so an interrupted batch
resumes where it stopped, with nothing lost and nothing counted twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import statistics
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from pathlib import Path
from typing import Any, Callable, NamedTuple

from dlgrade.grader.boundary import intake

#: Modules imported by the forkserver once, before it forks the pool's workers (torch among them).
#: Not the CLI: under `python -m dlgrade.grader.cli` each worker runs it again as its main module.
PRELOAD = ["dlgrade.checkers.registry", "dlgrade.checkers.runner", "dlgrade.checkers.properties",
           "dlgrade.checkers.oracle", "dlgrade.grader.outputs.report", "dlgrade.grader.grading.batch"]


def grade_one(path: Path | str, names: list[str], seed: int | None = None, timeout: float = 60.0,
              sandbox: bool = True, machine_folder: str | None = None) -> dict[str, Any]:
    """Grade one submission folder (laid out like the release) at the grading profile.

    timeout: CPU seconds per exercise (see `grader.cli.run_checks`). machine_folder: the batch's
    folder of machine locks, where an exercise that lost its time to a busy machine is checked
    again alone (see grader.boundary.machine). Returns a JSON-ready dict: status ("graded", or "error"
    when the submission could not be graded at all), score, max_score, seconds,
    student_seconds (CPU seconds of student code), profile, seed (None when secret), exercises
    (as in `dlgrade check --json`) and error (a message, or None). Never raises for anything the
    submission does.
    """
    from dlgrade.grader.boundary import machine
    from dlgrade.grader.grading.session import run_checks, to_json

    machine.share(machine_folder)
    start = time.perf_counter()
    try:
        profile, results = run_checks(names, Path(path), "grading", seed, sandbox=sandbox, exercise_timeout=timeout)
    except Exception as e:  # noqa: BLE001 - one submission's failure must not stop the batch
        return error_result(f"{type(e).__name__}: {e}", seconds=time.perf_counter() - start)
    result = to_json(results, profile)
    result.update(status="graded", error=None, seconds=time.perf_counter() - start,
                  student_seconds=sum(r.student_seconds for r in results))
    return result


def error_result(message: str, max_score: float = 0.0, seconds: float = 0.0) -> dict[str, Any]:
    """The result of a submission that could not be graded at all: status "error", no points."""
    return {"status": "error", "score": 0.0, "max_score": max_score, "seconds": seconds, "student_seconds": 0.0,
            "profile": "grading", "seed": None, "exercises": [], "error": message}


# -- finding submissions ---------------------------------------------------------------------------


class Discovered(NamedTuple):
    """One submission: its name in the gradebook, the folder to grade (a fresh copy in the
    release layout), and why it cannot be graded (None when it can; then `path` is what was found)."""

    name: str
    path: Path
    problem: str | None = None


def discover(submissions_dir: Path | str, work_dir: Path | str,
             assignments: list[str] | None = None) -> list[Discovered]:
    """The submissions in `submissions_dir`, by name, each copied into a fresh folder of its own
    under `work_dir` in the release layout (`<assignment>/<module>.py`).

    Each subfolder is a submission named after it; each `.zip` file is one named after its stem
    (its full file name where a folder already has that name), unpacked with limits (see
    grader.boundary.intake.unpack_zip). A Gradescope bulk export (`submission_metadata.yml` beside one
    `submission_<id>/` folder per submission) is such a folder of subfolders, and so is nbgrader's
    `submitted/` folder (`<student>/<assignment>/*.ipynb`): notebooks are turned into modules
    (grader.grading.notebooks). Modules may sit in assignment folders, at the submission's top
    level, or one level down in a single wrapper folder; the assignment of top-level modules is
    the one of `assignments` (default: all in the registry) whose modules they are.

    Only the modules of those assignments are copied, and only through grader.boundary.intake: names
    checked, links contained. Whatever goes wrong with one submission (a link outside it, a
    broken zip or notebook, an unreadable or oversized file, modules that fit several
    assignments) is that submission's `problem`, never an exception.
    """
    submissions_dir, work_dir = Path(submissions_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    known = intake.known_modules(assignments)
    entries = sorted(p for p in submissions_dir.iterdir() if not intake.ignored(p.name))
    # A zip is named by its stem, or by its whole file name where another entry has that stem.
    stems = [p.name if p.is_dir() else p.stem for p in entries]
    names = intake.unique([intake.display_name(p.name if p.is_dir() or stems.count(p.stem) > 1 else p.stem)
                           for p in entries])
    found = []
    for name, entry in zip(names, entries):
        try:
            sub = _discover_one(name, entry, work_dir, known)
        except intake.Refused as e:
            sub = Discovered(name, entry, str(e))
        except Exception as e:  # noqa: BLE001 - whatever one submission holds is its own verdict
            sub = Discovered(name, entry, f"cannot read this submission: {type(e).__name__}: {e}")
        if sub is not None:
            found.append(sub)
    return found


def _discover_one(name: str, entry: Path, work_dir: Path, known) -> Discovered | None:
    """One entry of the submissions folder as a submission (None: not one, e.g. a roster file)."""
    is_zip = entry.suffix.lower() == ".zip" and not entry.is_dir()
    if entry.is_symlink():
        if not (is_zip or entry.is_dir()):
            return None
        raise intake.Refused(f"{intake.shown(entry.name)} is a link, not a submission of its own: not graded")
    if not (entry.is_dir() or is_zip):
        return None
    fresh = Path(tempfile.mkdtemp(prefix="submission-", dir=work_dir))  # named by no part of the submission
    folder = entry
    if is_zip:
        if not entry.is_file():  # a fifo or device with a zip's name
            raise intake.Refused(f"{intake.shown(entry.name)} is not a regular file: not graded")
        folder = fresh / "unpacked"
        try:
            intake.unpack_zip(entry, folder)
        except Exception as e:  # noqa: BLE001 - a refused, broken or truncated archive alike
            raise intake.Refused(f"cannot unpack {intake.shown(entry.name)}: {e}") from None
    return Discovered(name, _layout(intake.SubmissionTree(folder), fresh / "layout", known))


def _layout(tree, dest: Path, known) -> Path:
    """Copy the modules of the submission in `tree` into `dest` in the release layout: from
    notebooks (nbgrader's `<assignment>/*.ipynb`, or at the top level), from assignment folders,
    or from modules at the top level; each of these either in the folder itself or in a single
    wrapper folder inside it. Raises intake.Refused."""
    from dlgrade.grader.grading.notebooks import notebook_modules

    base = ""
    for _ in range(2):  # the folder itself, then a single wrapper folder inside it
        notebooks = _notebooks(tree, base, known)
        if notebooks:
            return intake.write_modules(notebook_modules(notebooks, known), dest, known)
        if any(tree.kind(_join(base, a)) == "dir" for a in known):
            files = {f"{a}/{n}": data for a in sorted(known) if tree.kind(_join(base, a)) == "dir"
                     for n, data in intake.module_files(tree, _join(base, a)).items()}
            return intake.write_modules(files, dest, known)
        top = intake.module_files(tree, base)
        owners = [a for a, modules in known.items() if {n[:-3] for n in top} & modules]
        if len(owners) > 1:
            raise intake.Refused(f"its modules could belong to {', '.join(sorted(owners))}; "
                                 "grade one assignment at a time (--assignment)")
        if owners:
            return intake.write_modules({f"{owners[0]}/{n}": data for n, data in top.items()}, dest, known)
        inside = [n for n in tree.names(base) if not intake.ignored(n)]
        if len(inside) != 1 or tree.kind(_join(base, inside[0])) != "dir":
            break
        base = _join(base, inside[0])
    # Nothing recognisable: graded as an empty submission, every exercise says which module is missing.
    return intake.write_modules({}, dest, known)


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def _notebooks(tree, base: str, known) -> list[tuple[str, bytes]]:
    """The notebooks of a submission, (path in it, bytes): nbgrader's submitted layout
    (`<student>/<assignment>/*.ipynb`), or notebooks at the submission's top level."""
    def in_folder(folder: str) -> list[str]:
        if tree.kind(folder) != "dir":
            return []
        return [_join(folder, n) for n in tree.names(folder) if n.endswith(".ipynb") and not intake.ignored(n)]

    found = [rel for a in sorted(known) for rel in in_folder(_join(base, a))] or in_folder(base)
    return [(rel, tree.read(rel, intake.MAX_NOTEBOOK_BYTES)) for rel in found]


# -- engines ---------------------------------------------------------------------------------------


class _LocalEngine:
    """A process pool of `jobs` workers, forked from a forkserver that has imported the checker
    (and torch) once. A worker that dies breaks the whole pool, so the engine can start afresh."""

    def __init__(self, jobs: int, task: tuple):
        self.jobs, self.task = jobs, task
        self.window = jobs  # one future per worker: when the pool breaks, every future in flight was running
        self.pool = self._new_pool()

    def _new_pool(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=_init_worker)

    def submit(self, sub: Discovered) -> Future:
        return self.pool.submit(grade_one, sub.path, *self.task)

    def restart(self) -> None:
        """A fresh pool in place of a broken one. Raises RuntimeError when the fresh pool cannot
        run a no-op either: then the fault is this machine's, not a submission's."""
        self.stop(now=True)
        self.pool = self._new_pool()
        try:
            self.pool.submit(os.getpid).result()
        except BrokenExecutor as e:
            self.stop(now=True)
            raise RuntimeError(f"the grading processes die on their own ({e}); nothing more was recorded") from e

    def stop(self, now: bool) -> None:
        if not now:
            self.pool.shutdown(wait=True)
            return
        # Stop at once: the submissions in flight are graded again on the next run. Before
        # Python 3.14 the pool has no public way to stop its workers, hence `_processes`.
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()


def _init_worker() -> None:
    """Set up a pool worker: Ctrl-C is the parent's to handle (it stops the workers itself), and
    torch keeps to one thread, since `jobs` workers already share the machine's cores."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


class _DaskEngine:
    """Dask distributed through its concurrent.futures executor: a LocalCluster of `jobs`
    single-threaded worker processes, or the cluster of `scheduler`. Each submission's files
    travel with its task, so the workers need no shared file system. Dask reschedules the task
    of a worker that died and fails only that task if it keeps killing workers."""

    window = None  # the scheduler balances the tasks; submit them all

    def __init__(self, jobs: int, scheduler: str | None, task: tuple):
        from distributed import Client, LocalCluster

        self.task = task
        self.cluster = None
        if scheduler is None:
            # Workers started while Ctrl-C is ignored keep ignoring it: as with the local pool, this
            # process handles it and stops them (rather than each printing its own traceback).
            with _ctrl_c_ignored():
                self.cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                                            dashboard_address=None, silence_logs=logging.ERROR)
        self.client = Client(scheduler or self.cluster)
        self.pool = self.client.get_executor(pure=False)

    def submit(self, sub: Discovered) -> Future:
        return self.pool.submit(_grade_shipped, _pack(sub.path), *self.task)

    def restart(self) -> None:
        raise AssertionError("a Dask executor does not break")

    def stop(self, now: bool) -> None:
        self.pool.shutdown(wait=not now)  # without waiting, it cancels what is pending
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@contextlib.contextmanager
def _ctrl_c_ignored():
    """SIGINT ignored while in the block, where this is the main thread (elsewhere it cannot be)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _pack(path: Path) -> dict[str, bytes]:
    """The modules of a (laid out) submission folder by relative path, read through
    grader.boundary.intake as the sandbox copies them. Raises intake.Refused (a ValueError)."""
    return intake.collect_modules(path, intake.known_modules())


def _grade_shipped(files: dict[str, bytes], names: list[str], seed: int | None, timeout: float,
                   sandbox: bool, machine_folder: str | None = None) -> dict[str, Any]:
    """grade_one on a submission sent as its files, written into a scratch folder of the worker
    (every path checked again by grader.boundary.intake before it is written)."""
    import warnings

    # The Dask worker's own threads use the random module while hypothesis draws examples, which
    # hypothesis takes for a strategy doing so; the examples do not depend on it.
    warnings.filterwarnings("ignore", message="Do not use the `random` module inside strategies")
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        try:
            folder = intake.write_modules(files, Path(tmp, "submission"), intake.known_modules())
        except intake.Refused as e:
            return error_result(str(e))
        return grade_one(folder, names, seed, timeout, sandbox, machine_folder)


def _drive(engine, queue: deque[Discovered], record: Callable[[str, dict], None], max_score: float) -> None:
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


class GradebookMismatch(ValueError):
    """The gradebook holds results graded with other exercises or another seed."""


def grade_batch(submissions_dir: Path | str, names: list[str], db_path: Path | str, jobs: int | None = None,
                engine: str = "local", scheduler: str | None = None, timeout: float = 60.0, regrade: bool = False,
                seed: int | None = None, sandbox: bool = True, progress: bool = True) -> dict[str, Any]:
    """Grade every submission in `submissions_dir` (see `discover`) on the exercises or
    assignments `names` (none: all) at the grading profile, into the gradebook `db_path`.

    Submissions already in the gradebook are skipped unless `regrade`. engine: "local" (a pool
    of `jobs` processes, default one per CPU) or "dask" (a LocalCluster of `jobs` workers, or
    the cluster whose scheduler is at `scheduler`). timeout: CPU seconds per exercise in student
    code. seed: the course seed (default: DLGRADE_COURSE_SEED, else the profile's). progress:
    a progress bar on stderr.

    Returns the summary: submissions, graded (now), skipped, errors (now), mean, median and
    max_score (over every recorded result of this folder), seconds, db, interrupted (False).
    Raises KeyError for unknown names, GradebookMismatch when the gradebook was graded with
    other exercises or seed (unless `regrade`), RuntimeError when the local pool's processes
    die even on a no-op, OSError when the Dask scheduler cannot be reached, and
    BatchInterrupted on Ctrl-C, after stopping the workers; every result recorded before it stays.
    """
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.grader.grading.gradebook import Gradebook

    if engine not in ("local", "dask"):
        raise ValueError(f"unknown engine {engine!r}: local or dask")
    start = time.monotonic()
    exercises = select(list(names))
    exercise_names = [e.name for e in exercises]
    assignments = list(dict.fromkeys(e.assignment for e in exercises))
    max_score = float(sum(e.points for e in exercises))
    seed = get_profile("grading", seed).seed
    jobs = jobs or os.cpu_count() or 1
    counts = {"graded": 0, "errors": 0}

    with Gradebook(db_path) as book, tempfile.TemporaryDirectory(prefix="dlgrade-batch-") as work:
        previous = book.meta()
        settings = (previous.get("exercises"), previous.get("seed"))
        if not regrade and book.graded() and settings != (exercise_names, seed):
            raise GradebookMismatch(f"{db_path} holds results graded on other exercises or with another seed; "
                                    "grade into another gradebook, or regrade everything with --regrade")
        book.set_meta(assignments=assignments, exercises=exercise_names, profile="grading", seed=seed)

        def summary(interrupted: bool) -> dict[str, Any]:
            names_here = {s.name for s in found}
            scores = [r["score"] for r in book.results() if r["name"] in names_here]
            return {"submissions": len(found), "graded": counts["graded"], "skipped": len(found) - len(todo),
                    "errors": counts["errors"], "mean": statistics.fmean(scores) if scores else None,
                    "median": statistics.median(scores) if scores else None, "max_score": max_score,
                    "seconds": time.monotonic() - start, "db": str(db_path), "interrupted": interrupted}

        found: list[Discovered] = []
        todo: list[Discovered] = []
        try:
            found = discover(submissions_dir, work, assignments)
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
                    task = (exercise_names, seed, timeout, sandbox, None if scheduler else str(locks))
                    runner = _DaskEngine(jobs, scheduler, task) if engine == "dask" else _LocalEngine(jobs, task)
                    try:
                        _drive(runner, queue, record, max_score)
                    except BaseException:
                        runner.stop(now=True)
                        raise
                    runner.stop(now=False)
        except KeyboardInterrupt:
            raise BatchInterrupted(summary(interrupted=True)) from None
        return summary(interrupted=False)


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
