"""The pytest plugin in a course repository: one test per exercise property, points reported;
the solutions pass and the released stubs fail. pytest runs in a subprocess, in a sample course
repository made by the kit (release, ci-template, a pytest.ini)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dlgrade.assignments import ASSIGNMENTS_DIR

#: A few exercises, so the test stays quick; the plugin handles every one the same way.
SUBSET = ["--dlgrade-select=relu_forward", "--dlgrade-select=relu_backward", "--dlgrade-select=softmax_loss"]


def _course_repository(root: Path, solutions: bool) -> Path:
    root.mkdir()
    if solutions:
        shutil.copytree(ASSIGNMENTS_DIR / "a1_backprop", root / "a1_backprop",
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "release", str(root), "a1_backprop"], check=True,
                       capture_output=True)
    subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "ci-template", str(root / ".github/workflows/dlgrade.yml"),
                    "--repository", str(root), "--assignment", "a1_backprop"],
                   check=True, capture_output=True)
    (root / "pytest.ini").write_text("[pytest]\ndlgrade = true\n")
    return root


def _pytest(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *SUBSET, "-rA", *args],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300)


def test_solutions_pass_and_stubs_fail(tmp_path):
    solved = _pytest(_course_repository(tmp_path / "solved", solutions=True))
    assert solved.returncode == 0, solved.stdout[-3000:]
    assert "PASSED ::relu_backward::vjp_matches_reference" in solved.stdout
    assert "dlgrade (student profile): 5/5 points" in solved.stdout

    stubs = _pytest(_course_repository(tmp_path / "stubs", solutions=False))
    assert stubs.returncode == 1, stubs.stdout[-3000:]
    assert "FAILED ::softmax_loss::runs_on_valid_inputs" in stubs.stdout
    assert "dlgrade (student profile): 0/5 points" in stubs.stdout
    workflow = (tmp_path / "stubs" / ".github/workflows/dlgrade.yml").read_text()
    assert "autograding-grading-reporter" in workflow and "--classroom" in workflow


def test_inactive_without_the_option(tmp_path):
    repo = _course_repository(tmp_path / "repo", solutions=True)
    (repo / "pytest.ini").write_text("[pytest]\n")
    run = _pytest(repo, "--collect-only", "-q")
    assert "relu_forward" not in run.stdout and run.returncode == 5  # nothing collected


def test_check_writes_the_classroom_result_the_workflow_reports(tmp_path):
    import base64
    import json

    env = {**os.environ, "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    run = subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "check", "relu_forward", "--path", str(ASSIGNMENTS_DIR),
                          "--profile", "grading", "--classroom", str(tmp_path / "classroom.json")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    payload = json.loads((tmp_path / "classroom.json").read_text())
    assert payload["version"] == 3 and payload["status"] == "pass" and payload["tests"][0]["score"] == 1
    published = (tmp_path / "output").read_text().strip().removeprefix("result=")
    assert json.loads(base64.b64decode(published)) == payload
