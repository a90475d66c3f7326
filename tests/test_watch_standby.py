"""`dlgrade check --watch`'s standby sandbox: started after a round with nothing of the student's
in it, given the modules as they are when the next save is seen, confined as any sandbox, and
stopped with its folder removed when watching ends."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlgrade.grader.boundary import sandbox
from dlgrade.grader.boundary.sandbox import SandboxedSubmission, StandbySubmission, bwrap_path, landlock_abi
from dlgrade.grader.cli import main
from dlgrade.grader.grading import watch
from dlgrade.grader.grading.session import exercise_json, run_checks
from helpers import A1, copy_solutions

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).parent / "hostile"
HAS_BWRAP = bwrap_path() is not None
HAS_LANDLOCK = landlock_abi() >= 1
#: relu_forward that returns its input unchanged (fails against the reference), and the fix, of
#: the same length: a cache keyed on size and modification time could not tell them apart.
FIXED = "\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
BROKEN = "\n\ndef relu_forward(x):\n    return np.abs(x) * 1.00, x\n"
assert len(FIXED) == len(BROKEN)


def modes():
    """The confinements a standby is checked in: bubblewrap, and Landlock alone."""
    return [pytest.param("bubblewrap", marks=pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")),
            pytest.param("landlock", marks=pytest.mark.skipif(not HAS_LANDLOCK, reason="this kernel has no Landlock"))]


def use_mode(mode: str, monkeypatch) -> None:
    if mode == "landlock":
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")


def wait_ready(standby: StandbySubmission) -> None:
    """Until the standby's worker has booted and confined itself (what its first request awaits)."""
    worker = standby._workers[standby.assignment]
    assert worker._await_ready() is None


def same_size_and_time(path: Path, source: str) -> None:
    """Write `source` to `path` keeping its modification time (a save a bytecode cache would miss)."""
    before = path.stat().st_mtime_ns
    path.write_text(source)
    os.utime(path, ns=(before, before))


def verdicts(results) -> list[dict]:
    """The verdicts without their timings."""
    found = []
    for r in results:
        data = exercise_json(r)
        del data["seconds"], data["student_seconds"]
        found.append(data)
    return found


def test_a_save_made_after_the_standby_booted_is_what_is_graded(tmp_path):
    layers = copy_solutions(tmp_path) / "layers.py"
    solution = layers.read_text()
    layers.write_text(solution + BROKEN)
    with watch.fresh_checks(tmp_path, sandbox=True, profile_name="student", seed=3) as check:
        assert not check(["relu_forward"])[0].passed
        check.between()
        standby = check._standbys[0]  # the oldest: the next round's
        assert len(check._standbys) == watch.STANDBYS and not any(s.staged for s in check._standbys)
        wait_ready(standby)  # booted (numpy imported, confined) before the fix is saved
        same_size_and_time(layers, solution + FIXED)
        fixed = check(["relu_forward"])
        assert fixed[0].passed, fixed[0].reason
        assert standby.staged and standby not in check._standbys  # that round was the standby's
        # Every verdict as a fresh `dlgrade check` gives it.
        assert verdicts(fixed) == verdicts(run_checks(["relu_forward"], tmp_path, "student", 3, sandbox=True)[1])
        check.between()
        wait_ready(check._standbys[0])
        same_size_and_time(layers, solution + BROKEN)
        assert not check(["relu_forward"])[0].passed


def test_a_standby_whose_worker_died_while_waiting_grades_as_a_fresh_sandbox(tmp_path):
    copy_solutions(tmp_path)
    with watch.fresh_checks(tmp_path, sandbox=True, profile_name="student", seed=3) as check:
        first = check(["relu_forward"])
        check.between()
        worker = check._standbys[0]._workers[A1]
        wait_ready(check._standbys[0])
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        again = check(["relu_forward"])
    assert again[0].passed, again[0].reason
    assert verdicts(again) == verdicts(first)


def test_a_standby_is_staged_once_and_used_only_after(tmp_path):
    copy_solutions(tmp_path)
    standby = StandbySubmission(A1)
    try:
        with pytest.raises(RuntimeError, match="before its submission was staged"):
            standby.function_status(A1, "layers", "relu_forward")
        standby.stage(tmp_path)
        assert standby.function_status(A1, "layers", "relu_forward") is None
        with pytest.raises(RuntimeError, match="staged once"):
            standby.stage(tmp_path)
    finally:
        standby.close()


@pytest.mark.parametrize("mode", modes())
def test_a_standby_worker_is_set_up_as_in_a_fresh_sandbox(mode, tmp_path, monkeypatch):
    use_mode(mode, monkeypatch)
    copy_solutions(tmp_path)
    standby, fresh = StandbySubmission(A1), SandboxedSubmission(tmp_path)
    try:
        standby.stage(tmp_path)
        mine, theirs = standby._workers[A1], fresh._workers[A1]
        assert standby.mode == fresh.mode == mode
        assert (mine.limits, mine.hidden, mine.keep_file_access, mine.gpus) == \
               (theirs.limits, theirs.hidden, theirs.keep_file_access, theirs.gpus)
        assert (mine.uid is None) == (theirs.uid is None) and (mine.uid is None) == (os.getuid() != 0)
        # The modules staged after the start are the worker's own, readable by it alone.
        staged = sorted(p.relative_to(mine.home) for p in (mine.home / "submission").rglob("*"))
        assert staged == sorted(p.relative_to(theirs.home) for p in (theirs.home / "submission").rglob("*"))
        for path in (mine.home / "submission").rglob("*"):
            info = path.stat()
            assert info.st_mode & 0o777 == (0o700 if path.is_dir() else 0o400)
            assert mine.file_owner is None or info.st_uid == mine.file_owner
    finally:
        standby.close()
        fresh.close()


def _attack(name: str) -> str:
    return (CORPUS / f"{name}.py").read_text().replace("__REPO__", str(REPO)).replace("__MARKER__", "dlghstandby")


@pytest.mark.parametrize("mode", modes())
@pytest.mark.parametrize("attack", ["read_solutions", "read_other_submissions"])
def test_a_hostile_module_in_a_standby_reads_nothing_a_worker_may_not(attack, mode, tmp_path, monkeypatch):
    """The attack saved while the standby waits: it is what the standby's round grades, and it
    finds no solution and no classmate's code, though a classmate's sandbox is open beside it
    (and in-process, as a control, it does find one)."""
    use_mode(mode, monkeypatch)
    classmate, mine = tmp_path / "classmate", tmp_path / "mine"
    copy_solutions(classmate)
    layers = copy_solutions(mine) / "layers.py"
    with SandboxedSubmission(classmate), \
            watch.fresh_checks(mine, sandbox=True, profile_name="student", seed=3) as check:
        assert check(["relu_forward"])[0].passed
        check.between()
        wait_ready(check._standbys[0])
        layers.write_text(layers.read_text() + "\n\n" + _attack(attack))
        attacked = check(["relu_forward"])[0]
        if os.getuid() == 0 or attack == "read_solutions":  # what it reads: its own user's files, or any as root
            loose = watch.fresh_checks(mine, sandbox=False, profile_name="student", seed=3)(["relu_forward"])[0]
            assert loose.passed, "the control did not leak: the attack proves nothing"
    assert attacked.points == 0 and not attacked.passed
    assert any("differs from the reference" in p.message for p in attacked.properties if not p.passed)


def test_leaving_watch_stops_the_standby_and_removes_its_folder(tmp_path, monkeypatch):
    layers = copy_solutions(tmp_path) / "layers.py"
    made: list[StandbySubmission] = []
    original = StandbySubmission.__init__

    def recorded(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(StandbySubmission, "__init__", recorded)

    def changes(path):
        layers.write_text(layers.read_text() + "\n# saved\n")
        yield {layers}
        wait_ready(made[-1])
        raise KeyboardInterrupt  # Ctrl-C while the next round's standby waits

    monkeypatch.setattr(watch, "file_changes", changes)
    run = CliRunner().invoke(main, ["check", "relu_forward", "--path", str(tmp_path), "--watch", "--seed", "1"])
    assert run.exit_code == 0, run.output
    assert "stopped watching" in run.output
    assert len(made) == watch.STANDBYS + 1  # after the first round, and one after the save's
    for standby in made:
        assert not standby._folder.path.exists()
        assert all(w.proc is None for w in standby._workers.values())
        assert not list(Path(sandbox._private_root()).glob(f"{sandbox._PRIVATE_PREFIX}{standby._folder.token}*"))
    assert made[0].staged and not any(s.staged for s in made[1:])  # those left waiting at Ctrl-C

