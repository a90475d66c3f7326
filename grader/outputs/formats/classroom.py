"""The GitHub Classroom autograding runner result, for one submission (format "classroom")."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Mapping

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, number, only, show_replay, shown, summary
from dlgrade.grader.outputs.report import failure_lines, verdict


NAME = "classroom"


def default_out(one_submission: bool) -> str:
    return "-"


def write(results: list[Result], out: Output) -> list[Path]:
    """The runner result on standard output (or in the file `out`), published to GitHub Actions
    where it runs (see publish_classroom)."""
    result = only(results, NAME)
    payload = classroom_result(result)
    publish_classroom(result, payload, out.env)
    return out.emit(json.dumps(payload, indent=2) + "\n")


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
            "score": number(e["points"]),
        })
    if result["status"] == "error" or not tests:
        status = "error"
    else:
        status = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    payload = {"version": 3, "status": status, "max_score": number(result.get("max_score")), "tests": tests}
    if status == "error":
        payload["message"] = escape.ci_log(summary(result))
    return escape.json_ready(payload)


def classroom_summary(result: Result) -> str:
    """The Markdown job summary for GitHub Actions: score, then a table of exercises."""
    md = escape.markdown
    lines = [f"### dlgrade: {md(result['name'])}", "", md(summary(result)), ""]
    if result.get("exercises"):
        lines += ["| exercise | points | status |", "| --- | --- | --- |"]
        lines += [f"| {md(e['name'])} | {shown(e['points'])}/{shown(e['max_points'])} | {md(verdict(e))} |"
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
