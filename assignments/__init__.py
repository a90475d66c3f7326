"""The instructor's source of every assignment: student modules with fenced solutions and a manifest.

This package is data: `dlgrade release` turns each folder into the student version, and the
checker reads the points from each folder's `manifest.toml`.

The course a process grades is this bundled curriculum unless an instructor's course folder is
in use (`dlgrade ... --course DIR`, see grader.grading.course). Which one is a `CourseSource`,
kept in the environment so that the processes a batch starts grade the same course; every layer
reads it through `active_source()`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ASSIGNMENTS_DIR = Path(__file__).resolve().parent

#: The environment variable that carries the course in use (a CourseSource as JSON) to the
#: processes this one starts. Unset: the bundled curriculum.
COURSE_SOURCE_ENV = "DLGRADE_COURSE_SOURCE"


@dataclass(frozen=True)
class CourseSource:
    """Where a course keeps what the checker reads (all of it trusted: the instructor's).

    assignments_dir: one folder per assignment, `<assignment>/manifest.toml` and its modules;
    assignments: the assignments of the course (None: every folder there with a manifest);
    checks_dir: the instructor's own checks, a package folder with `specs/<assignment>.py`
    (declarations) and `reference/` (torch oracles), or None.
    """

    assignments_dir: Path
    assignments: tuple[str, ...] | None = None
    checks_dir: Path | None = None

    def names(self) -> list[str]:
        """The course's assignments, sorted: the folders with a manifest, those listed only."""
        present = sorted(p.parent.name for p in Path(self.assignments_dir).glob("*/manifest.toml"))
        return present if self.assignments is None else [a for a in present if a in self.assignments]

    def to_json(self) -> str:
        return json.dumps({"assignments_dir": str(self.assignments_dir),
                           "assignments": None if self.assignments is None else list(self.assignments),
                           "checks_dir": None if self.checks_dir is None else str(self.checks_dir)})

    @classmethod
    def from_json(cls, text: str) -> "CourseSource":
        data = json.loads(text)
        return cls(Path(data["assignments_dir"]),
                   None if data.get("assignments") is None else tuple(data["assignments"]),
                   None if data.get("checks_dir") is None else Path(data["checks_dir"]))


#: The curriculum that ships with dlgrade.
BUNDLED = CourseSource(ASSIGNMENTS_DIR)


def active_source() -> CourseSource:
    """The course this process grades: the one `use_source` set (here or in a parent process),
    else the bundled curriculum."""
    text = os.environ.get(COURSE_SOURCE_ENV)
    return CourseSource.from_json(text) if text else BUNDLED


def use_source(source: CourseSource | None) -> None:
    """Grade `source` in this process and in the processes it starts (None: the bundled one)."""
    if source is None or source == BUNDLED:
        os.environ.pop(COURSE_SOURCE_ENV, None)
    else:
        os.environ[COURSE_SOURCE_ENV] = source.to_json()


def course_dir() -> Path:
    """The folder of the active course's assignments (`<assignment>/manifest.toml`)."""
    return Path(active_source().assignments_dir)


def course_modules() -> dict[str, frozenset[str]]:
    """Every assignment of the active course and the names of its modules."""
    source = active_source()
    root = Path(source.assignments_dir)
    return {name: frozenset(p.stem for p in (root / name).glob("*.py") if p.stem != "__init__")
            for name in source.names()}
