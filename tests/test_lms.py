"""The LMS side of the gradebook: students from a roster and from Gradescope's
submission_metadata.yml (untrusted files, read with bounds), kept in the gradebook; Canvas's
gradebook import; the generic CSV's id and e-mail columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlgrade.grader.cli import main
from dlgrade.grader.grading.gradebook import Gradebook
from dlgrade.grader.grading.roster import MAX_FIELD, RosterError, read_gradescope_metadata, read_roster
from dlgrade.grader.outputs.formats.canvas import POINTS_POSSIBLE

METADATA = """\
submission_101:
  :submitters:
  - :name: Ada Lovelace
    :sid: '9001'
    :email: ada@example.edu
  :created_at: 2026-11-30 10:00:00.000000000 -08:00
  :score: 0.0
submission_102:
  :submitters:
  - :name: "=HYPERLINK(\\"http://x\\",\\"y\\")"
    :sid: 9002
    :email: eve@example.edu
  - :name: Grace Hopper
    :sid: '9003'
    :email: grace@example.edu
"""


def exercise(name: str, assignment: str, points: float, possible: float) -> dict:
    return {"name": name, "assignment": assignment, "points": points, "max_points": possible,
            "passed": points == possible, "status": "checked", "reason": "", "seconds": 0.1,
            "student_seconds": 0.0, "properties": []}


def result(*exercises: dict, status: str = "graded") -> dict:
    return {"status": status, "score": sum(e["points"] for e in exercises),
            "max_score": sum(e["max_points"] for e in exercises), "seconds": 1.0, "student_seconds": 0.5,
            "profile": "grading", "seed": None, "error": None if status == "graded" else "broken zip",
            "exercises": list(exercises)}


@pytest.fixture
def book(tmp_path) -> Path:
    """A gradebook of three submissions over two assignments (as `grade` records them)."""
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as gb:
        gb.record("submission_101", result(exercise("relu_forward", "a1_backprop", 1, 1),
                                           exercise("dropout_forward", "a2_regularization", 1, 3)))
        gb.record("submission_102", result(exercise("relu_forward", "a1_backprop", 0, 1),
                                           exercise("dropout_forward", "a2_regularization", 3, 3)))
        gb.record("submission_103", result(status="error"))
        gb.set_students(read_gradescope_metadata(write(tmp_path / "submission_metadata.yml", METADATA)))
    return db


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_gradescope_metadata(tmp_path):
    people = read_gradescope_metadata(write(tmp_path / "submission_metadata.yml", METADATA))
    assert people["submission_101"] == [{"name": "Ada Lovelace", "sis_user_id": "9001", "email": "ada@example.edu"}]
    assert [p["sis_user_id"] for p in people["submission_102"]] == ["9002", "9003"]  # a group; an int sid read as text


@pytest.mark.parametrize("text, words", [
    ("a: &x [1, 2]\nb: *x\n", "not readable"),  # aliases: a small file that expands without bound
    ("- one\n- two\n", "expected a mapping"),
    ("s:\n  :submitters: 5\n", "not a list"),
    ("s:\n  :submitters:\n  - :name: !!python/object:os.system ls\n", "not readable"),
    ("s:\n  :submitters:\n  - :name: " + "x" * (MAX_FIELD + 1) + "\n", "longer than"),
    ("s:\n  :submitters:\n  - :name: [a, b]\n", "expected text"),
    ("[" * 5000, "not readable"),
])
def test_metadata_is_read_with_bounds(tmp_path, text, words):
    with pytest.raises(RosterError, match=words):
        read_gradescope_metadata(write(tmp_path / "submission_metadata.yml", text))


def test_roster(tmp_path):
    roster = write(tmp_path / "roster.csv", "Submission,Student,SIS User ID,Email,Section,ignored\n"
                                            "alice,Alice A,1001,alice@example.edu,L01,x\n\n"
                                            "team,Bo,1002,,L02,\nteam,Cy,1003,,L02,\n")
    people = read_roster(roster)
    assert people["alice"] == [{"name": "Alice A", "sis_user_id": "1001", "email": "alice@example.edu",
                                "section": "L01"}]
    assert [p["name"] for p in people["team"]] == ["Bo", "Cy"]
    with pytest.raises(RosterError, match="no `submission` column"):
        read_roster(write(tmp_path / "r.csv", "name,email\na,b\n"))
    with pytest.raises(RosterError, match="line 2: no submission name"):
        read_roster(write(tmp_path / "r.csv", "submission,name\n,b\n"))
    with pytest.raises(RosterError, match="not UTF-8"):
        (tmp_path / "r.csv").write_bytes(b"submission,name\na,\xff\n")
        read_roster(tmp_path / "r.csv")


def test_canvas_export_with_ids_from_metadata_and_a_roster(book, tmp_path):
    roster = write(tmp_path / "roster.csv", "submission,name,id,sis_user_id,sis_login_id,section\n"
                                            "submission_101,Ada Lovelace,55,9001,ada,L01\n")
    out = tmp_path / "canvas.csv"
    run = CliRunner().invoke(main, ["export", "--db", str(book), "--format", "canvas", "--out", str(out),
                                    "--roster", str(roster)])
    assert run.exit_code == 0, run.output
    assert "submission_103" in run.output and "cannot match" in run.output  # no id known: said
    header, possible, *students = rows(out.read_text())
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "a1_backprop", "a2_regularization"]
    assert possible == [POINTS_POSSIBLE, "", "", "", "", "1", "3"]
    assert students[0] == ["Ada Lovelace", "55", "9001", "ada", "L01", "1", "1"]  # the roster replaced the metadata
    # a group submission: one row per student; a student's text cannot become a formula
    assert students[1][0].startswith("'=HYPERLINK") and students[1][2:] == ["9002", "", "", "0", "3"]
    assert students[2][:3] == ["Grace Hopper", "", "9003"]
    assert students[3] == ["submission_103", "", "", "", "", "", ""]  # not graded: blank, not 0
    with Gradebook(book) as gb:  # the gradebook keeps them
        assert gb.students()["submission_101"][0]["sis_login_id"] == "ada"


def test_csv_gains_student_id_and_email(book, tmp_path):
    run = CliRunner().invoke(main, ["export", "--db", str(book), "--format", "csv", "--out", str(tmp_path / "g.csv")])
    assert run.exit_code == 0, run.output
    header, *table = rows((tmp_path / "g.csv").read_text())
    assert header[:4] == ["submission", "student", "id", "email"]
    assert [r[0] for r in table] == ["submission_101", "submission_102", "submission_103"]
    assert table[0][1:4] == ["Ada Lovelace", "9001", "ada@example.edu"]
    assert table[1][1].startswith("'=HYPERLINK") and table[1][2] == "9002; 9003"


def test_roster_errors_are_usage_errors(book, tmp_path):
    run = CliRunner().invoke(main, ["export", "--db", str(book), "--format", "canvas", "--out", str(tmp_path / "c.csv"),
                                    "--roster", str(write(tmp_path / "r.csv", "who\nx\n"))])
    assert run.exit_code == 2 and "no `submission` column" in run.output
