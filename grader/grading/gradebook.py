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
        """Every recorded result, by submission name, with `name` and `graded_at` added."""
        rows = self._db.execute("SELECT name, graded_at, result FROM submissions ORDER BY name").fetchall()
        return [{**json.loads(result), "name": name, "graded_at": graded_at} for name, graded_at, result in rows]

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
