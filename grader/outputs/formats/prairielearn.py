"""PrairieLearn's external-grader results.json, one per submission (format "prairielearn")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, exercise_output, number, show_replay, summary, write_json
from dlgrade.grader.outputs.report import verdict


NAME = "prairielearn"


def default_out(one_submission: bool) -> str:
    return "results.json" if one_submission else "prairielearn"


def write(results: list[Result], out: Output) -> list[Path]:
    """One submission's results.json (in the file `out`), or OUT/<name>/results.json for each."""
    if out.one_submission:
        return out.emit(json.dumps(prairielearn_result(results[0]), indent=2) + "\n")
    return out.per_submission(results, lambda name: f"{name}/results.json", lambda path, r: write_json(path, prairielearn_result(r)))


def prairielearn_result(result: Result) -> dict[str, Any]:
    """PrairieLearn's external-grader results.json for one submission: score in [0, 1], one test
    per exercise. A submission that could not be graded is `gradable: false`, so PrairieLearn
    does not count it as an attempt scored 0."""
    replay = show_replay(result)
    graded = result["status"] != "error"
    possible = number(result.get("max_score"))
    return escape.json_ready({
        "gradable": graded,
        "score": round(number(result.get("score")) / possible, 4) if graded and possible else 0.0,
        "message": summary(result),
        "tests": [{
            "name": e["name"],
            "points": number(e["points"]),
            "max_points": number(e["max_points"]),
            "output": exercise_output(e, replay),
            "message": verdict(e),
        } for e in result.get("exercises", [])],
    })
