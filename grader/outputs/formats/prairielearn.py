"""PrairieLearn's external-grader results.json, one per submission (format "prairielearn")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import (Output, Result, exercise_output, number, show_replay, shown, summary,
                                            write_json)
from dlgrade.grader.outputs.report import verdict


NAME = "prairielearn"


def default_out(one_submission: bool) -> str:
    return "results.json" if one_submission else "prairielearn"


def write(results: list[Result], out: Output) -> list[Path]:
    """One submission's results.json (in the file `out`), or OUT/<name>/results.json for each."""
    if out.one_submission:
        return out.emit(json.dumps(prairielearn_result(results[0]), indent=2) + "\n")
    return out.per_submission(results, lambda name: f"{name}/results.json", lambda path, r: write_json(path, prairielearn_result(r)))


def format_errors(result: Result) -> list[str]:
    """Why a submission cannot be graded, one line each (none: it can): it could not be graded at
    all, a module does not import (a syntax error), or a file it must hold is missing
    (`missing_files`, known where the grader saw the submission's folder)."""
    if result["status"] == "error":
        return [summary(result)]
    errors = [f"{f}: missing (submit it)" for f in result.get("missing_files", [])]
    for e in result.get("exercises", []):
        if e.get("status") == "module_error" and e.get("reason") and e["reason"] not in errors:
            errors.append(e["reason"])
    return errors


def prairielearn_result(result: Result) -> dict[str, Any]:
    """PrairieLearn's external-grader results.json for one submission: score in [0, 1], one test
    per exercise. A submission that cannot be graded (see format_errors: nothing graded, a syntax
    error, a missing file) is `gradable: false` with its `format_errors`, so PrairieLearn does not
    count it as an attempt scored 0 and the student can fix it and submit again."""
    replay = show_replay(result)
    errors = format_errors(result)
    graded = not errors
    possible = number(result.get("max_score"))
    exercises = result.get("exercises", [])
    data = {
        "gradable": graded,
        "score": round(number(result.get("score")) / possible, 4) if graded and possible else 0.0,
        "message": summary(result) if graded else "This submission cannot be graded: " + "; ".join(errors),
        "output": "\n".join(f"{e['name']}: {shown(e['points'])}/{shown(e['max_points'])} {verdict(e)}"
                            for e in exercises),
        "tests": [{
            "name": e["name"],
            "points": number(e["points"]),
            "max_points": number(e["max_points"]),
            "output": exercise_output(e, replay),
            "message": verdict(e),
        } for e in exercises],
    }
    if errors:
        data["format_errors"] = errors
    return escape.json_ready(data)
