"""`dlgrade prairielearn build`: the real entrypoint, run against a folder laid out like
PrairieLearn's /grade (DLGRADE_PRAIRIELEARN_ROOT), for a correct, a buggy, a broken (syntax
error) and an incomplete (missing file) submission; each results.json is checked against
PrairieLearn's external-grader result fields."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from dlgrade.grader.cli import main
from test_gradescope_autograder import EXERCISES, SEED, SUBMISSIONS

#: PrairieLearn's external-grader results.json (its documented fields, no other).
RESULTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["gradable"],
    "properties": {
        "gradable": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "message": {"type": "string"},
        "output": {"type": "string"},
        "format_errors": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "images": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "points", "max_points"],
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "points": {"type": "number", "minimum": 0},
                "max_points": {"type": "number", "minimum": 0},
                "message": {"type": "string"},
                "output": {"type": "string"},
                "images": {"type": "array"},
            },
        }},
    },
}
BUNDLE = "serverFilesCourse/dlgrade/a1_backprop"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pl") / "out"
    run = CliRunner().invoke(main, ["prairielearn", "build", "a1_backprop", str(out), "--seed", SEED,
                                    *[a for e in EXERCISES for a in ("--exercise", e)], "--timeout", "20",
                                    "--image", "course/dlgrade"])
    assert run.exit_code == 0, run.output
    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile
    assert dockerfile.index("apt-get update") < dockerfile.index("bubblewrap")
    assert "download.pytorch.org/whl/cpu" in dockerfile and "dlgrade" in dockerfile and SEED not in dockerfile
    options = json.loads((out / "info.json").read_text())["externalGradingOptions"]
    assert options["enabled"] is True and options["image"] == "course/dlgrade"
    assert options["entrypoint"] == f"/grade/{BUNDLE}/run_grader" and options["serverFilesCourse"] == ["dlgrade/a1_backprop/"]
    assert (out / BUNDLE / "course_seed").stat().st_mode & 0o077 == 0
    assert not list(out.rglob("*.py"))
    return out


@pytest.mark.parametrize("kind", [*SUBMISSIONS, "missing"])
def test_entrypoint(built, tmp_path, kind):
    root = tmp_path / "grade"
    shutil.copytree(built / "serverFilesCourse", root / "serverFilesCourse")  # as PrairieLearn mounts it
    student = root / "student"
    student.mkdir()
    if kind == "missing":
        (student / "notes.txt").write_text("layers.py is not here\n")
    else:
        (student / "layers.py").write_text(SUBMISSIONS[kind])
    env = {**os.environ, "DLGRADE_PRAIRIELEARN_ROOT": str(root),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DLGRADE_COURSE_SEED", None)
    run = subprocess.run([root / BUNDLE / "run_grader"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    text = (root / "results" / "results.json").read_text()
    data = json.loads(text)
    jsonschema.validate(data, RESULTS_SCHEMA)
    assert SEED not in text and SEED not in run.stdout + run.stderr
    if kind in ("broken", "missing"):
        assert data["gradable"] is False and data["score"] == 0
        assert ("line" in data["format_errors"][0]) if kind == "broken" else data["format_errors"] == ["layers.py: missing (submit it)"]
        return
    assert data["gradable"] is True and "format_errors" not in data
    assert data["score"] == {"correct": 1.0, "buggy": 0.5}[kind]
    tests = {t["name"]: t for t in data["tests"]}
    assert set(tests) == set(EXERCISES)
    assert tests["relu_backward"]["points"] == (1 if kind == "correct" else 0)


def test_no_file_of_the_submission_stands_in_for_a_module_of_the_grader(built, tmp_path):
    """Started in the student's folder, the entrypoint still imports nothing from it: a
    submitted tomllib.py (a module the grader imports) never runs in the grading process."""
    root = tmp_path / "grade"
    shutil.copytree(built / "serverFilesCourse", root / "serverFilesCourse")
    student = root / "student"
    student.mkdir()
    (student / "layers.py").write_text(SUBMISSIONS["correct"])
    marker = tmp_path / "ran"
    for module in ("tomllib", "json", "numpy"):
        (student / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').write('{module}')\nraise SystemExit\n")
    env = {**os.environ, "DLGRADE_PRAIRIELEARN_ROOT": str(root),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run([root / BUNDLE / "run_grader"], env=env, capture_output=True, text=True, timeout=300,
                         cwd=student)
    assert run.returncode == 0 and not marker.exists(), (run.stderr, marker.exists() and marker.read_text())
    assert json.loads((root / "results" / "results.json").read_text())["score"] == 1.0
