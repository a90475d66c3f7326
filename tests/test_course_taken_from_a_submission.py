"""Round 3 attacks on course folders: a submission that brings a course.toml and checks/ of its
own, whose checks/__init__.py would run unconfined in the grading process.

Each test asserts the behaviour the product promises; it fails while the finding is open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest



def dlgrade(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DLGRADE_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-c", "import sys; from dlgrade.grader.cli import main; "
                           "sys.argv[0] = 'dlgrade'; main()", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("confinement", ["bubblewrap", "landlock"])
def test_r3_6_a_student_repository_with_an_assignments_folder_is_not_a_course(tmp_path, confinement):
    """R3-6: `dlgrade check --profile grading` run in a student's repository (the command the CI
    template runs; an instructor re-running it in a clone) refuses a course.toml found in the
    folder it checks, but the default --path is ./assignments when that exists: the course root
    (the current folder) is then above what is checked, not inside it, and is taken. Its
    checks/__init__.py runs in the grading process, unconfined, and reads the course seed
    (dlgrade.grader.cli._environment_seed) though DLGRADE_COURSE_SEED was removed from the
    environment."""
    student = tmp_path / "mallory"
    made = dlgrade("course", "init", str(student), "a1_backprop", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    (student / "assignments" / "a1_backprop").mkdir(parents=True)
    (student / "assignments" / "a1_backprop" / "layers.py").write_text(
        "def relu_forward(x):\n    raise NotImplementedError\n")
    owned = tmp_path / "owned"
    (student / "checks" / "__init__.py").write_text(
        "import sys\n"
        f"open({str(owned)!r}, 'w').write(repr(sys.modules['dlgrade.grader.cli']._environment_seed))\n")
    env = {"DLGRADE_COURSE_SEED": "4242"} | ({"DLGRADE_NO_BWRAP": "1"} if confinement == "landlock" else {})
    run = dlgrade("check", "relu_forward", "--profile", "grading", cwd=student, env=env)
    assert not owned.exists(), f"the student's checks ran in the grader and read the seed: {owned.read_text()}"
    assert run.returncode == 2 and "never taken from what is graded" in run.stderr, run.stderr[-2000:]
