"""`dlgrade ci-template`: the workflow's names are the ones GitHub Classroom's reporter needs, it
installs after `apt-get update`, takes the seed from the secret, and its grading command, run
here on a one-assignment repository, reports that assignment's maximum (not the course's)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dlgrade.checkers.registry import select
from dlgrade.grader.cli import main
from dlgrade.grader.release import release

A1_MAX = sum(e.points for e in select(["a1_backprop"]))


@pytest.fixture
def repository(tmp_path) -> Path:
    """A student repository of one assignment, as released (every exercise a stub)."""
    repo = tmp_path / "repo"
    release(repo, ["a1_backprop"])
    return repo


def write_template(repo: Path, *args: str) -> tuple[Path, dict]:
    run = CliRunner().invoke(main, ["ci-template", "--repository", str(repo), *args])
    assert run.exit_code == 0, run.output
    out = repo / (".gitlab-ci.yml" if "--gitlab" in args else ".github/workflows/classroom.yml")
    return out, yaml.safe_load(out.read_text())


def test_github_workflow_runs_and_reports_this_repositorys_maximum(repository, tmp_path):
    _, workflow = write_template(repository)
    assert workflow["name"] == "Autograding Tests"
    assert list(workflow["jobs"]) == ["run-autograding-tests"]
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install dlgrade")["run"]
    assert install.index("apt-get update") < install.index("apt-get install") < install.index("pip install")
    check = next(s for s in steps if s.get("id") == "dlgrade")
    assert check["env"]["DLGRADE_COURSE_SEED"] == "${{ secrets.DLGRADE_COURSE_SEED }}"
    reporter = next(s for s in steps if str(s.get("uses", "")).startswith("classroom-resources/autograding-grading-reporter"))
    assert reporter["with"]["runners"] == "dlgrade"
    assert reporter["env"]["DLGRADE_RESULTS"] == "${{ steps.dlgrade.outputs.result }}"
    command = shlex.split(check["run"].split("||")[0])
    assert command[:3] == ["dlgrade", "check", "a1_backprop"] and "--junit" in command

    # the step's command, run here as the runner would (the secret given, GitHub's files set)
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    env = {**os.environ, "CI": "true", "DLGRADE_COURSE_SEED": "90210", "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(summary)}
    dlgrade = str(Path(sys.executable).parent / "dlgrade")
    run = subprocess.run([dlgrade, *command[1:]], cwd=repository, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr  # stubs: every exercise fails, and the files are written
    assert "public default seed" not in run.stderr
    classroom = json.loads((repository / "classroom.json").read_text())
    assert classroom["max_score"] == A1_MAX and len(classroom["tests"]) == len(select(["a1_backprop"]))
    junit = ET.parse(repository / "junit.xml").getroot()
    points = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert float(points["max_points"]) == A1_MAX
    assert output.read_text().startswith("result=") and "dlgrade" in summary.read_text()
    assert "90210" not in run.stdout + run.stderr + (repository / "junit.xml").read_text()


def test_gitlab_template(repository):
    _, pipeline = write_template(repository, "--gitlab")
    job = pipeline["dlgrade"]
    before = "\n".join(job["before_script"])
    assert before.index("apt-get update") < before.index("apt-get install") < before.index("pip install")
    script = "\n".join(job["script"])
    assert "dlgrade check a1_backprop --path . --profile grading" in script and "--junit junit.xml" in script
    assert job["artifacts"]["reports"]["junit"] == "junit.xml" and job["artifacts"]["when"] == "always"


def test_no_assignment_is_a_usage_error(tmp_path):
    run = CliRunner().invoke(main, ["ci-template", "--repository", str(tmp_path)])
    assert run.exit_code == 2 and "holds no assignment" in run.output


def test_an_empty_secret_is_no_seed(tmp_path, monkeypatch):
    """A workflow whose secret was never set passes an empty DLGRADE_COURSE_SEED: that is the
    public default (with its warning), not a usage error that would score the repository 0."""
    release(tmp_path, ["a1_backprop"])
    monkeypatch.setenv("DLGRADE_COURSE_SEED", "")
    run = CliRunner().invoke(main, ["check", "relu_forward", "--path", str(tmp_path), "--profile", "grading",
                                    "--no-sandbox"])
    assert run.exit_code == 1 and "public default seed" in run.output
