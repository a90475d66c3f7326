"""Attacks on the LMS files: what a student can type as their Gradescope name or id
reaches submission_metadata.yml, and from there the batch and the Canvas export.

"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlgrade.grader.cli import main
from dlgrade.grader.grading.gradebook import Gradebook
from dlgrade.grader.grading.roster import RosterError, read_gradescope_metadata


def metadata(name: str, sid: str = "'1'") -> str:
    return f"submission_1:\n  :submitters:\n  - :name: {name}\n    :sid: {sid}\n    :email: m@example.edu\n"


# A plain YAML scalar that PyYAML's SafeLoader resolves as a timestamp but cannot build: a date
# that does not exist, an out-of-range month, a UTC offset of more than a day. Ruby's YAML
# emitter (Gradescope writes the file) leaves such a string unquoted, since Ruby does not read it
# as a date either.
IMPOSSIBLE_DATES = ["2020-02-30", "2020-13-45", "2001-12-14t21:59:43.10-99:00"]


@pytest.mark.parametrize("name", IMPOSSIBLE_DATES)
def test_a_name_that_looks_like_an_impossible_date_is_read_as_the_name_it_is(tmp_path, name):
    """A name like 2020-02-30 is a string to Gradescope; read as YAML's timestamp it raised a bare
    ValueError from the constructor. Every scalar is read as the text it is."""
    path = tmp_path / "submission_metadata.yml"
    path.write_text(metadata(name))
    assert read_gradescope_metadata(path)["submission_1"][0]["name"] == name


def test_a_tag_in_the_metadata_constructs_nothing(tmp_path):
    """A tag is refused, never constructed."""
    path = tmp_path / "submission_metadata.yml"
    path.write_text(metadata('!!python/object/apply:os.system ["touch ' + str(tmp_path / "ran") + '"]'))
    with pytest.raises(RosterError):
        read_gradescope_metadata(path)
    assert not (tmp_path / "ran").exists()


def test_the_batch_survives_such_a_name(tmp_path):
    """End to end: `dlgrade grade` of a Gradescope bulk export whose metadata holds one
    such name stops before grading anyone (traceback), rather than grading with a warning."""
    export = tmp_path / "export"
    (export / "submission_1" / "a1_backprop").mkdir(parents=True)
    (export / "submission_1" / "a1_backprop" / "layers.py").write_text("def relu_forward(x):\n    raise NotImplementedError\n")
    (export / "submission_metadata.yml").write_text(metadata("2020-02-30"))
    run = CliRunner().invoke(main, ["grade", str(export), "--db", str(tmp_path / "gb.sqlite"), "--public-seed",
                                    "--assignment", "a1_backprop"])
    assert not isinstance(run.exception, ValueError), run.output
    with Gradebook(tmp_path / "gb.sqlite") as book:
        assert [r["name"] for r in book.results()] == ["submission_1"]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_student_cannot_take_another_students_sis_id_unnoticed(tmp_path):
    """ the Gradescope sid is what the student typed; Mallory gives the victim's SIS User
    ID. The Canvas export then holds two rows for SIS User ID 9001 with different points, and
    says nothing: which one Canvas keeps decides the victim's grade."""
    db = tmp_path / "gb.sqlite"
    exercise = lambda pts: {"name": "relu_forward", "assignment": "a1_backprop", "points": pts, "max_points": 1,
                            "passed": pts == 1, "status": "checked", "reason": "", "seconds": 0.1,
                            "student_seconds": 0.0, "properties": []}
    result = lambda pts: {"status": "graded", "score": pts, "max_score": 1, "seconds": 1.0, "student_seconds": 0.5,
                          "profile": "grading", "seed": None, "error": None, "exercises": [exercise(pts)]}
    meta = tmp_path / "submission_metadata.yml"
    meta.write_text("submission_1:\n  :submitters:\n  - :name: Victim\n    :sid: '9001'\n"
                    "submission_2:\n  :submitters:\n  - :name: Mallory\n    :sid: '9001'\n")
    with Gradebook(db) as gb:
        gb.record("submission_1", result(1))
        gb.record("submission_2", result(0))
        gb.set_students(read_gradescope_metadata(meta))
    out = tmp_path / "canvas.csv"
    run = CliRunner().invoke(main, ["export", "--db", str(db), "--format", "canvas", "--out", str(out)])
    ids = [r[2] for r in rows(out.read_text())[2:]] if out.exists() else []
    refused_or_warned = run.exit_code != 0 or "9001" in run.output
    assert run.exit_code == 0 and "9001" in run.output and "9001" not in ids, (ids, run.output)


def test_a_student_named_points_possible_is_not_a_points_possible_row(tmp_path):
    """ Canvas's importer recognises its "Points Possible" row by the first cell's text;
    a student who names themself "Points Possible" gets a row whose first cell says exactly
    that (csv_cell escapes formulas, not this), after the real one."""
    db = tmp_path / "gb.sqlite"
    meta = tmp_path / "submission_metadata.yml"
    meta.write_text(metadata("'    Points Possible'", "'77'"))
    with Gradebook(db) as gb:
        gb.record("submission_1", {"status": "graded", "score": 0, "max_score": 1, "seconds": 1.0,
                                   "student_seconds": 0.5, "profile": "grading", "seed": None, "error": None,
                                   "exercises": [{"name": "relu_forward", "assignment": "a1_backprop", "points": 0,
                                                  "max_points": 1, "passed": False, "status": "checked",
                                                  "reason": "", "seconds": 0.1, "student_seconds": 0.0,
                                                  "properties": []}]})
        gb.set_students(read_gradescope_metadata(meta))
    out = tmp_path / "canvas.csv"
    CliRunner().invoke(main, ["export", "--db", str(db), "--format", "canvas", "--out", str(out)])
    students = rows(out.read_text())[2:]
    assert [row[0].strip().casefold() for row in students] == ["points possible (student)"], students
    assert students[0][-1] == "0"  # the student's own row, with the student's points
