"""Gradescope's results.json, one per submission (format "gradescope")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, exercise_output, number, show_replay, summary, write_json


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
