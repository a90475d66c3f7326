"""Batch grading: many submissions, side by side, each result into the gradebook as it finishes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def grade_one(path: Path | str, names: list[str], seed: int | None = None, timeout: float = 60.0,
              sandbox: bool = True) -> dict[str, Any]:
    """Grade one submission folder (laid out like the release) at the grading profile.

    Returns a JSON-ready dict: status ("graded", or "error" when the submission could not be
    graded at all), score, max_score, seconds, student_seconds, profile, seed (None when
    secret), exercises (as in `dlgrade check --json`) and error (a message, or None).
    Never raises for anything the submission does.
    """
    from grader.cli import run_checks
    from grader.report import to_json

    start = time.perf_counter()
    try:
        profile, results = run_checks(names, Path(path), "grading", seed, sandbox=sandbox, exercise_timeout=timeout)
    except Exception as e:  # noqa: BLE001 - one submission's failure must not stop the batch
        return {"status": "error", "score": 0.0, "max_score": 0.0, "seconds": time.perf_counter() - start,
                "student_seconds": 0.0, "profile": "grading", "seed": None, "exercises": [],
                "error": f"{type(e).__name__}: {e}"}
    result = to_json(results, profile)
    result.update(status="graded", error=None, seconds=time.perf_counter() - start,
                  student_seconds=sum(r.student_seconds for r in results))
    return result
