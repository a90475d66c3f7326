"""A pytest plugin for course repositories: `pytest --dlgrade` turns each exercise into test items.

Active only with `--dlgrade` (or a `dlgrade` ini option or marker in the course's pytest.ini);
otherwise it adds nothing to a test run. Each exercise found in the folder given by
`--dlgrade-path` (default: ./assignments if it exists, else the current folder) becomes one test
per property, `<exercise>::<property>`, so CI and IDEs show which property fails and with what
message. Each item carries its points (`user_properties`: points, max_points), and the summary
line gives the total. The grading profile is used when the `CI` environment variable is set
(the same score every run), the student profile otherwise. The code runs in pytest's process
(as `dlgrade check --no-sandbox`, same verdicts): it is the repository's own code, and it keeps
breakpoints working in an IDE; `dlgrade check` in the CI workflow grades it in the sandbox.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("dlgrade")
    group.addoption("--dlgrade", action="store_true", default=False,
                    help="Check the course's exercises with dlgrade: one test per exercise property.")
    group.addoption("--dlgrade-path", default=None, help="Folder laid out like the release (default: ./assignments or .).")
    group.addoption("--dlgrade-select", action="append", default=[],
                    help="Only these exercises or assignments (repeatable). Default: those found in the folder.")
    parser.addini("dlgrade", type="bool", default=False, help="Run dlgrade's exercises as tests (as --dlgrade).")


def _active(config) -> bool:
    return bool(config.getoption("--dlgrade") or config.getini("dlgrade"))


def pytest_configure(config):
    config.addinivalue_line("markers", "dlgrade: a dlgrade exercise property checked as a test")
    if _active(config):
        config.pluginmanager.register(_DlgradeSession(config), "dlgrade-session")


class _DlgradeSession:
    """Collects the exercises once per session and runs each exercise's properties once."""

    def __init__(self, config):
        from dlgrade.grader.grading.course import CourseError, load_course

        self.config = config
        try:  # a course repository (a course.toml where pytest runs) is checked as that course
            load_course(None).activate()
        except CourseError as e:
            raise pytest.UsageError(str(e)) from None
        self.path = Path(config.getoption("--dlgrade-path") or
                         ("assignments" if Path("assignments").is_dir() else "."))
        self.profile = "grading" if os.environ.get("CI") else "student"
        self.results = {}

    def pytest_collection_modifyitems(self, session, config, items):
        from dlgrade.checkers.registry import all_exercises, select

        names = config.getoption("--dlgrade-select")
        if names:
            exercises = select(names)
        else:  # the assignments present in the folder
            present = {p.name for p in self.path.iterdir() if p.is_dir()} if self.path.is_dir() else set()
            exercises = [e for e in all_exercises() if e.assignment in present]
        for exercise in exercises:
            for prop in exercise.properties:
                item = ExerciseProperty.from_parent(session, name=f"{exercise.name}::{prop.name}",
                                                    exercise=exercise, prop=prop.name, plugin=self)
                item.add_marker("dlgrade")
                items.append(item)

    def verdict(self, exercise):
        """The exercise's result, checked on first use (one hypothesis run per property)."""
        if exercise.name not in self.results:
            from dlgrade.checkers.profiles import get_profile
            from dlgrade.checkers.runner import check_exercise
            from dlgrade.grader.boundary.submission import InProcessSubmission

            profile = get_profile(self.profile)
            with InProcessSubmission(self.path) as submission:
                self.results[exercise.name] = check_exercise(exercise, submission, profile)
        return self.results[exercise.name]

    def pytest_terminal_summary(self, terminalreporter):
        if not self.results:
            return
        earned = sum(r.points for r in self.results.values())
        possible = sum(r.max_points for r in self.results.values())
        terminalreporter.write_sep("=", f"dlgrade ({self.profile} profile): {earned:g}/{possible:g} points")


class ExercisePropertyFailed(Exception):
    """A property of an exercise failed; its message is the checker's."""


class ExerciseProperty(pytest.Item):
    """One property of one exercise, with the exercise's points."""

    def __init__(self, *, exercise, prop, plugin, **kwargs):
        super().__init__(**kwargs)
        self.exercise, self.prop, self.plugin = exercise, prop, plugin

    def runtest(self):
        result = self.plugin.verdict(self.exercise)
        self.user_properties += [("points", result.points), ("max_points", result.max_points)]
        prop = next(p for p in result.properties if p.name == self.prop)
        if not prop.passed and prop.advice and result.status == "checked":
            # Advice is worth no points: reported, and the course's CI stays green.
            warnings.warn(f"{self.exercise.name}: {self.prop} (advice, no points): {prop.message.splitlines()[0]}",
                          stacklevel=1)
            return
        if not prop.passed:
            lines = [prop.message or result.reason or "failed", *(f"hint: {h}" for h in prop.hints)]
            raise ExercisePropertyFailed("\n".join(lines))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ExercisePropertyFailed):
            from dlgrade.grader.outputs.escape import ci_log, visible

            # The message quotes student text, and pytest's report goes to the terminal or a CI log.
            return ci_log(visible(f"{self.exercise.name} ({self.exercise.points:g} points): {self.prop}\n"
                                  f"{excinfo.value}"))
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.exercise.assignment}::{self.name}"
