"""`dlgrade grade --regrade-only NAME` regrades chosen submissions into the same gradebook, and
`dlgrade override` records a manual change that every export and the class report honour and
show, through regrades; a Gradescope bulk export's students are kept on the way."""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.grader.cli import main
from dlgrade.grader.grading.batch import UnknownSubmissions, grade_batch
from dlgrade.grader.grading.gradebook import Gradebook
from dlgrade.grader.outputs.export import export, load_results
from dlgrade.grader.outputs.instructor_report import build_report

BUG = "\n\ndef relu_forward(x):\n    return x, (x,)\n"
REASON = "regraded by hand: <b>the TA</b> checked it"


def upload(folder: Path, source: str = "") -> None:
    """A Gradescope submission folder: the student's layers.py at its top level."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layers.py").write_text((ASSIGNMENTS_DIR / "a1_backprop" / "layers.py").read_text() + source)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bulk")
    export_dir = root / "export"
    upload(export_dir / "submission_1")
    upload(export_dir / "submission_2", BUG)
    (export_dir / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada\n    :sid: '1'\n    :email: ada@example.edu\n"
        "submission_2:\n  :submitters:\n  - :name: Bob\n    :sid: '2'\n    :email: bob@example.edu\n")
    db = root / "gradebook.sqlite"
    summary = grade_batch(export_dir, ["relu_forward"], db, jobs=1, seed=11, sandbox=False, progress=False)
    assert summary["graded"] == 2 and summary["warnings"] == []
    return export_dir, db


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_students_from_the_bulk_export_are_kept(graded):
    _, db = graded
    students = {r["name"]: r["students"] for r in load_results(db)}
    assert students == {"submission_1": [{"name": "Ada", "sis_user_id": "1", "email": "ada@example.edu"}],
                        "submission_2": [{"name": "Bob", "sis_user_id": "2", "email": "bob@example.edu"}]}


def test_override_then_regrade_only(graded, tmp_path):
    export_dir, db = graded
    before = {r["name"]: r for r in load_results(db)}
    assert before["submission_2"]["score"] == 0 and before["submission_1"]["score"] == 1

    assert run("override", "submission_2", "relu_forward", "2", "--reason", "x", "--db", str(db)).exit_code == 2
    assert run("override", "submission_2", "softmax", "1", "--reason", "x", "--db", str(db)).exit_code == 2
    assert run("override", "nobody", "relu_forward", "1", "--reason", "x", "--db", str(db)).exit_code == 2
    done = run("override", "submission_2", "relu_forward", "1", "--reason", REASON, "--db", str(db))
    assert done.exit_code == 0, done.output
    assert "relu_forward now 1/1 (graded 0)" in done.output

    # every export honours it and shows it
    result = {r["name"]: r for r in load_results(db)}["submission_2"]
    assert result["score"] == 1 and result["overrides"][0]["reason"] == REASON
    [sheet] = export(db, "csv", tmp_path / "g.csv")
    table = {row[0]: row for row in csv.reader(io.StringIO(sheet.read_text()))}
    assert table["submission_2"][4] == "1" and REASON in table["submission_2"][-1]
    [canvas] = export(db, "canvas", tmp_path / "c.csv")
    assert "Bob,,2,,,1" in canvas.read_text()
    gradescope = json.loads(export(db, "gradescope", tmp_path / "gs.json", submission="submission_2")[0].read_text())
    assert gradescope["score"] == 1 and REASON in gradescope["tests"][0]["output"]
    prairielearn = json.loads(export(db, "prairielearn", tmp_path / "pl.json", submission="submission_2")[0].read_text())
    assert prairielearn["score"] == 1.0 and REASON in prairielearn["tests"][0]["message"]
    junit = ET.parse(export(db, "junit", tmp_path / "j.xml")[0]).getroot()
    props = {p.get("name"): p.get("value") for s in junit if s.get("name") == "submission_2" for p in s.iter("property")}
    assert props["points"] == "1" and REASON in props["override:relu_forward"]
    feedback = export(db, "feedback", tmp_path / "fb")
    assert "TA" in next(p for p in feedback if p.stem == "submission_2").read_text()
    report = build_report(db)
    assert "&lt;b&gt;the TA&lt;/b&gt;" in report and "<b>the TA</b>" not in report  # shown, escaped

    # the student's fixed file, regraded alone: the other submission is not graded again
    upload(export_dir / "submission_2")
    graded_at = {r["name"]: r["graded_at"] for r in load_results(db)}
    with Gradebook(db) as book:  # mark submission_1's row, so that a regrade of it would show
        book._db.execute("UPDATE submissions SET graded_at = 'untouched' WHERE name = 'submission_1'")
    regrade = run("grade", str(export_dir), "--assignment", "relu_forward", "--db", str(db), "--no-sandbox", "--seed",
                  "11", "--jobs", "1", "--no-progress", "--regrade-only", "submission_2")
    assert regrade.exit_code == 0, regrade.output
    after = {r["name"]: r for r in load_results(db)}
    assert after["submission_1"]["graded_at"] == "untouched"
    assert after["submission_2"]["overrides"][0]["original"] == 1  # regraded: it passes now
    assert after["submission_2"]["exercises"][0]["override"]["reason"] == REASON  # the override outlives it
    assert graded_at["submission_2"] <= after["submission_2"]["graded_at"]


def test_regrade_only_names_what_the_folder_lacks(graded):
    export_dir, db = graded
    with pytest.raises(UnknownSubmissions, match="nobody"):
        grade_batch(export_dir, ["relu_forward"], db, jobs=1, seed=11, sandbox=False, progress=False, only=["nobody"])
    result = run("grade", str(export_dir), "--assignment", "relu_forward", "--db", str(db), "--no-sandbox", "--seed",
                 "11", "--regrade-only", "nobody", "--regrade")
    assert result.exit_code == 2 and "not both" in result.output
