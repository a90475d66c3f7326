"""The export formats, one module each, behind one small protocol (`Format`), and what they share.

A format module names itself (NAME, as `dlgrade export --format` does), says where it goes without
--out (`default_out`), and writes a gradebook's results to an `Output` (`write`). Every format is
built from `Gradebook.results()` alone, so an export never reruns student code; every string a
submission controls is written through grader.outputs.escape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, TextIO

from dlgrade.grader.boundary.intake import file_names
from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.report import failure_lines

Result = dict[str, Any]


class Format(Protocol):
    """One export format (a module of this package)."""

    NAME: str

    def default_out(self, one_submission: bool) -> str:
        """Where the export goes without --out ("-": standard output)."""

    def write(self, results: list[Result], out: Output) -> list[Path]:
        """Write `results` (one only, where a submission was named) to `out`; the files written."""


@dataclass
class Output:
    """Where an export goes: `path` (a file or a folder; "-" is standard output), for the
    format named `format`; `one_submission`: the export was asked for one submission."""

    path: Path
    format: str
    one_submission: bool
    env: Mapping[str, str]
    stdout: TextIO

    def emit(self, text: str) -> list[Path]:
        """`text` as the one file of the export, or on standard output."""
        if str(self.path) == "-":
            self.stdout.write(text)
            return []
        return [write_text(self.path, text)]

    def per_submission(self, results: list[Result], relative: Callable[[str], str],
                       write: Callable[[Path, Result], Path]) -> list[Path]:
        """One file per submission in the folder `path`, at `relative(safe name)`, each written by
        `write(path, result)`; files are named by grader.boundary.intake.file_names, never by the
        submission's name as it is."""
        if str(self.path) == "-":
            raise ValueError(f"the {self.format} export writes one file per submission: "
                             "give --out a folder, or name one --submission")
        files = file_names(r["name"] for r in results)
        return [write(self.path / relative(files[r["name"]]), r) for r in results]


def write_text(path: Path, text: str) -> Path:
    data = text.encode("utf-8")  # before the file is opened: a text that cannot be written leaves no empty file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(escape.json_ready(data), indent=2, allow_nan=False) + "\n")


def only(results: list[Result], fmt: str) -> Result:
    """The one result of an export made for one submission (ValueError otherwise)."""
    if len(results) != 1:
        raise ValueError(f"the {fmt} export is for one submission; name it with --submission "
                         f"({len(results)} are recorded)")
    return results[0]


# --- what every format shares -------------------------------------------------------------------

def number(x: Any) -> float:
    """A score as stored: points are sums of rounded shares, so 4 digits lose nothing."""
    return round(float(x or 0.0), 4)


def shown(x: Any) -> str:
    """A score as printed: 2.5, not 2.5000 or 2.499999."""
    return f"{round(float(x or 0.0), 2):g}"


def percent(score: float, possible: float) -> float:
    return round(100.0 * score / possible, 2) if possible else 0.0


def show_replay(result: Result) -> bool:
    """Whether the replay commands of `result` may be shown: never for grading-profile results,
    whose seed is the course's secret (a replay line would give it away)."""
    return result.get("profile") != "grading" and result.get("seed") is not None


def exercise_output(exercise: Mapping[str, Any], replay: bool = False) -> str:
    """The text a student reads for one exercise: the failures, or a word that it passed."""
    lines = failure_lines(exercise, replay)
    return "\n".join(lines) if lines else "passed"


def property_message(prop: Mapping[str, Any], replay: bool) -> str:
    """One property's failure text (message, hints, replay where allowed)."""
    lines = (prop.get("message") or "failed").splitlines()
    lines += [f"hint: {hint}" for hint in prop.get("hints", [])]
    if replay and prop.get("replay"):
        lines.append(f"replay: {prop['replay']}")
    return "\n".join(lines)


def summary(result: Result) -> str:
    """One line: the score, or why there is none."""
    if result["status"] == "error":
        return f"This submission could not be graded: {result.get('error') or 'unknown error'}"
    return (f"Score {shown(result['score'])}/{shown(result['max_score'])} "
            f"({shown(percent(result['score'], result['max_score']))}%)")


def exercise_columns(results: Iterable[Result]) -> dict[str, float]:
    """Every exercise graded in any result, in the order first met, with its points possible."""
    columns: dict[str, float] = {}
    for r in results:
        for e in r.get("exercises", []):
            columns.setdefault(e["name"], number(e["max_points"]))
    return columns
