"""The instructor's report: built from a gradebook alone, self-contained, and rendered by a real
headless browser where one is installed (skipped, saying so, where none is)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from dlgrade.grader.grading.gradebook import Gradebook
from dlgrade.grader.outputs.instructor_report import build_report


def _exercise(name, passed, failing=(), hints=()):
    props = [{"name": "runs_on_valid_inputs", "passed": True, "checked": True, "essential": True, "weight": 1,
              "message": "", "hints": [], "replay": ""}]
    props += [{"name": p, "passed": False, "checked": True, "essential": True, "weight": 1,
               "message": "loss differs", "hints": list(hints), "replay": ""} for p in failing]
    return {"name": name, "assignment": "a1_backprop", "points": 2.0 if passed else 0.0, "max_points": 2.0,
            "passed": passed, "status": "checked", "reason": "", "properties": props}


@pytest.fixture
def gradebook(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    sum_hint = "The loss is a mean over the batch: divide the sum (and the gradient) by N."
    with Gradebook(path) as book:
        for i in range(6):
            buggy = i % 2 == 0
            exercises = [_exercise("relu_forward", True),
                         _exercise("softmax_loss", not buggy, ["loss_matches_reference"] if buggy else [],
                                   [sum_hint] if buggy else [])]
            book.record(f"student<{i}>", {"status": "graded", "score": sum(e["points"] for e in exercises),
                                          "max_score": 4.0, "seconds": 1.5 + i, "student_seconds": 0.1,
                                          "profile": "grading", "seed": None, "exercises": exercises, "error": None})
        book.record("broken", {"status": "error", "score": 0.0, "max_score": 4.0, "seconds": 0.2,
                               "student_seconds": 0.0, "profile": "grading", "seed": None, "exercises": [],
                               "error": "cannot unpack"})
    return path


def test_report_holds_the_class_picture(gradebook):
    page = build_report(gradebook)
    assert page.count("<svg") == 3  # score distribution, pass rates, grading times
    assert not re.search(r'(src|href)="(?!#|data:)', page)  # nothing to fetch: the page stands alone
    assert "loss_matches_reference</td><td>3</td>" in page  # 3 of 6 submissions fail it
    assert "divide the sum" in page and "student&lt;0&gt;" not in page.split("<h2>Grading time")[0]
    assert "<td>could not be graded</td><td>1</td>" in page


def test_report_command_and_headless_browser(gradebook, tmp_path):
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "report", "--db", str(gradebook), str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the page was not rendered in a browser")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,2400", out.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000  # a rendered page, not a blank one
