"""`dlgrade check --watch`: after the first run, a save re-checks only the exercises the changed
module can affect, and what is checked is the code as saved (never an earlier import)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from dlgrade.checkers.registry import select
from dlgrade.grader.cli import main
from dlgrade.grader.grading import watch
from helpers import A1, copy_solutions

#: softmax that forgets to normalise (fails the comparison with the reference), and its fix, of
#: the same length.
FIXED = "\n\ndef softmax(x):\n    e = np.exp(x - x.max(1, keepdims=True)); return e / e.sum(1, keepdims=True)\n"
UNNORMALISED = "\n\ndef softmax(x):\n    return np.exp(x - x.max(axis=1, keepdims=True))  #\n"
UNNORMALISED = UNNORMALISED.replace("#", "#" + "." * (len(FIXED) - len(UNNORMALISED)))


def _exercise(name):
    (exercise,) = select([name])
    return exercise


def test_a_change_affects_the_exercises_of_its_module_and_of_those_importing_it(tmp_path):
    copy_solutions(tmp_path)
    layers, net = {(A1, "layers")}, {(A1, "net")}
    assert watch.affected(_exercise("relu_forward"), layers, tmp_path, None)
    assert watch.affected(_exercise("relu_forward"), {(A1, "losses")}, tmp_path, None)  # never checked
    # net.py imports layers.py and losses.py: a save of either can change two_layer_net's verdict.
    assert watch.changed_modules([tmp_path / A1 / "layers.py"], tmp_path) == layers
    from dlgrade.checkers.exercise import ExerciseResult

    checked = ExerciseResult("x", A1, 1.0, [])
    assert watch.affected(_exercise("two_layer_net"), layers, tmp_path, checked)
    assert not watch.affected(_exercise("relu_forward"), net, tmp_path, checked)
    assert not watch.affected(_exercise("softmax"), layers, tmp_path, checked)
    # A backward needs its forward (same module here); another assignment's change affects nothing.
    assert not watch.affected(_exercise("relu_backward"), {("a2_regularization", "dropout")}, tmp_path, checked)
    # Found elsewhere, or missing: any module of its assignment may now hold it.
    assert watch.affected(_exercise("softmax"), layers, tmp_path, ExerciseResult("x", A1, 1.0, [], status="missing"))
    assert watch.affected(_exercise("softmax"), layers, tmp_path, ExerciseResult("x", A1, 1.0, [], note="moved"))
    # Paths outside the layout are no module.
    assert watch.changed_modules([tmp_path / "notes.py", tmp_path.parent / "x" / A1 / "layers.py"], tmp_path) == set()
    assert (A1, "net") in watch.changed_modules([tmp_path / A1], tmp_path)  # the folder itself moved


def test_the_loop_rechecks_only_what_changed_and_checks_the_saved_code(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a student's machine
    folder = copy_solutions(tmp_path)
    losses = folder / "losses.py"
    solution = losses.read_text()
    losses.write_text(solution + UNNORMALISED)
    asked: list[list[str]] = []
    rounds: list[dict[str, bool]] = []
    check = watch.fresh_checks(tmp_path, sandbox=False, profile_name="student", seed=3)

    def recording(names):
        asked.append(names)
        return check(names)

    def changes():
        yield {tmp_path / "README.md"}  # not a module: nothing to check
        # The fix saved with the same size and modification time as the bug: a bytecode cache
        # beside the file (keyed on both) would still hold the bug.
        before = losses.stat().st_mtime_ns
        losses.write_text(solution + FIXED)
        os.utime(losses, ns=(before, before))
        yield {losses}

    latest = watch.watch(["relu_forward", "softmax"], recording,
                         lambda fresh, changed, every: rounds.append({r.name: r.passed for r in fresh}),
                         tmp_path, changes())
    assert asked == [["relu_forward", "softmax"], ["softmax"]]
    assert rounds == [{"relu_forward": True, "softmax": False}, {"softmax": True}]
    assert [r.passed for r in latest] == [True, True]


def test_check_watch_sandboxed_from_the_command_line(tmp_path, monkeypatch):
    folder = copy_solutions(tmp_path)
    losses = folder / "losses.py"
    solution = losses.read_text()
    losses.write_text(solution + UNNORMALISED)

    def changes(path):
        assert Path(path) == tmp_path
        losses.write_text(solution + FIXED)
        yield {losses}
        raise KeyboardInterrupt  # Ctrl-C while waiting for the next save

    monkeypatch.setattr(watch, "file_changes", changes)
    run = CliRunner().invoke(main, ["check", "softmax", "--path", str(tmp_path), "--watch", "--seed", "1"])
    assert run.exit_code == 0, run.output
    first, _, second = run.output.partition("losses.py changed")
    assert "fail" in first and "pass" in second and "fail" not in second
    assert "1 of 1 exercise(s) pass" in second and "stopped watching" in second


def test_file_changes_sees_a_save_made_before_it_is_asked(tmp_path):
    (tmp_path / A1).mkdir()
    stop = threading.Event()
    saved = tmp_path / A1 / "layers.py"
    changes = watch.file_changes(tmp_path, stop_event=stop)
    time.sleep(0.5)  # the watcher is up; the first check would be running now
    saved.write_text("x = 1\n")
    threading.Timer(15, stop.set).start()  # bounds the test should the save go unseen
    seen = next(changes, set())
    stop.set()
    assert saved in seen


def test_watch_takes_a_folder(tmp_path):
    (tmp_path / "work.ipynb").write_text("{}")
    run = CliRunner().invoke(main, ["check", "--path", str(tmp_path / "work.ipynb"), "--watch"])
    assert run.exit_code == 2 and "--watch checks a folder" in run.output
