"""The hostile-submission corpus: student code that attacks the grader, run in the sandbox.

Each file in tests/hostile/ is one attack, appended to a copy of the solution module it attacks (its
later `def` overrides that exercise; its module-level code runs when the module is imported). Every
case must get a verdict that says what happened, score zero on the exercise it attacks, and cost
nothing else: the exercises of the submission's other modules, graded afterwards by the same
sandbox, keep their full points; the test process neither crashes nor receives the flood; and no
process the submission started is left running once grading is done.

Each case runs in the confinement it attacks: the cases whose containment depends on how the worker
is confined (files, network, processes, memory, imports, seeds) run both with bubblewrap and with
Landlock alone (DLGRADE_NO_BWRAP=1); the others once, in this machine's best confinement. Besides
the verdict, every case is held to: the processes it started never held more than the
submission's memory limit together (sampled while it runs), the trusted process's own peak memory
grew by less than PEAK_GROWTH, and no file it named with the marker is left in /tmp or /dev/shm.

Placeholders in a case's source: __MARKER__ (a token unique to the run, which the attack puts in
the names of the processes it starts), __REPO__ (this repository's absolute path, for attacks on
the course's files), __PORT__ (a loopback port on which the test listens) and __BINDPORT__ (a free
port the test tries to connect to while the case runs). The test also prepends a line that makes
the marker the worker's process name (prctl PR_SET_NAME), so that the worker and everything it
forks can be found if it outlives grading.

An attack that is not contained is marked xfail(strict=True) with the reason: the gap stays visible
and CI stays green; the strict mark turns red when the gap is closed, so the mark is removed then.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib
import os
import signal
import re
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.boundary.sandbox import Limits, SandboxedSubmission, bwrap_path, landlock_abi
from dlgrade.grader.boundary.submission import wait_allowance
from helpers import copy_solutions

A1 = "a1_backprop"
REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).parent / "hostile"
#: CPU seconds the attacked exercise may spend (a hang costs its waiting allowance).
EXERCISE_TIMEOUT = 3.0
#: The same for the untouched exercises: generous, since the budget counts the checker's own time too.
UNTOUCHED_TIMEOUT = 30.0
#: Exercises of the other modules, graded after the attacked one in the same sandbox (cheap ones).
UNTOUCHED = {"layers": ["svm_loss", "mse_loss"], "losses": ["relu_forward", "leaky_relu_forward"],
             "net": ["relu_forward", "svm_loss"]}

HANG = ("did not return", "time budget")
WRONG = ("differs from the reference",)
CRASH = ("crashed the worker",)
STOPPED = ("was stopped",)
#: The confinements a case runs in: "best" is bubblewrap where installed, else Landlock.
BOTH = ("bubblewrap", "landlock")
#: How much the trusted process's peak memory may grow while it grades one case.
PEAK_GROWTH = 300 << 20
#: Whatever a submission's processes hold together may not pass its limit by more than this (the
#: watchdog looks every 50 ms, and memory is touched fast).
MEMORY_SLACK = 1 << 30


@dataclasses.dataclass(frozen=True)
class Case:
    """One attack: the module it is appended to, the exercise it attacks, what the verdict must say
    (any of `expect`, in the reason or a failing property's message), and the status it must have."""

    module: str = "layers"
    target: str = "relu_forward"
    expect: tuple[str, ...] = WRONG
    status: str = "checked"
    #: The confinements it runs in (BOTH for attacks whose containment depends on it).
    modes: tuple[str, ...] = ("best",)
    #: Empty folders shipped beside the attacked assignment.
    extra_folders: tuple[str, ...] = ()
    #: Seconds the attacked exercise may take at most, where the attack is on time itself.
    max_seconds: float | None = None
    xfail: str = ""


CASES = {
    "syntax_error": Case(expect=("syntax error",), status="module_error"),
    "missing_module": Case(expect=("not found",), status="missing"),
    "missing_function": Case(expect=("defines no function relu_forward",), status="missing"),
    "wrong_signature": Case(expect=("TypeError",)),
    # At the grading profile the exception's own message is withheld (it could carry hidden inputs).
    "exception": Case(expect=("ValueError: hostile", "raised ValueError")),
    "infinite_loop": Case(expect=HANG),
    "sleep": Case(expect=HANG, max_seconds=wait_allowance(EXERCISE_TIMEOUT) + 10),
    "memory_bomb_alloc": Case(expect=("MemoryError",)),
    "memory_bomb_list": Case(expect=("MemoryError",)),
    "fork_bomb": Case(expect=WRONG + CRASH + HANG + STOPPED + ("nondeterministic", "has shape"), modes=BOTH),
    "fork_and_hold": Case(modes=BOTH),
    "segfault": Case(expect=CRASH),
    "sys_exit": Case(expect=("SystemExit",)),
    "os_exit": Case(expect=CRASH),
    "print_flood": Case(expect=HANG),
    "os_write_flood": Case(expect=HANG),
    "ignore_signals": Case(expect=HANG),
    # "differs" (not a type error, not an AssertionError) also shows that the patches took effect.
    "numpy_monkeypatch": Case(),
    "tamper_checker": Case(modes=BOTH),
    "write_results": Case(modes=BOTH),
    "read_solutions": Case(modes=BOTH),
    "read_other_submissions": Case(modes=BOTH),
    "socket_loopback": Case(modes=BOTH),
    # No socket may be made at all outside the a7 tier: even listing the interfaces is refused.
    "socket_public": Case(expect=WRONG + ("raised PermissionError",), modes=BOTH),
    "bind_port": Case(modes=BOTH),
    "eq_always_true": Case(expect=("cannot use", "AlwaysEqual")),
    "ndarray_subclass": Case(expect=("numpy subclass",)),
    "numpy_matrix": Case(module="losses", target="softmax", expect=("numpy subclass",)),
    "mutate_inputs": Case(expect=WRONG + ("modified its argument",)),
    "import_torch": Case(expect=("imports torch",), status="forbidden"),
    "import_torch_dynamic": Case(expect=("not allowed", "No module named", "Permission denied"), modes=BOTH),
    # At the grading profile: "raised ModuleNotFoundError ...: it imports torch, which is not allowed"
    # (bubblewrap: not mounted) or "raised PermissionError" (Landlock: not readable).
    "undo_import_blocker": Case(expect=("No module named", "Permission denied", "not allowed", "raised PermissionError"),
                                modes=BOTH),
    "huge_array": Case(expect=CRASH + ("MemoryError", "cannot use")),
    "object_dtype": Case(expect=("dtype object",)),
    "cache_of_references": Case(expect=("cannot use",)),
    "surviving_grandchild": Case(modes=BOTH),
    "extra_assignment_folder": Case(extra_folders=("a7_distributed",), modes=BOTH),
    # Stopped by the watchdog, or out of CPU time while its children touch their memory.
    "forked_memory": Case(expect=STOPPED + CRASH + HANG),
    "tmp_flood": Case(expect=WRONG + HANG + STOPPED + ("nondeterministic",), modes=BOTH),
    "forged_answer": Case(expect=CRASH),
    "forged_worker_error": Case(expect=CRASH + ("did not return",)),
    "chmod_outside": Case(modes=BOTH),
    "shape_channel": Case(expect=("has shape", "should return a tuple")),
    "socket_buffers": Case(modes=BOTH),
    "fallocate_tmp": Case(modes=BOTH),
    "autogroup_nice": Case(modes=BOTH),
    # Forged answers, then a worker replaced at each: what it returns changes from call to call.
    "answers_without_reading": Case(expect=WRONG + HANG + CRASH + ("nondeterministic",),
                                    max_seconds=wait_allowance(EXERCISE_TIMEOUT) + 10),
    "memfd_hoard": Case(modes=BOTH),
    "unlinked_tmp": Case(expect=WRONG + STOPPED, modes=BOTH),
    "starve_itself": Case(modes=BOTH),
    "unix_socket": Case(modes=BOTH),
    "sleepy_getattr": Case(expect=("did not return",), status="timeout",
                           max_seconds=wait_allowance(EXERCISE_TIMEOUT) + 10),
    "seed_search": Case(modes=BOTH),
    "autoreap_cpu": Case(expect=HANG + ("no time left", "raised PermissionError"), modes=BOTH),
}


def marker() -> str:
    """A token unique to this run, short enough for /proc/PID/comm (15 characters)."""
    return "dlgh" + uuid.uuid4().hex[:10]


def plant(root: Path, name: str, case: Case, mark: str, port: int = 9, bind_port: int = 9) -> Path:
    """A copy of the solutions at root/ with attack `name` appended to (or, for missing_module,
    in place of) the module it attacks."""
    copy_solutions(root)
    for folder in case.extra_folders:
        (root / folder).mkdir()
    path = root / A1 / f"{case.module}.py"
    if name == "missing_module":
        path.unlink()
        return root
    source = (CORPUS / f"{name}.py").read_text()
    source = (source.replace("__MARKER__", mark).replace("__REPO__", str(REPO)).replace("__PORT__", str(port))
              .replace("__BINDPORT__", str(bind_port)))
    # The worker's name (/proc/PID/comm) becomes the marker, inherited by whatever it forks.
    tag = f'\ntry:\n    __import__("ctypes").CDLL(None).prctl(15, b"{mark}", 0, 0, 0)\nexcept Exception:\n    pass\n\n'
    path.write_text(path.read_text() + "\n" + tag + source)
    return root


def processes_with(mark: str) -> list[tuple[int, str, str]]:
    """(pid, command line, name) of the processes whose command line or name carries `mark`
    (zombies left out)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and (mark in cmdline or mark in comm):
            found.append((int(entry), cmdline, comm))
    return found


def named(mark: str) -> list[int]:
    """The processes whose name (/proc/PID/comm) is `mark`: the worker and what it forked (cheaper
    to find than `processes_with`)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == mark:
                found.append(int(entry))
        except OSError:
            continue
    return found


def no_process_left(mark: str, wait: float = 3.0) -> list[tuple[int, str, str]]:
    """The processes carrying `mark` still alive after up to `wait` seconds; kills them (they are
    this test's), so that a failing case does not leave them behind either."""
    deadline = time.monotonic() + wait
    while (left := processes_with(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid, _, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


def marked_files(mark: str) -> list[str]:
    """Files named with the marker in this machine's /tmp and /dev/shm."""
    return [p for top in ("/tmp", "/dev/shm", str(Path(os.environ.get("TMPDIR", "/tmp"))))
            for p in glob.glob(os.path.join(top, f"*{mark}*"))]


class MemoryWatch:
    """Samples, every 0.1 s while grading runs, the memory of the processes named with a marker
    (their proportional set sizes, added up), and the trusted process's own peak."""

    def __init__(self, mark: str):
        self.mark, self.peak, self._stop = mark, 0, threading.Event()
        Path("/proc/self/clear_refs").write_text("5")  # the peak RSS (VmHWM) starts again from now
        self.trusted_start = _status_kb("VmRSS") << 10
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.1):
            total = 0
            for pid in named(self.mark):
                try:
                    total += sum(int(line.split()[1]) << 10 for line in open(f"/proc/{pid}/smaps_rollup")
                                 if line.startswith("Pss:"))
                except (OSError, ValueError, IndexError):
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> tuple[int, int]:
        """(the marked processes' peak, the trusted process's peak growth), in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak, (_status_kb("VmHWM") << 10) - self.trusted_start


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortProbe:
    """Tries, every 50 ms while grading runs, to connect to a port on this machine's loopback."""

    def __init__(self, port: int):
        self.port, self.reached, self._stop = port, False, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    self.reached = True
            except OSError:
                pass

    def stop(self) -> bool:
        self._stop.set()
        self._thread.join()
        return self.reached


def grade(root: Path, attacked: str, untouched: list[str]):
    """What `run_checks([attacked, *untouched], root, "grading", seed=0, sandbox=True, ...)` does,
    with a short time budget for the attacked exercise and a generous one for the others (which
    are checked on fewer examples: only whether they keep their points matters)."""
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.runner import check_exercise
    from dlgrade.grader.grading.session import open_submission

    profile = get_profile("grading", 0)
    quick = dataclasses.replace(profile, max_examples=10)
    with open_submission(root, sandbox=True) as submission:
        return [check_exercise(e, submission, profile if e.name == attacked else quick,
                               timeout=EXERCISE_TIMEOUT if e.name == attacked else UNTOUCHED_TIMEOUT)
                for e in select([attacked, *untouched])]


def messages(result) -> str:
    return "\n".join([result.reason, *(p.message for p in result.properties if not p.passed)])


def forged_paths(mark: str, root: Path) -> list[Path]:
    """Where write_results would leave its forged file on this machine's file system."""
    candidates = [Path.cwd() / "results.json", Path.cwd() / f"{mark}.json", REPO / "results.json",
                  REPO / f"{mark}.json", REPO / "assignments" / f"{mark}.json",
                  ASSIGNMENTS_DIR / A1 / f"{mark}.json", Path("/autograder/results/results.json"),
                  Path("/tmp/results.json"), Path("/tmp") / f"{mark}.json"]
    candidates += [p for p in root.parent.rglob("*") if p.is_file() and p.suffix != ".py"]
    found = []
    for path in candidates:
        try:
            if path.is_file() and mark in path.read_text(errors="replace"):
                found.append(path)
        except OSError:
            pass
    return found


HAS_BWRAP = bwrap_path() is not None
HAS_LANDLOCK = landlock_abi() >= 1
needs_bwrap = pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed (or DLGRADE_NO_BWRAP is set)")
needs_confinement = pytest.mark.skipif(not (HAS_BWRAP or HAS_LANDLOCK), reason="neither bubblewrap nor Landlock here: "
                                       "hostile code is not run loose on this machine")


def use_mode(mode: str, monkeypatch) -> None:
    """Grade in `mode`: bubblewrap, or Landlock alone (as if bubblewrap were missing)."""
    if mode == "landlock":
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")


def _params():
    for name, case in CASES.items():
        modes = ["bubblewrap" if HAS_BWRAP else "landlock"] if case.modes == ("best",) else list(case.modes)
        for mode in modes:
            marks = []
            if case.xfail:
                marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
            if mode == "bubblewrap" and not HAS_BWRAP:
                marks.append(pytest.mark.skip(reason="bubblewrap is not installed (or DLGRADE_NO_BWRAP is set)"))
            if mode == "landlock" and not HAS_LANDLOCK:
                marks.append(pytest.mark.skip(reason="this kernel has no Landlock: hostile code is not run loose here"))
            yield pytest.param(name, case, mode, id=f"{name}-{mode}", marks=marks)


def test_every_corpus_file_is_a_case_with_a_docstring():
    files = {p.stem for p in CORPUS.glob("*.py")}
    assert files == set(CASES)
    for name in files:
        source = (CORPUS / f"{name}.py").read_text()
        assert source.startswith('"""Attacks '), f"{name}.py should open with a docstring saying what it attacks"


@pytest.mark.parametrize("name, case, mode", list(_params()))
def test_hostile_submission_is_contained(name, case, mode, tmp_path, monkeypatch, capfd):
    use_mode(mode, monkeypatch)
    mark = marker()
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    # A gradebook named in the environment: the attack looks for such variables to overwrite.
    monkeypatch.setenv("DLGRADE_GRADEBOOK", str(tmp_path / "gradebook.json"))
    monkeypatch.setenv("RESULTS_PATH", str(tmp_path / "results.json"))
    bind_port = free_port()
    root = plant(tmp_path / "submission", name, case, mark, port=server.getsockname()[1], bind_port=bind_port)
    untouched = UNTOUCHED[case.module]
    probe, memory = PortProbe(bind_port), MemoryWatch(mark)
    try:
        start = time.monotonic()
        results = grade(root, case.target, untouched)
        seconds = time.monotonic() - start
        try:
            connection, _ = server.accept()
            connection.close()
            reached = True
        except BlockingIOError:
            reached = False
    finally:
        server.close()
        bound = probe.stop()
        held, trusted_growth = memory.stop()
    left = no_process_left(mark)
    out, err = capfd.readouterr()
    attacked, others = results[0], results[1:]

    assert attacked.name == case.target
    assert attacked.points == 0 and not attacked.passed, f"{name} earned points: {messages(attacked)}"
    assert attacked.status == case.status, messages(attacked)
    said = messages(attacked)
    assert any(s in said for s in case.expect), f"{name}: the verdict does not say what happened:\n{said}"
    # The grading profile repeats no word of the submission's: its marker never reaches a verdict.
    assert mark not in said, f"{name}'s own words reached the verdict:\n{said}"
    assert not re.search(r"\d{7}", said), f"{name}: a long number reached the verdict:\n{said}"
    assert [(r.name, r.points) for r in others] == [(r.name, r.max_points) for r in others], \
        {r.name: messages(r) for r in others if not r.passed}
    assert left == [], f"{name} left processes running: {left}"
    assert not reached, f"{name} reached a server on the grading machine's loopback"
    assert not bound, f"{name} listened on a port of the grading machine's loopback"
    assert forged_paths(mark, tmp_path / "submission") == [], f"{name} wrote files outside the sandbox"
    assert marked_files(mark) == [], f"{name} left files in /tmp or /dev/shm"
    assert held < Limits().memory_bytes + MEMORY_SLACK, f"{name}'s processes held {held / 2**30:.2f} GiB together"
    assert trusted_growth < PEAK_GROWTH, f"the trusted process's peak memory grew by {trusted_growth >> 20} MB"
    assert len(out) + len(err) < 100_000, f"{name} flooded the test process's output ({len(out) + len(err)} characters)"
    if case.max_seconds is not None:
        assert attacked.seconds < case.max_seconds, f"the attacked exercise took {attacked.seconds:.0f} s"
    assert seconds < EXERCISE_TIMEOUT + 2 + 60, f"grading took {seconds:.0f} s"


# -- the detector ----------------------------------------------------------------------------------


@needs_confinement
def test_the_process_scan_sees_a_live_worker_and_its_grandchild(tmp_path):
    """The leftover scan is not vacuous: while the sandbox holds the worker (tagged by `plant`) and
    the grandchild of surviving_grandchild, both are found; after close, neither is."""
    mark = marker()
    root = plant(tmp_path, "surviving_grandchild", CASES["surviving_grandchild"], mark)
    sub = SandboxedSubmission(root, call_timeout=10)
    try:
        outcome = sub.call(A1, "layers", "relu_forward", [np.ones((2, 3))])
        assert outcome.error is None
        time.sleep(0.3)
        running = processes_with(mark)
        assert any("sleep 1000" in cmdline for _, cmdline, _ in running), running
        assert any("dlgrade.grader.boundary.worker" in cmdline and comm == mark for _, cmdline, comm in running), running
    finally:
        sub.close()
    assert no_process_left(mark) == []


# -- batch -----------------------------------------------------------------------------------------


#: Graded side by side (two at a time where grade_batch exists) with two correct submissions.
BATCH_ATTACKS = ["infinite_loop", "segfault", "fork_bomb", "surviving_grandchild", "tamper_checker"]
BATCH_TIMEOUT = 6.0


@needs_confinement
def test_a_batch_with_hostile_submissions_grades_the_correct_ones_in_full(tmp_path):
    mark = marker()
    subs = tmp_path / "submissions"
    for name in BATCH_ATTACKS:
        plant(subs / name, name, CASES[name], mark)
    for good in ("good_1", "good_2"):
        copy_solutions(subs / good)
    names = ["relu_forward", "svm_loss"]
    batch = importlib.import_module("dlgrade.grader.grading.batch")
    if hasattr(batch, "grade_batch"):
        from dlgrade.grader.grading.gradebook import Gradebook

        db = tmp_path / "gradebook.sqlite"
        batch.grade_batch(subs, names, db, jobs=2, timeout=BATCH_TIMEOUT, seed=0, progress=False)
        with Gradebook(db) as book:
            graded = {r["name"]: r for r in book.results()}
    else:
        graded = {p.name: batch.grade_one(p, names, seed=0, timeout=BATCH_TIMEOUT) for p in sorted(subs.iterdir())}
    assert set(graded) == {*BATCH_ATTACKS, "good_1", "good_2"}
    for good in ("good_1", "good_2"):
        assert graded[good]["status"] == "graded" and graded[good]["score"] == graded[good]["max_score"] == 4.0, \
            graded[good]
    for name in BATCH_ATTACKS:
        points = {e["name"]: e["points"] for e in graded[name]["exercises"]}
        assert graded[name]["status"] == "graded" and points["relu_forward"] == 0.0, (name, graded[name])
        if not CASES[name].xfail:  # an attack that is not contained may cost its own submission more
            assert points["svm_loss"] == 3.0, (name, graded[name])
    assert no_process_left(mark) == []


# -- process slots ---------------------------------------------------------------------------------


NEIGHBOUR = '''

def start_a_thread_and_a_process():
    import os
    import threading

    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "ok"
'''


@pytest.mark.parametrize("mode", [pytest.param("bubblewrap", marks=needs_bwrap),
                                  pytest.param("landlock", marks=pytest.mark.skipif(not HAS_LANDLOCK, reason="no Landlock"))])
def test_a_submission_holding_its_process_slots_leaves_those_of_its_neighbours(mode, tmp_path, monkeypatch):
    use_mode(mode, monkeypatch)
    mark = marker()
    hog = plant(tmp_path / "hog", "fork_and_hold", CASES["fork_and_hold"], mark)
    neighbour = tmp_path / "neighbour"
    copy_solutions(neighbour)
    layers = neighbour / A1 / "layers.py"
    layers.write_text(layers.read_text() + NEIGHBOUR)
    with SandboxedSubmission(hog, call_timeout=10) as taker, SandboxedSubmission(neighbour, call_timeout=10) as other:
        assert other.call(A1, "layers", "start_a_thread_and_a_process", []).value == "ok"
        held = taker.call(A1, "layers", "relu_forward", [np.ones(3)], keep=(1,))
        assert held.error is None
        outcome = other.call(A1, "layers", "start_a_thread_and_a_process", [])
    assert no_process_left(mark) == []
    assert outcome.error is None and outcome.value == "ok", outcome.error


# -- the memory limit with torch imported ------------------------------------------------------------


TORCH_BOMB = '''

def torch_version():
    import torch

    return str(torch.__version__)


def numpy_bomb():
    import torch  # noqa: F401

    big = np.ones(2**30)  # 8 GiB
    return float(big.sum())


def torch_bomb():
    import torch

    return float(torch.ones(2**30, dtype=torch.float64).sum())
'''


def test_the_memory_limit_holds_in_a_worker_that_imported_torch(tmp_path):
    import torch

    copy_solutions(tmp_path)
    layers = tmp_path / A1 / "layers.py"
    layers.write_text(layers.read_text() + TORCH_BOMB)
    with SandboxedSubmission(tmp_path, forbidden={}) as sub:
        version = sub.call(A1, "layers", "torch_version", [])
        assert version.error is None and version.value == str(torch.__version__), version.error
        for bomb in ("numpy_bomb", "torch_bomb"):
            outcome = sub.call(A1, "layers", bomb, [])
            assert outcome.error is not None, f"{bomb} allocated 8 GiB"
            assert outcome.error.kind in ("exception", "crash"), outcome.error
            assert any(s in outcome.error.message for s in ("MemoryError", "allocate", "crashed")), outcome.error
        after = sub.call(A1, "layers", "relu_forward", [np.array([-1.0, 2.0])], keep=(1,))
        assert after.error is None and after.value[0].tolist() == [0.0, 2.0]


# -- without bubblewrap ----------------------------------------------------------------------------------


BUGGY_RELU_BACKWARD = '''

def relu_backward(dout, cache):
    return dout.copy()
'''


def test_without_bwrap_the_worker_gives_the_same_verdicts_and_says_how_it_is_confined(tmp_path, monkeypatch, capsys):
    """A normal submission (one planted mistake): the same verdicts with bubblewrap and with Landlock."""
    import dlgrade.grader.boundary.sandbox

    copy_solutions(tmp_path)
    layers = tmp_path / A1 / "layers.py"
    layers.write_text(layers.read_text() + BUGGY_RELU_BACKWARD)
    names = ["relu_forward", "relu_backward", "svm_loss"]

    def verdicts():
        _, results = run_checks(names, tmp_path, "grading", seed=0, sandbox=True, exercise_timeout=30)
        return [(r.name, r.status, r.points, [(p.name, p.passed, p.message) for p in r.properties]) for r in results]

    confined = verdicts() if bwrap_path() is not None else None
    capsys.readouterr()
    monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    monkeypatch.setattr(dlgrade.grader.boundary.sandbox, "_notices_given", set())
    unconfined = verdicts()
    err = capsys.readouterr().err
    assert [v[2] for v in unconfined] == [1.0, 0.0, 3.0]
    if confined is not None:
        assert unconfined == confined
    notices = [line for line in err.splitlines() if line.startswith("dlgrade: ")]
    assert len(notices) == len(set(notices)), f"a notice was repeated: {err}"
    assert any("bubblewrap (bwrap) not found" in n for n in notices), err
    if HAS_LANDLOCK:
        assert any("confined with Landlock" in n for n in notices), err


def test_without_bwrap_or_landlock_as_root_the_keeps_root_warning_is_printed(tmp_path, monkeypatch, capsys):
    import dlgrade.grader.boundary.sandbox

    if os.getuid() != 0 or all(dlgrade.grader.boundary.sandbox._readable_by_others(Path(p)) for p in (sys.executable, sys.base_prefix)):
        pytest.skip("the worker drops to an unprivileged user here")
    copy_solutions(tmp_path)
    monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    monkeypatch.setenv("DLGRADE_NO_LANDLOCK", "1")
    monkeypatch.setattr(dlgrade.grader.boundary.sandbox, "_notices_given", set())
    with SandboxedSubmission(tmp_path, call_timeout=10) as sub:
        assert sub.function_status(A1, "layers", "relu_forward") is None
    err = capsys.readouterr().err
    assert "bubblewrap (bwrap) not found" in err
    assert "keeps root's rights" in err
