"""`dlgrade gradescope build`: the zip's real run_autograder, run against a folder laid out like
Gradescope's /autograder (DLGRADE_GRADESCOPE_ROOT), for a correct, a buggy and a broken
submission; each results.json is validated against Gradescope's documented fields."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.grader.cli import main

SEED = "7351902"
EXERCISES = ["relu_forward", "relu_backward"]
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
#: Gradescope's results.json, as its autograder specification documents it (no other field).
RESULTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "score", "max_score", "status", "output", "visibility"],
            "properties": {
                "score": {"type": "number", "minimum": 0},
                "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"},
                "name_format": {"type": "string"},
                "number": {"type": "string"},
                "output": {"type": "string"},
                "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY,
                "extra_data": {"type": "object"},
            },
        }},
    },
    "required": ["score", "tests"],
}


def layers(source: str = "") -> str:
    return (ASSIGNMENTS_DIR / "a1_backprop" / "layers.py").read_text() + "\n\n" + source


SUBMISSIONS = {
    "correct": layers(),
    "buggy": layers("def relu_backward(dout, cache):\n    (x,) = cache\n    return (x > 0) * 1.0\n"),
    "broken": layers("def relu_forward(x:\n"),
}


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """A folder laid out like /autograder: the zip unpacked in source/ (modes kept), and the
    virtual environment setup.sh would make (this one)."""
    root = tmp_path_factory.mktemp("autograder")
    seed_file = root / "seed"
    seed_file.write_text(SEED)
    seed_file.chmod(0o600)
    zip_path = root / "autograder.zip"
    args = ["gradescope", "build", "a1_backprop", str(zip_path), "--seed-file", str(seed_file),
            *[a for e in EXERCISES for a in ("--exercise", e)], "--timeout", "20"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder", "grader.json", "course_seed",
                "course/a1_backprop/manifest.toml"} <= names
        for info in zf.infolist():
            zf.extract(info, root / "source")
            (root / "source" / info.filename).chmod((info.external_attr >> 16) & 0o777)
        assert not [n for n in names if n.endswith(".py")]  # no solution (nor stub) travels
        assert (zf.getinfo("course_seed").external_attr >> 16) & 0o077 == 0
    setup = (root / "source" / "setup.sh").read_text()
    assert setup.index("apt-get update") < setup.index("apt-get install") < setup.index("pip install")
    assert "bubblewrap" in setup and "download.pytorch.org/whl/cpu" in setup and SEED not in setup
    subprocess.run(["bash", "-n", root / "source" / "setup.sh"], check=True)
    (root / "dlgrade-venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return root


@pytest.mark.parametrize("kind", list(SUBMISSIONS))
def test_run_autograder(autograder, kind):
    root = autograder
    submission = root / "submission"
    if submission.exists():
        for p in submission.iterdir():
            p.unlink()
    submission.mkdir(exist_ok=True)
    (submission / "layers.py").write_text(SUBMISSIONS[kind])  # uploaded as it is: no assignment folder
    results = root / "results" / "results.json"
    results.unlink(missing_ok=True)
    env = {**os.environ, "DLGRADE_GRADESCOPE_ROOT": str(root)}
    env.pop("DLGRADE_COURSE_SEED", None)
    run = subprocess.run([root / "source" / "run_autograder"], env=env, capture_output=True, text=True, timeout=300,
                         cwd=root)
    assert run.returncode == 0, run.stderr
    text = results.read_text()
    data = json.loads(text)
    jsonschema.validate(data, RESULTS_SCHEMA)
    assert SEED not in text and SEED not in run.stdout + run.stderr and "--seed" not in text
    assert data["stdout_visibility"] == "hidden" and data["visibility"] == "visible"
    tests = {t["name"]: t for t in data["tests"]}
    assert all(t["visibility"] == "after_due_date" for t in data["tests"])
    # one test per property; an exercise whose module does not import is one test of its own
    assert ("relu_backward: vjp_matches_reference" in tests) == (kind != "broken")
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(2, abs=0.01)
    score = {"correct": 2, "buggy": 1, "broken": 0}[kind]
    assert data["score"] == score
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(score, abs=0.01)
    if kind == "buggy":
        assert tests["relu_backward: vjp_matches_reference"]["status"] == "failed"
        assert "relu_backward: 0/1 fail" in data["output"]
    if kind == "broken":
        assert set(tests) == set(EXERCISES) and all(t["status"] == "failed" for t in data["tests"])
        assert "SyntaxError" in text or "syntax error" in text.lower()


def test_build_refuses_unknown_exercise_and_public_seed(tmp_path, monkeypatch):
    monkeypatch.delenv("DLGRADE_COURSE_SEED", raising=False)
    run = CliRunner().invoke(main, ["gradescope", "build", "a1_backprop", str(tmp_path / "a.zip")])
    assert run.exit_code == 2 and "no course seed" in run.output
    run = CliRunner().invoke(main, ["gradescope", "build", "a1_backprop", str(tmp_path / "a.zip"), "--seed", "5",
                                    "--exercise", "conv_forward_naive"])
    assert run.exit_code == 2 and "unknown" in run.output and not (tmp_path / "a.zip").exists()


def test_run_autograder_without_its_setup_still_writes_a_result(autograder, tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(autograder / "source", root / "source")  # no dlgrade-venv: setup.sh failed
    env = {**os.environ, "DLGRADE_GRADESCOPE_ROOT": str(root)}
    subprocess.run([root / "source" / "run_autograder"], env=env, check=True, timeout=60)
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, RESULTS_SCHEMA)
    assert data["score"] == 0 and "setup.sh failed" in data["output"]
