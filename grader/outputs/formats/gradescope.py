"""Gradescope's results.json, one per submission (format "gradescope")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import (Output, Result, exercise_output, number, property_message, show_replay,
                                            shown, summary, write_json)
from dlgrade.grader.outputs.report import verdict


NAME = "gradescope"


def default_out(one_submission: bool) -> str:
    return "results.json" if one_submission else "gradescope"


def write(results: list[Result], out: Output) -> list[Path]:
    """One submission's results.json (in the file `out`), or OUT/<name>/results.json for each."""
    if out.one_submission:
        return out.emit(json.dumps(gradescope_result(results[0]), indent=2) + "\n")
    return out.per_submission(results, lambda name: f"{name}/results.json", lambda path, r: write_json(path, gradescope_result(r)))


def gradescope_result(result: Result) -> dict[str, Any]:
    """Gradescope's results.json for one submission: one test per exercise.

    The top-level score is the sum of the tests' scores, which is what Gradescope would compute
    itself; setting it explicitly keeps an error submission at 0 rather than unscored."""
    replay = show_replay(result)
    tests = [{
        "name": e["name"],
        "score": number(e["points"]),
        "max_score": number(e["max_points"]),
        "status": "passed" if e["passed"] else "failed",
        "output": exercise_output(e, replay),
        "output_format": "text",  # messages hold '*', '_' and '<' that md or html would mangle
        "visibility": "visible",  # hidden examples' values are already withheld in the messages
    } for e in result.get("exercises", [])]
    return escape.json_ready({
        "score": number(sum(t["score"] for t in tests)),
        "execution_time": round(float(result.get("seconds", 0.0)), 2),
        "output": summary(result),
        "output_format": "text",
        "tests": tests,
    })


#: Gradescope's visibility settings, of a test and of the result as a whole.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


def property_tests(exercise: dict[str, Any], replay: bool, visibility: str) -> list[dict[str, Any]]:
    """One Gradescope test per property of `exercise`, each worth its share of the exercise's
    points (by weight, as grader's points are shared); a property that holds scores its share
    unless an essential one failed, which costs the exercise everything, as in the verdict. An
    exercise that could not be checked (missing, module error, ...) is one test of its own."""
    name = exercise["name"]
    props = [p for p in exercise.get("properties", []) if not p.get("skipped")]
    loaded = exercise.get("status", "checked") in ("checked", "not_implemented")
    if not loaded or not props:
        return [{"name": name, "score": number(exercise["points"]), "max_score": number(exercise["max_points"]),
                 "status": "passed" if exercise["passed"] else "failed", "output": exercise_output(exercise, replay),
                 "output_format": "text", "visibility": visibility}]
    total = sum(p["weight"] for p in props)
    earning = number(exercise["points"]) > 0
    tests = []
    for p in exercise.get("properties", []):
        share = 0.0 if p.get("skipped") or not total else exercise["max_points"] * p["weight"] / total
        if p.get("skipped"):
            output = f"skipped: {p.get('message') or 'cannot run on this machine'}"
        else:
            output = "passed" if p["passed"] else property_message(p, replay)
        tests.append({"name": f"{name}: {p['name']}", "score": number(share if p["passed"] and earning else 0.0),
                      "max_score": number(share), "status": "passed" if p["passed"] or p.get("skipped") else "failed",
                      "output": output, "output_format": "text", "visibility": visibility})
    return tests


def autograder_result(result: Result, visibility: str = "after_due_date", stdout_visibility: str = "hidden",
                      overall_visibility: str = "visible") -> dict[str, Any]:
    """Gradescope's autograder results.json for one submission: one test per property (see
    property_tests), at `visibility` (the tests' text comes from the hidden examples of the
    grading profile: by default students see it after the due date); the score and a line per
    exercise in `output`, at `overall_visibility`; what the grader printed at `stdout_visibility`.
    The score is the sum of the exercises' points, the verdict's own, not of the rounded shares."""
    for value in (visibility, stdout_visibility, overall_visibility):
        if value not in VISIBILITIES:
            raise ValueError(f"unknown Gradescope visibility {value!r}: one of {', '.join(VISIBILITIES)}")
    replay = show_replay(result)
    exercises = result.get("exercises", [])
    lines = [summary(result)] + [f"{e['name']}: {shown(e['points'])}/{shown(e['max_points'])} {verdict(e)}"
                                 for e in exercises]
    return escape.json_ready({
        "score": number(sum(number(e["points"]) for e in exercises)),
        "execution_time": round(float(result.get("seconds", 0.0)), 2),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": overall_visibility,
        "stdout_visibility": stdout_visibility,
        "tests": [t for e in exercises for t in property_tests(e, replay, visibility)],
    })
