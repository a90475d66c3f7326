"""The engines a batch runs on, behind one small protocol (`Engine`): a local process pool, or
Dask distributed. An engine grades one submission per task (`grade_one`, in its worker) and
hands back a future; the batch (grader.grading.batch) decides what to submit and records what
comes back."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import threading
import time
from concurrent.futures import BrokenExecutor, Future
from pathlib import Path
from typing import Any, Protocol

from dlgrade.assignments import CourseSource, use_source
from dlgrade.grader.boundary import intake
from dlgrade.grader.grading.discovery import Discovered

#: Modules imported by the forkserver once, before it forks the pool's workers (torch among them).
#: Not the CLI: under `python -m dlgrade.grader.cli` each worker runs it again as its main module.
PRELOAD = ["dlgrade.checkers.registry", "dlgrade.checkers.runner", "dlgrade.checkers.properties",
           "dlgrade.checkers.oracle", "dlgrade.grader.grading.session", "dlgrade.grader.grading.engines"]


class Engine(Protocol):
    """What a batch needs of an engine. task: (exercise names, seed, timeout, sandbox, machine
    folder, course), the arguments of `grade_one` after the submission's path."""

    #: The most futures to keep in flight (None: submit everything, the engine balances them).
    window: int | None

    def submit(self, sub: Discovered) -> Future:
        """A future of `grade_one` on the submission; raises BrokenExecutor when the engine broke,
        OSError or ValueError when the submission cannot be sent."""

    def restart(self) -> None:
        """Start afresh after the engine broke (a local pool whose worker died)."""

    def stop(self, now: bool) -> None:
        """Stop: after the tasks in flight, or `now`, abandoning them."""


def grade_one(path: Path | str, names: list[str], seed: int | None = None, timeout: float = 60.0,
              sandbox: bool = True, machine_folder: str | None = None,
              course: CourseSource | None = None) -> dict[str, Any]:
    """Grade one submission folder (laid out like the release) at the grading profile.

    timeout: CPU seconds per exercise (see `grader.cli.run_checks`). machine_folder: the batch's
    folder of machine locks, where an exercise that lost its time to a busy machine is checked
    again alone (see grader.boundary.machine). Returns a JSON-ready dict: status ("graded", or "error"
    when the submission could not be graded at all), score, max_score, seconds,
    student_seconds (CPU seconds of student code), profile, seed (None when secret), exercises
    (as in `dlgrade check --json`) and error (a message, or None). Never raises for anything the
    submission does. course: the course to grade (see dlgrade.assignments.use_source; None:
    the one this process grades).
    """
    from dlgrade.grader.boundary import machine
    from dlgrade.grader.grading.session import run_checks, to_json

    if course is not None:
        use_source(course)
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


class _LocalEngine:
    """A process pool of `jobs` workers, forked from a forkserver that has imported the checker
    (and torch) once. A worker that dies breaks the whole pool, so the engine can start afresh.
    A worker grades many submissions in turn: at the grading profile they are all checked on the
    same cases, so the reference's evaluations it keeps (`checkers.memo.references`, in this
    trusted process only) are computed once per case for the whole batch."""

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
                   sandbox: bool, machine_folder: str | None = None,
                   course: CourseSource | None = None) -> dict[str, Any]:
    """grade_one on a submission sent as its files, written into a scratch folder of the worker
    (every path checked again by grader.boundary.intake before it is written)."""
    import warnings

    # The Dask worker's own threads use the random module while hypothesis draws examples, which
    # hypothesis takes for a strategy doing so; the examples do not depend on it.
    warnings.filterwarnings("ignore", message="Do not use the `random` module inside strategies")
    if course is not None:
        use_source(course)
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        try:
            folder = intake.write_modules(files, Path(tmp, "submission"), intake.known_modules())
        except intake.Refused as e:
            return error_result(str(e))
        return grade_one(folder, names, seed, timeout, sandbox, machine_folder, course)


#: The engines by name, as `dlgrade grade --engine` names them.
ENGINES = {"local": lambda jobs, scheduler, task: _LocalEngine(jobs, task),
           "dask": lambda jobs, scheduler, task: _DaskEngine(jobs, scheduler, task)}


def start_engine(name: str, jobs: int, scheduler: str | None, task: tuple) -> Engine:
    """The engine `name` of ENGINES, started: `jobs` workers (Dask: on the cluster of `scheduler`,
    if given)."""
    return ENGINES[name](jobs, scheduler, task)
