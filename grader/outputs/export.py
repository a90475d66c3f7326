"""The gradebook in the formats other tools read, one module each in grader/outputs/formats/: a CSV
for spreadsheets and LMS imports (`spreadsheet`), Canvas's gradebook import (`canvas`), Gradescope's and PrairieLearn's `results.json`
(`gradescope`, `prairielearn`), the GitHub Classroom autograding runner JSON (`classroom`), JUnit
XML for CI dashboards (`junit`), and a Markdown feedback file per student (`feedback`).

Every format is built from `Gradebook.results()` alone, so an export never reruns student code.
The failure text is the one `dlgrade check` prints (grader.outputs.report.failure_lines), as plain
text: the messages were produced at the grading profile and already withhold hidden examples'
values; the replay command is dropped as well wherever the seed is secret.

Names, messages, hints and reasons come from submissions: each format writes them through its
escaper in grader.outputs.escape (CSV formulas, XML characters, Markdown and HTML, JSON, CI logs), and
the formats that write one file per submission name it by grader.boundary.intake.file_names, never by
the submission's name as it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, TextIO

from dlgrade.grader.grading.gradebook import Gradebook
from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import (Format, Output, Result, canvas, classroom, feedback, gradescope, junit,
                                            prairielearn, spreadsheet)

_MODULES: dict[str, Format] = {m.NAME: m for m in (spreadsheet, canvas, gradescope, prairielearn, classroom, junit,
                                                   feedback)}
#: The formats, as `dlgrade export --format` names them.
FORMATS = tuple(_MODULES)


def load_results(db_path: Path | str, submission: str | None = None) -> list[Result]:
    """The gradebook's results (all, or just `submission`'s).

    Raises FileNotFoundError for a missing gradebook (opening one would create it empty) and
    KeyError for an unknown submission."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"no gradebook at {db_path}")
    with Gradebook(db_path) as book:
        results = book.results()
    if submission is None:
        return results
    chosen = [r for r in results if r["name"] == submission]
    if not chosen:
        known = ", ".join(escape.one_line(r["name"]) for r in results) or "none"
        raise KeyError(f"no submission {escape.one_line(repr(submission))} in {db_path} (recorded: {known})")
    return chosen


def export(db_path: Path | str, fmt: str, out: Path | str | None = None, submission: str | None = None,
           env: Mapping[str, str] = os.environ, stdout: TextIO | None = None) -> list[Path]:
    """Write the gradebook at `db_path` in format `fmt` (one of FORMATS) to `out`.

    submission: export just that one. `out` is a file for csv, junit, classroom and for
    gradescope/prairielearn with a named submission ("-": standard output), and a folder for
    feedback (OUT/<name>.md) and for gradescope/prairielearn otherwise (OUT/<name>/results.json).
    classroom also publishes to GitHub Actions (see formats.classroom.publish_classroom). Returns the files written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    module = _MODULES[fmt]
    results = load_results(db_path, submission)
    out = Path(out if out is not None else module.default_out(bool(submission)))
    return module.write(results, Output(out, fmt, bool(submission), env, stdout or sys.stdout))


def export_all(db_path: Path | str, out_dir: Path | str) -> list[Path]:
    """The instructor's bundle, for `dlgrade grade --out`: gradebook.csv, junit.xml, feedback/
    and gradescope/ (one results.json per submission) in `out_dir`. Returns the files written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    for fmt, name in (("csv", "gradebook.csv"), ("junit", "junit.xml"), ("feedback", "feedback"),
                      ("gradescope", "gradescope")):
        written += export(db_path, fmt, out_dir / name)
    return written
