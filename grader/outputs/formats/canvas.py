"""The gradebook as a CSV for Canvas's gradebook import (format "canvas").

Canvas matches a row to a student by ID, SIS User ID or SIS Login ID, so those come from the
gradebook's students (a roster, `--roster`, or a Gradescope bulk export's metadata); a submission
whose students are not known is a row with its name and no id, which Canvas's import preview
lists as a student it cannot find (see `unidentified`). One row per student: a group submission
gives each of its students the group's points. One column per assignment (its points, with
overrides); the row under the header is Canvas's own "Points Possible" row, which Canvas reads
as the points possible, never as a student. A submission that could not be graded at all is
left blank (Canvas then keeps the grade it has), not 0.

What identifies a student comes from files a student can write into (a Gradescope sid is what
the student typed), so an ID, SIS User ID or SIS Login ID claimed by the students of two
submissions is left out of every row that claims it (see `shared_ids`: the instructor settles
it in the roster), and a name that reads as Canvas's own Points Possible label is never written
as one.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, number, shown

NAME = "canvas"
HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
#: Canvas writes this row in its own exports (the label indented), and reads it back as points possible.
POINTS_POSSIBLE = "    Points Possible"


def default_out(one_submission: bool) -> str:
    return "canvas.csv"


def write(results: list[Result], out: Output) -> list[Path]:
    buffer = io.StringIO()
    write_canvas(results, buffer)
    return out.emit(buffer.getvalue())


def assignment_columns(results: Iterable[Result]) -> dict[str, float]:
    """Every assignment graded in any result, in the order first met, with its points possible."""
    columns: dict[str, float] = {}
    seen: set[tuple[str, str]] = set()
    for r in results:
        for e in r.get("exercises", []):
            key = (e.get("assignment", ""), e["name"])
            if key not in seen:
                seen.add(key)
                columns[key[0]] = columns.get(key[0], 0.0) + float(e["max_points"])
    return columns


def unidentified(results: Iterable[Result]) -> list[str]:
    """The submissions no student of which Canvas can find (no ID, SIS User ID nor SIS Login ID)."""
    return [r["name"] for r in results
            if not any(p.get(k) for p in r.get("students", []) for k in ("id", "sis_user_id", "sis_login_id"))]


ID_COLUMNS = ("id", "sis_user_id", "sis_login_id")


def shared_ids(results: Iterable[Result]) -> dict[str, list[str]]:
    """Each ID, SIS User ID or SIS Login ID that students of more than one submission claim, with
    those submissions: whichever row Canvas matched would decide another student's grade."""
    claims: dict[str, set[str]] = {}
    for r in results:
        for person in r.get("students", []):
            for k in ID_COLUMNS:
                if person.get(k):
                    claims.setdefault(f"{k}={person[k]}", set()).add(r["name"])
    return {key: sorted(names) for key, names in claims.items() if len(names) > 1}


def _student_name(name: str) -> str:
    """The Student cell: a name that Canvas would read as its Points Possible row is marked."""
    return f"{name} (student)" if name.strip().casefold() == POINTS_POSSIBLE.strip().casefold() else name


def write_canvas(results: list[Result], stream) -> None:
    """Canvas's gradebook CSV: Student, ID, SIS User ID, SIS Login ID, Section, one column per
    assignment; the Points Possible row; one row per student (see the module's docstring)."""
    columns = assignment_columns(results)
    writer = csv.writer(stream, lineterminator="\n")
    cell = escape.csv_cell
    writer.writerow([*HEADER, *map(cell, columns)])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", *(shown(p) for p in columns.values())])
    shared = {tuple(key.split("=", 1)) for key in shared_ids(results)}
    for r in results:
        earned: dict[str, float] = {}
        for e in r.get("exercises", []):
            earned[e.get("assignment", "")] = earned.get(e.get("assignment", ""), 0.0) + float(e["points"])
        scores = [shown(number(earned[a])) if r["status"] != "error" and a in earned else "" for a in columns]
        for person in r.get("students") or [{"name": r["name"]}]:
            ids = [person.get(k, "") if (k, person.get(k, "")) not in shared else "" for k in ID_COLUMNS]
            name = _student_name(escape.one_line(person.get("name", "") or r["name"]))
            writer.writerow([cell(name), *(cell(escape.one_line(v)) for v in ids),
                             cell(escape.one_line(person.get("section", "")))] + scores)
