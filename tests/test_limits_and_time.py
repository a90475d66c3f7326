"""Time and limits of a submission as a whole: CPU time of every process it starts, read by the
trusted side (so a busy machine changes no grade), every wait counted, one cap on the waiting of
the whole submission, memory held by all its processes together, and an exercise checked again
alone when the machine, not the code, ran it out of time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlgrade.checkers.profiles import get_profile
from dlgrade.checkers.registry import select
from dlgrade.checkers.runner import check_exercise
from dlgrade.grader.boundary import machine
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.boundary.sandbox import SandboxedSubmission, bwrap_path, landlock_abi
from dlgrade.grader.boundary.submission import InProcessSubmission, StudentError, wait_allowance
from helpers import copy_solutions, planted
from test_hostile import CASES, MemoryWatch, marker, no_process_left, plant

A1 = "a1_backprop"
ACCOUNTING = [pytest.param("cgroup", id="cgroup"), pytest.param("proc", id="proc")]
CONFINED = bwrap_path() is not None or landlock_abi() >= 1
needs_confinement = pytest.mark.skipif(not CONFINED, reason="hostile code is not run loose on this machine")

BURNERS = """
    import os, time

    def _burn(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    def child_burns():
        pid = os.fork()
        if pid == 0:
            _burn(0.8)
            os._exit(0)
        os.waitpid(pid, 0)
        return 0

    def orphan_burns():
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                _burn(0.8)
            os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(1.5)  # the orphan, reparented away from the worker, burns meanwhile
        return 0

    def sleeps():
        time.sleep(1.0)
        return 0
"""


@needs_confinement
@pytest.mark.parametrize("accounting", ACCOUNTING)
def test_the_cpu_time_of_every_process_of_the_worker_is_charged_and_sleep_is_not(accounting, tmp_path, monkeypatch):
    if accounting == "proc":
        monkeypatch.setenv("DLGRADE_NO_CGROUP", "1")
    path = planted(tmp_path, "layers", BURNERS)
    with SandboxedSubmission(path, call_timeout=20) as sub:
        assert (sub._current.cgroup is None) == (accounting == "proc") or accounting == "cgroup"
        charged = {}
        for function in ("child_burns", "orphan_burns", "sleeps"):
            before = sub.student_seconds()
            outcome = sub.call(A1, "layers", function, [])
            assert outcome.error is None, outcome.error
            charged[function] = sub.student_seconds() - before
    assert charged["child_burns"] >= 0.7 and charged["orphan_burns"] >= 0.7, charged
    assert charged["sleeps"] < 0.3, charged


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "in-process"])
def test_a_hang_is_stopped_at_the_exercise_s_cpu_budget_and_its_message_says_that_budget(sandboxed, tmp_path):
    path = planted(tmp_path, "layers", """
        def relu_forward(x):
            while True:
                pass
    """)
    names = select(["relu_forward"])
    submission = SandboxedSubmission(path, call_timeout=1) if sandboxed else InProcessSubmission(path, call_timeout=1)
    with submission:
        start = time.monotonic()
        (result,) = [check_exercise(e, submission, get_profile("grading", 0), timeout=2.5) for e in names]
        used = submission.student_seconds()
    said = result.properties[0].message
    assert "budget of 2.5 s" in said, said
    assert used >= 2.4, f"the call was stopped after {used:.2f} s of CPU time, before the budget"
    assert time.monotonic() - start < 30


@needs_confinement
def test_every_wait_counts_status_requests_too_and_the_submission_has_an_overall_cap(tmp_path):
    """A module that defines nothing but a module-level __getattr__ that sleeps (each request that
    asks whether a function exists waits): each exercise waits its allowance at most, and once the
    submission's overall waiting is used up, the exercises left are verdicts."""
    copy_solutions(tmp_path)
    (tmp_path / A1 / "layers.py").write_text("import time\n\n\ndef __getattr__(name):\n    time.sleep(60)\n"
                                             "    raise AttributeError(name)\n")
    root = tmp_path
    names = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward", "elu_forward",
             "elu_backward", "sigmoid_forward", "sigmoid_backward"]
    budget = 0.5
    start = time.monotonic()
    _, results = run_checks(names, root, "grading", seed=0, sandbox=True, exercise_timeout=budget)
    seconds = time.monotonic() - start
    cap = len(names) * budget + 10
    assert seconds < cap + 15, f"grading took {seconds:.0f} s"
    assert all(r.points == 0 and r.status == "timeout" for r in results), [(r.name, r.status) for r in results]
    assert "did not return" in results[0].reason
    assert "overall time" in results[-1].reason, results[-1].reason
    assert all(r.seconds < wait_allowance(budget) + 5 for r in results), [round(r.seconds, 1) for r in results]


def test_in_process_code_is_charged_its_cpu_time_not_its_sleep(tmp_path):
    path = planted(tmp_path, "layers", BURNERS)
    with InProcessSubmission(path, call_timeout=20) as sub:
        start = sub.student_seconds()
        assert sub.call(A1, "layers", "sleeps", []).error is None
        slept = sub.student_seconds() - start
        sub.call(A1, "layers", "child_burns", [])
        burnt = sub.student_seconds() - start - slept
    assert slept < 0.2 and burnt >= 0.7, (slept, burnt)


# -- a busy machine ----------------------------------------------------------------------------------


#: Exercises graded beside the CPU hogs, with a budget that the wall clock of a busy machine
#: would exceed (about twice the CPU time they use on a quiet one) but CPU time does not.
LOADED = ["relu_forward", "dropout_forward"]
LOADED_BUDGET = 2.5


def _verdicts(root: Path):
    _, results = run_checks(LOADED, root, "grading", seed=0, sandbox=True, exercise_timeout=LOADED_BUDGET)
    return [(r.name, r.status, r.points, [(p.name, p.passed) for p in r.properties]) for r in results]


@needs_confinement
def test_the_same_submission_gets_the_same_grades_beside_cpu_hogs(tmp_path):
    copy_solutions(tmp_path)
    copy_solutions(tmp_path, "a2_regularization")
    quiet = _verdicts(tmp_path)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        time.sleep(0.5)
        loaded = _verdicts(tmp_path)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert loaded == quiet
    assert [v[2] for v in quiet] == [e.points for e in select(LOADED)]


class _Starved(InProcessSubmission):
    """A submission whose first exercise run is cut short by a busy machine."""

    runs = 0

    def set_deadline(self, seconds):
        super().set_deadline(seconds)
        if seconds is not None:
            type(self).runs += 1

    def call(self, *args, **kwargs):
        if type(self).runs == 1:
            self.load_blamed = True
            return self._outcome_of_a_busy_machine()
        return super().call(*args, **kwargs)

    def _outcome_of_a_busy_machine(self):
        from dlgrade.grader.boundary.submission import CallOutcome

        return CallOutcome(error=StudentError("timeout", "stopped by the wall clock on a busy machine"))


def test_an_exercise_the_machine_ran_out_of_time_is_checked_again_alone(tmp_path, monkeypatch):
    copy_solutions(tmp_path)
    entered = []
    real_alone = machine.alone

    def spy():
        entered.append(True)
        return real_alone()

    monkeypatch.setattr(machine, "alone", spy)
    (exercise,) = select(["relu_forward"])
    with _Starved(tmp_path) as sub:
        result = check_exercise(exercise, sub, get_profile("grading", 0), timeout=5)
    assert entered == [True] and _Starved.runs == 2
    assert result.passed and result.points == exercise.points


def test_checking_alone_waits_for_the_batch_s_other_checks(tmp_path):
    machine.share(tmp_path)
    try:
        holder = subprocess.Popen([sys.executable, "-c", f"""
import time
from dlgrade.grader.boundary import machine
machine.share({str(tmp_path)!r})
with machine.shared():
    print("holding", flush=True)
    time.sleep(1.5)
"""], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
        assert holder.stdout.readline().strip() == "holding"
        start = time.monotonic()
        with machine.alone():
            waited = time.monotonic() - start
        holder.wait()
    finally:
        machine.share(None)
    assert waited > 1.0


# -- memory of the whole tree, without a cgroup ----------------------------------------------------------


@needs_confinement
def test_memory_is_bounded_for_the_whole_tree_without_a_cgroup(tmp_path, monkeypatch):
    """The forked_memory attack (four children of 1.25 GiB each) with the /proc accounting."""
    monkeypatch.setenv("DLGRADE_NO_CGROUP", "1")
    mark = marker()
    root = plant(tmp_path, "forked_memory", CASES["forked_memory"], mark)
    watch = MemoryWatch(mark)
    with SandboxedSubmission(root, call_timeout=20) as sub:
        outcome = sub.call(A1, "layers", "relu_forward", [np.array([-1.0, 2.0])])
    held, _ = watch.stop()
    assert outcome.error is not None and "GiB together" in outcome.error.message, outcome
    assert held < 3 << 30, f"the tree held {held / 2**30:.2f} GiB"
    assert no_process_left(mark) == []


@pytest.mark.parametrize("in_cgroup", [False, True], ids=["proc", "cgroup"])
def test_the_tree_s_files_stay_open_only_for_its_live_processes(in_cgroup, monkeypatch):
    """The tree reads its processes' /proc files through descriptors it keeps open between
    looks: a process that ends gives its descriptors back, a reused pid is read as the new
    process, and closing the tree closes them all."""
    from dlgrade.grader.boundary.worker_tree import Cgroup, WorkerTree

    group = Cgroup.create(f"test-{os.getpid()}-{time.monotonic_ns()}") if in_cgroup else None
    if in_cgroup and group is None:
        pytest.skip("no writable cgroup v2 here")
    script = "import subprocess, sys, time\nfor _ in range(30):\n    subprocess.run(['true'])\ntime.sleep(30)\n"
    proc = subprocess.Popen([sys.executable, "-c", script],
                            preexec_fn=(lambda: open(group.path / "cgroup.procs", "w").write("0")) if group else None)
    tree = WorkerTree(proc.pid, None, group)
    own = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    try:
        before = own()
        for _ in range(200):  # while the children come and go
            cpu = tree.cpu_seconds() if group is None else None
            tree.pids()
            time.sleep(0.005)
        assert own() - before <= 2 * len(tree.pids()) + 2
        assert proc.pid in tree.pids() and (cpu is None or cpu >= 0)
    finally:
        proc.kill()
        proc.wait()
        tree.close()
        if group is not None:
            group.remove(wait=1)
    assert own() <= before


def test_the_tree_keeps_few_files_open_however_many_processes_it_has():
    """Past a few dozen processes, the tree's /proc files are opened for each look: a
    submission that starts many processes cannot use up the trusted side's descriptors."""
    from dlgrade.grader.boundary.worker_tree import WorkerTree, _ProcFiles

    script = ("import os, time\nfor _ in range(150):\n    if os.fork() == 0:\n        time.sleep(20)\n"
              "        os._exit(0)\ntime.sleep(20)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    tree = WorkerTree(proc.pid, None, None)
    own = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    before = own()
    try:
        deadline = time.monotonic() + 30
        while len(tree.pids()) < 151 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tree.pids()) == 151
        assert own() - before <= _ProcFiles.MAX_KEPT + 2
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        tree.close()


@pytest.mark.parametrize("mode", ["bubblewrap", "landlock"])
def test_cpu_time_of_children_the_kernel_reaps_is_charged_without_a_cgroup(mode, tmp_path, monkeypatch):
    """Where no cgroup counts the worker's CPU time, a submission cannot hide its children's by
    having the kernel reap them (SIGCHLD ignored): the sandbox refuses to ignore SIGCHLD."""
    if mode == "bubblewrap" and bwrap_path() is None:
        pytest.skip("bubblewrap is not installed on this machine")
    monkeypatch.setenv("DLGRADE_NO_CGROUP", "1")
    if mode == "landlock":
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    path = plant(tmp_path, "autoreap_cpu", CASES["autoreap_cpu"], marker())
    _, (result,) = run_checks(["relu_forward"], path, "grading", seed=1, sandbox=True, exercise_timeout=2)
    assert result.points == 0, [p.message for p in result.properties]


def test_a_parent_that_does_not_wait_for_its_children_is_charged_their_time():
    """Without a cgroup (and, here, without the sandbox's filter), children the kernel reaped by
    itself are charged what the tree last saw them use: their time is in no parent's count."""
    from dlgrade.grader.boundary.worker_tree import WorkerTree

    script = ("import os, signal, time\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
              "for _ in range(4):\n    if os.fork() == 0:\n        end = time.process_time() + 0.5\n"
              "        while time.process_time() < end:\n            pass\n        os._exit(0)\n"
              "    time.sleep(0.7)\ntime.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    tree = WorkerTree(proc.pid, None, None)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and tree.cpu_seconds() < 1.5:  # 2 s burned in all
            time.sleep(0.02)
        assert tree.cpu_seconds() >= 1.5, tree.cpu_seconds()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        tree.close()
