"""The gradebook as a CSV, for spreadsheets and LMS imports (format "csv")."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TextIO

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, exercise_columns, number, percent, shown


NAME = "csv"
#: Label of the CSV row that gives the points possible per exercise.
MAX_ROW_LABEL = "(max points)"


def default_out(one_submission: bool) -> str:
    return "gradebook.csv"


def write(results: list[Result], out: Output) -> list[Path]:
    buffer = io.StringIO()
    write_csv(results, buffer)
    return out.emit(buffer.getvalue())


def write_csv(results: list[Result], stream: TextIO) -> None:
    """One row per submission: name, points per exercise, total, percent, status. The first row
    under the header gives the points possible, so a spreadsheet can check the totals.

    An exercise a submission has no result for (it could not be graded at all, or was graded on
    other exercises) is left blank rather than 0, so "not graded" does not read as "earned
    nothing"; its total counts it as 0 and its status says why."""
    columns = exercise_columns(results)
    possible = number(sum(columns.values()))
    writer = csv.writer(stream, lineterminator="\n")
    cell = escape.csv_cell
    writer.writerow(["submission", *map(cell, columns), "total", "percent", "status"])
    writer.writerow([MAX_ROW_LABEL, *(shown(m) for m in columns.values()), shown(possible), "100", ""])
    for r in results:
        earned = {e["name"]: number(e["points"]) for e in r.get("exercises", [])}
        total = number(sum(earned.values()))
        writer.writerow([cell(r["name"]), *(shown(earned[name]) if name in earned else "" for name in columns),
                         shown(total), shown(percent(total, possible)), cell(r["status"])])
