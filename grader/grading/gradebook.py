"""The SQLite gradebook: one row per submission, written as soon as that submission is graded.

Each row is written in its own transaction, so a batch killed at any moment (Ctrl-C, kill -9)
leaves every finished submission recorded once and nothing half-written; rerunning the batch
skips what is recorded.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    name TEXT PRIMARY KEY,          -- the submission's folder or file name
    status TEXT NOT NULL,           -- graded | error
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    seconds REAL NOT NULL,          -- wall time of its grading
    student_seconds REAL NOT NULL,  -- of which inside student code
    graded_at TEXT NOT NULL,
    result TEXT NOT NULL            -- the JSON result (see grader.grading.batch.grade_one)
);
CREATE TABLE IF NOT EXISTS students (
    submission TEXT PRIMARY KEY,    -- a submission's name, graded or not yet
    people TEXT NOT NULL            -- JSON list of its students: name, id, sis_user_id, sis_login_id, email, section
);
CREATE TABLE IF NOT EXISTS overrides (
    submission TEXT NOT NULL,
    exercise TEXT NOT NULL,
    points REAL NOT NULL,           -- what the exercise earns, whatever its grading says
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (submission, exercise)
);
"""


class Gradebook:
    """A gradebook file; safe to open from one writer at a time, any number of readers."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def record(self, name: str, result: dict[str, Any]) -> None:
        """Write (or replace) one submission's result, atomically."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, result["status"], float(result.get("score", 0.0)), float(result.get("max_score", 0.0)),
                 float(result.get("seconds", 0.0)), float(result.get("student_seconds", 0.0)),
                 time.strftime("%Y-%m-%dT%H:%M:%S"), json.dumps(result)))

    def graded(self) -> set[str]:
        """Names of the submissions already recorded."""
        return {row[0] for row in self._db.execute("SELECT name FROM submissions")}

    def results(self) -> list[dict[str, Any]]:
        """Every recorded result, by submission name, with `name` and `graded_at` added, its
        `students` where they are known (see set_students), and its manual overrides applied
        (see override): every export and report is built from here, so each honours them."""
        rows = self._db.execute("SELECT name, graded_at, result FROM submissions ORDER BY name").fetchall()
        students = self.students()
        overrides: dict[str, list[dict[str, Any]]] = {}
        for submission, exercise, points, reason, at in self._db.execute(
                "SELECT submission, exercise, points, reason, at FROM overrides ORDER BY submission, exercise"):
            overrides.setdefault(submission, []).append({"exercise": exercise, "points": points, "reason": reason,
                                                         "at": at})
        results = []
        for name, graded_at, text in rows:
            result = {**json.loads(text), "name": name, "graded_at": graded_at}
            if name in students:
                result["students"] = students[name]
            if name in overrides:
                _apply_overrides(result, overrides[name])
            results.append(result)
        return results

    def set_students(self, people: dict[str, list[dict[str, str]]]) -> None:
        """Record who each submission is by (submission name: its students, each a dict of
        name, id, sis_user_id, sis_login_id, email, section), replacing what was known of
        those submissions, in one transaction."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO students VALUES (?, ?)",
                                 [(name, json.dumps(list(who))) for name, who in people.items()])

    def students(self) -> dict[str, list[dict[str, str]]]:
        """Who each submission is by, where it is known."""
        return {name: json.loads(people) for name, people in self._db.execute("SELECT submission, people FROM students")}

    def override(self, submission: str, exercise: str, points: float, reason: str) -> dict[str, Any]:
        """Record a manual change: `exercise` of `submission` earns `points` (between 0 and its
        points possible), for `reason`; it replaces an earlier override of the same exercise and
        outlives regrades. Returns the exercise as results() gives it now. Raises KeyError for
        an unknown submission or exercise, ValueError for points out of range or no reason."""
        row = self._db.execute("SELECT result FROM submissions WHERE name = ?", (submission,)).fetchone()
        if row is None:
            raise KeyError(f"no submission {submission!r} in {self.path}")
        graded = {e["name"]: e for e in json.loads(row[0]).get("exercises", [])}
        if exercise not in graded:
            raise KeyError(f"{submission!r} was not graded on {exercise!r} (graded: {', '.join(graded) or 'nothing'})")
        possible = float(graded[exercise]["max_points"])
        if not 0 <= points <= possible:
            raise ValueError(f"{exercise} is worth 0 to {possible:g} points, not {points:g}")
        if not reason.strip():
            raise ValueError("an override needs a reason")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?, ?)",
                             (submission, exercise, float(points), reason, time.strftime("%Y-%m-%dT%H:%M:%S")))
        result = next(r for r in self.results() if r["name"] == submission)
        return next(e for e in result["exercises"] if e["name"] == exercise)

    def set_meta(self, **values: Any) -> None:
        """Remember facts about the batch (assignment, profile, seed)."""
        with self._db:
            for key, value in values.items():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self) -> dict[str, Any]:
        """The facts set with set_meta."""
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _apply_overrides(result: dict[str, Any], overrides: list[dict[str, Any]]) -> None:
    """Apply a submission's overrides to its result, in place: each exercise overridden earns
    the override's points and says so (`override`: points, original, reason, at); the score is
    summed again; `overrides` lists them all (those of exercises no longer graded too, applied
    False)."""
    exercises = {e["name"]: e for e in result.get("exercises", [])}
    for o in overrides:
        exercise = exercises.get(o["exercise"])
        o["applied"] = exercise is not None
        if exercise is not None:
            o["original"] = exercise["points"]
            exercise["override"] = {"points": o["points"], "original": exercise["points"], "reason": o["reason"],
                                    "at": o["at"]}
            exercise["points"] = o["points"]
    if any(o["applied"] for o in overrides):
        result["score"] = round(sum(float(e["points"]) for e in result["exercises"]), 4)
    result["overrides"] = overrides
