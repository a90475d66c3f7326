"""The gradebook in the formats other tools read: a CSV for spreadsheets and LMS imports,
Gradescope's and PrairieLearn's `results.json`, the GitHub Classroom autograding runner JSON,
JUnit XML for CI dashboards, and a Markdown feedback file per student.

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

import base64
import csv
import io
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable, Mapping, TextIO

from dlgrade.grader.outputs import escape
from dlgrade.grader.grading.gradebook import Gradebook
from dlgrade.grader.boundary.intake import file_names
from dlgrade.grader.outputs.report import failure_lines, verdict

FORMATS = ("csv", "gradescope", "prairielearn", "classroom", "junit", "feedback")

#: Label of the CSV row that gives the points possible per exercise.
MAX_ROW_LABEL = "(max points)"

Result = dict[str, Any]

# --- reading -------------------------------------------------------------------------------------

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


# --- what every format shares -------------------------------------------------------------------

def _num(x: Any) -> float:
    """A score as stored: points are sums of rounded shares, so 4 digits lose nothing."""
    return round(float(x or 0.0), 4)


def _fmt(x: Any) -> str:
    """A score as printed: 2.5, not 2.5000 or 2.499999."""
    return f"{round(float(x or 0.0), 2):g}"


def _percent(score: float, possible: float) -> float:
    return round(100.0 * score / possible, 2) if possible else 0.0


def show_replay(result: Result) -> bool:
    """Whether the replay commands of `result` may be shown: never for grading-profile results,
    whose seed is the course's secret (a replay line would give it away)."""
    return result.get("profile") != "grading" and result.get("seed") is not None


def exercise_output(exercise: Mapping[str, Any], replay: bool = False) -> str:
    """The text a student reads for one exercise: the failures, or a word that it passed."""
    lines = failure_lines(exercise, replay)
    return "\n".join(lines) if lines else "passed"


def _property_message(prop: Mapping[str, Any], replay: bool) -> str:
    """One property's failure text (message, hints, replay where allowed)."""
    lines = (prop.get("message") or "failed").splitlines()
    lines += [f"hint: {hint}" for hint in prop.get("hints", [])]
    if replay and prop.get("replay"):
        lines.append(f"replay: {prop['replay']}")
    return "\n".join(lines)


def _summary(result: Result) -> str:
    """One line: the score, or why there is none."""
    if result["status"] == "error":
        return f"This submission could not be graded: {result.get('error') or 'unknown error'}"
    return (f"Score {_fmt(result['score'])}/{_fmt(result['max_score'])} "
            f"({_fmt(_percent(result['score'], result['max_score']))}%)")


def exercise_columns(results: Iterable[Result]) -> dict[str, float]:
    """Every exercise graded in any result, in the order first met, with its points possible."""
    columns: dict[str, float] = {}
    for r in results:
        for e in r.get("exercises", []):
            columns.setdefault(e["name"], _num(e["max_points"]))
    return columns


# --- one small function per format --------------------------------------------------------------

def write_csv(results: list[Result], stream: TextIO) -> None:
    """One row per submission: name, points per exercise, total, percent, status. The first row
    under the header gives the points possible, so a spreadsheet can check the totals.

    An exercise a submission has no result for (it could not be graded at all, or was graded on
    other exercises) is left blank rather than 0, so "not graded" does not read as "earned
    nothing"; its total counts it as 0 and its status says why."""
    columns = exercise_columns(results)
    possible = _num(sum(columns.values()))
    writer = csv.writer(stream, lineterminator="\n")
    cell = escape.csv_cell
    writer.writerow(["submission", *map(cell, columns), "total", "percent", "status"])
    writer.writerow([MAX_ROW_LABEL, *(_fmt(m) for m in columns.values()), _fmt(possible), "100", ""])
    for r in results:
        earned = {e["name"]: _num(e["points"]) for e in r.get("exercises", [])}
        total = _num(sum(earned.values()))
        writer.writerow([cell(r["name"]), *(_fmt(earned[name]) if name in earned else "" for name in columns),
                         _fmt(total), _fmt(_percent(total, possible)), cell(r["status"])])


def gradescope_result(result: Result) -> dict[str, Any]:
    """Gradescope's results.json for one submission: one test per exercise.

    The top-level score is the sum of the tests' scores, which is what Gradescope would compute
    itself; setting it explicitly keeps an error submission at 0 rather than unscored."""
    replay = show_replay(result)
    tests = [{
        "name": e["name"],
        "score": _num(e["points"]),
        "max_score": _num(e["max_points"]),
        "status": "passed" if e["passed"] else "failed",
        "output": exercise_output(e, replay),
        "output_format": "text",  # messages hold '*', '_' and '<' that md or html would mangle
        "visibility": "visible",  # hidden examples' values are already withheld in the messages
    } for e in result.get("exercises", [])]
    return escape.json_ready({
        "score": _num(sum(t["score"] for t in tests)),
        "execution_time": round(float(result.get("seconds", 0.0)), 2),
        "output": _summary(result),
        "output_format": "text",
        "tests": tests,
    })


def prairielearn_result(result: Result) -> dict[str, Any]:
    """PrairieLearn's external-grader results.json for one submission: score in [0, 1], one test
    per exercise. A submission that could not be graded is `gradable: false`, so PrairieLearn
    does not count it as an attempt scored 0."""
    replay = show_replay(result)
    graded = result["status"] != "error"
    possible = _num(result.get("max_score"))
    return escape.json_ready({
        "gradable": graded,
        "score": round(_num(result.get("score")) / possible, 4) if graded and possible else 0.0,
        "message": _summary(result),
        "tests": [{
            "name": e["name"],
            "points": _num(e["points"]),
            "max_points": _num(e["max_points"]),
            "output": exercise_output(e, replay),
            "message": verdict(e),
        } for e in result.get("exercises", [])],
    })


def _source_file(exercise: Mapping[str, Any]) -> str:
    """The student file an exercise lives in (a1_backprop/layers.py), or its assignment folder
    where the exercise is no longer in the registry."""
    from dlgrade.checkers.registry import all_exercises

    for known in all_exercises():
        if known.name == exercise["name"]:
            return f"{known.assignment}/{known.module}.py"
    return exercise.get("assignment", "")


def classroom_result(result: Result) -> dict[str, Any]:
    """The GitHub Classroom autograding runner result (version 3) for one submission, as the
    `classroom-resources/autograding-*-grader` actions emit it and `autograding-grading-reporter`
    reads it: overall status pass | fail | error, max_score, and one test per exercise.

    The reporter sums the tests' `score` against `max_score`. Exercises that could not be loaded
    are `error`, as a runner reports a test that did not run. The reporter prints the messages
    into the workflow's log, so they are written through escape.ci_log."""
    replay = show_replay(result)
    tests = []
    for e in result.get("exercises", []):
        loaded = e.get("status", "checked") in ("checked", "not_implemented")
        seconds = round(float(e.get("seconds", 0.0)), 4)
        tests.append({
            "name": e["name"],
            "status": "pass" if e["passed"] else ("fail" if loaded else "error"),
            "message": escape.ci_log("\n".join(failure_lines(e, replay))) or None,
            "test_code": f"dlgrade check {e['name']}",
            "filename": _source_file(e),
            "line_no": None,
            # The runners disagree on the timing field's name (the io and python graders write
            # `duration`); the reporter reads neither, so both are given.
            "execution_time": seconds,
            "duration": seconds,
            "score": _num(e["points"]),
        })
    if result["status"] == "error" or not tests:
        status = "error"
    else:
        status = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    payload = {"version": 3, "status": status, "max_score": _num(result.get("max_score")), "tests": tests}
    if status == "error":
        payload["message"] = escape.ci_log(_summary(result))
    return escape.json_ready(payload)


def classroom_summary(result: Result) -> str:
    """The Markdown job summary for GitHub Actions: score, then a table of exercises."""
    md = escape.markdown
    lines = [f"### dlgrade: {md(result['name'])}", "", md(_summary(result)), ""]
    if result.get("exercises"):
        lines += ["| exercise | points | status |", "| --- | --- | --- |"]
        lines += [f"| {md(e['name'])} | {_fmt(e['points'])}/{_fmt(e['max_points'])} | {md(verdict(e))} |"
                  for e in result["exercises"]]
    return "\n".join(lines) + "\n"


def publish_classroom(result: Result, payload: dict[str, Any], env: Mapping[str, str] = os.environ) -> None:
    """Hand the runner result to GitHub Actions where it runs: `result=<base64 JSON>` appended to
    $GITHUB_OUTPUT (the step output the reporter decodes), and the Markdown summary appended to
    $GITHUB_STEP_SUMMARY. Outside Actions (neither set) it does nothing."""
    if env.get("GITHUB_OUTPUT"):
        encoded = base64.b64encode(json.dumps(escape.json_ready(payload)).encode()).decode()
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
            f.write(f"result={encoded}\n")
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(classroom_summary(result))


def junit_xml(results: list[Result]) -> ET.ElementTree:
    """JUnit XML: a <testsuites> root, one <testsuite> per submission, one <testcase> per
    property (classname: the exercise). Points sit in the suite's <properties>: `points` and
    `max_points` for the submission, `points:<exercise>` and `max_points:<exercise>` per exercise.

    A failed property is a <failure>; one not checked because an earlier one blocked it is
    <skipped>; one not checked because its exercise could not be loaded (missing, module error,
    forbidden import) is an <error>, since that exercise earns nothing and must not look skipped.
    A submission that could not be graded at all is a suite of one <error> testcase."""
    root = ET.Element("testsuites", name="dlgrade")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in results:
        replay = show_replay(r)
        suite = ET.SubElement(root, "testsuite", name=r["name"], timestamp=r.get("graded_at", ""),
                              time=f"{float(r.get('seconds', 0.0)):.3f}")
        props = ET.SubElement(suite, "properties")
        for key, value in (("points", r.get("score")), ("max_points", r.get("max_score"))):
            ET.SubElement(props, "property", name=key, value=_fmt(value))
        ET.SubElement(props, "property", name="status", value=r["status"])
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if r["status"] == "error":
            case = ET.SubElement(suite, "testcase", classname="dlgrade", name="grading")
            ET.SubElement(case, "error", message=r.get("error") or "could not be graded")
            counts.update(tests=1, errors=1)
        for e in r.get("exercises", []):
            ET.SubElement(props, "property", name=f"points:{e['name']}", value=_fmt(e["points"]))
            ET.SubElement(props, "property", name=f"max_points:{e['name']}", value=_fmt(e["max_points"]))
            loaded = e.get("status", "checked") in ("checked", "not_implemented")
            for p in e.get("properties", []):
                case = ET.SubElement(suite, "testcase", classname=e["name"], name=p["name"])
                counts["tests"] += 1
                if p["passed"]:
                    continue
                text = _property_message(p, replay)
                if not p["checked"]:
                    kind = "skipped" if loaded else "error"
                    ET.SubElement(case, kind, message=(p.get("message") or e.get("reason") or kind).splitlines()[0])
                    counts["skipped" if loaded else "errors"] += 1
                else:
                    failure = ET.SubElement(case, "failure", message=text.splitlines()[0])
                    failure.text = text
                    counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.ElementTree(escape.xml_tree(root))


def feedback_markdown(result: Result) -> str:
    """A student's feedback as Markdown: title, score, a table of exercises, then each failure
    as `dlgrade check` shows it (property, message, hints). Replay lines appear only where the
    seed is not secret, i.e. never for grading-profile results."""
    replay = show_replay(result)
    md = escape.markdown
    lines = [f"# Feedback: {md(result['name'])}", "", f"**{md(_summary(result))}**", ""]
    exercises = result.get("exercises", [])
    if exercises:
        lines += ["| exercise | points | status |", "| --- | --- | --- |"]
        lines += [f"| {md(e['name'])} | {_fmt(e['points'])}/{_fmt(e['max_points'])} | {md(verdict(e))} |"
                  for e in exercises]
        lines.append("")
    failing = [e for e in exercises if not e["passed"]]
    if failing:
        lines += ["## What to fix", ""]
    for e in failing:
        lines += [f"### ✗ {md(e['name'])}", ""]
        # The check output is indented plain text; a code block keeps its alignment and stops
        # Markdown from reading '*' or '_' in array shapes and formulas as emphasis (or HTML).
        lines += [*escape.markdown_code(failure_lines(e, replay)), ""]
    if exercises and not failing:
        lines += ["Every exercise passes.", ""]
    return "\n".join(lines)


# --- writing files ------------------------------------------------------------------------------

def _write_text(path: Path, text: str) -> Path:
    data = text.encode("utf-8")  # before the file is opened: a text that cannot be written leaves no empty file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _write_json(path: Path, data: Any) -> Path:
    return _write_text(path, json.dumps(escape.json_ready(data), indent=2, allow_nan=False) + "\n")


def _only(results: list[Result], fmt: str) -> Result:
    if len(results) != 1:
        raise ValueError(f"the {fmt} export is for one submission; name it with --submission "
                         f"({len(results)} are recorded)")
    return results[0]


#: Where each format goes when no --out is given (single-submission JSON: results.json).
DEFAULT_OUT = {"csv": "gradebook.csv", "junit": "junit.xml", "feedback": "feedback",
               "gradescope": "gradescope", "prairielearn": "prairielearn", "classroom": "-"}


def export(db_path: Path | str, fmt: str, out: Path | str | None = None, submission: str | None = None,
           env: Mapping[str, str] = os.environ, stdout: TextIO | None = None) -> list[Path]:
    """Write the gradebook at `db_path` in format `fmt` (one of FORMATS) to `out`.

    submission: export just that one. `out` is a file for csv, junit, classroom and for
    gradescope/prairielearn with a named submission ("-": standard output), and a folder for
    feedback (OUT/<name>.md) and for gradescope/prairielearn otherwise (OUT/<name>/results.json).
    classroom also publishes to GitHub Actions (see publish_classroom). Returns the files written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    results = load_results(db_path, submission)
    default = "results.json" if submission and fmt in ("gradescope", "prairielearn") else DEFAULT_OUT[fmt]
    out = Path(out if out is not None else default)
    stdout = stdout or sys.stdout

    def emit(text: str) -> list[Path]:
        if str(out) == "-":
            stdout.write(text)
            return []
        return [_write_text(out, text)]

    if str(out) == "-" and (fmt == "feedback" or (fmt in ("gradescope", "prairielearn") and not submission)):
        raise ValueError(f"the {fmt} export writes one file per submission: "
                         "give --out a folder, or name one --submission")
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(results, buffer)
        return emit(buffer.getvalue())
    if fmt == "junit":
        return emit(ET.tostring(junit_xml(results).getroot(), encoding="unicode", xml_declaration=True) + "\n")
    if fmt == "classroom":
        result = _only(results, fmt)
        payload = classroom_result(result)
        publish_classroom(result, payload, env)
        return emit(json.dumps(payload, indent=2) + "\n")
    if fmt in ("gradescope", "prairielearn"):
        build = gradescope_result if fmt == "gradescope" else prairielearn_result
        if submission:
            return emit(json.dumps(build(results[0]), indent=2) + "\n")
        files = file_names(r["name"] for r in results)
        return [_write_json(out / files[r["name"]] / "results.json", build(r)) for r in results]
    # feedback: always a folder, one file per student, so the files can be handed out as they are
    files = file_names(r["name"] for r in results)
    return [_write_text(out / f"{files[r['name']]}.md", feedback_markdown(r)) for r in results]


def export_all(db_path: Path | str, out_dir: Path | str) -> list[Path]:
    """The instructor's bundle, for `dlgrade grade --out`: gradebook.csv, junit.xml, feedback/
    and gradescope/ (one results.json per submission) in `out_dir`. Returns the files written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    for fmt, name in (("csv", "gradebook.csv"), ("junit", "junit.xml"), ("feedback", "feedback"),
                      ("gradescope", "gradescope")):
        written += export(db_path, fmt, out_dir / name)
    return written
