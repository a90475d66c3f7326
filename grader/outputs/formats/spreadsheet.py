"""The gradebook as a CSV, for spreadsheets and LMS imports (format "csv")."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TextIO

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, exercise_columns, number, percent, shown


NAME = "csv"


def default_out(one_submission: bool) -> str:
    return "gradebook.csv"


def write(results: list[Result], out: Output) -> list[Path]:
    buffer = io.StringIO()
    write_csv(results, buffer)
    return out.emit(buffer.getvalue())


def max_header(name: str, possible: float) -> str:
    """A column's header with its points possible: `relu_forward (max 1)`."""
    return f"{name} (max {shown(possible)})"


def write_csv(results: list[Result], stream: TextIO) -> None:
    """One row per submission: name, then `student`, `id` and `email` where any submission's
    students are known (a group's joined by "; "; id: the SIS user id, else the LMS id), points
    per exercise, total, percent, status. The points possible are in the headers
    (`relu_forward (max 1)`, `total (max 5)`), so that every row below the header is a
    submission: an LMS or script importing the sheet meets no row that is not a student.

    An exercise a submission has no result for (it could not be graded at all, or was graded on
    other exercises) is left blank rather than 0, so "not graded" does not read as "earned
    nothing"; its total counts it as 0 and its status says why. An overridden exercise shows
    its override's points, and the `overrides` column says which and why."""
    columns = exercise_columns(results)
    possible = number(sum(columns.values()))
    identified = any(r.get("students") for r in results)
    overridden = any(r.get("overrides") for r in results)
    writer = csv.writer(stream, lineterminator="\n")
    cell = escape.csv_cell
    writer.writerow(["submission", *(["student", "id", "email"] if identified else []),
                     *(cell(max_header(name, m)) for name, m in columns.items()), max_header("total", possible),
                     "percent", "status", *(["overrides"] if overridden else [])])
    for r in results:
        earned = {e["name"]: number(e["points"]) for e in r.get("exercises", [])}
        total = number(sum(earned.values()))
        people = r.get("students", [])
        who = ["; ".join(escape.one_line(p.get(k, "")) for p in people if p.get(k)) for k in ("name", "id", "email")]
        who[1] = "; ".join(escape.one_line(p.get("sis_user_id") or p.get("id", "")) for p in people
                           if p.get("sis_user_id") or p.get("id"))
        notes = "; ".join(f"{o['exercise']}: {shown(o['points'])} ({escape.one_line(o['reason'])})"
                          for o in r.get("overrides", []) if o.get("applied"))
        writer.writerow([cell(r["name"]), *(map(cell, who) if identified else []),
                         *(shown(earned[name]) if name in earned else "" for name in columns),
                         shown(total), shown(percent(total, possible)), cell(r["status"]),
                         *([cell(notes)] if overridden else [])])
