"""`dlgrade ci-template`: the CI of a course repository, for GitHub Actions (with GitHub
Classroom's reporter) or GitLab CI, checking only the assignments the repository holds.

The templates are the package's `ci_template.yml` and `ci_template_gitlab.yml`; what is filled in
is the grading command (`@COMMAND@`: `dlgrade check` of the assignments present, at the grading
profile) and the pip requirement of dlgrade (`@DLGRADE@`, this version).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from dlgrade.grader.integrations.hosted import installed_version

TEMPLATES = {"github": "ci_template.yml", "gitlab": "ci_template_gitlab.yml"}
DEFAULT_OUT = {"github": ".github/workflows/classroom.yml", "gitlab": ".gitlab-ci.yml"}


def present_assignments(repository: Path) -> list[str]:
    """The course's assignments that `repository` holds a folder of, with at least one module or
    notebook in it (the release layout: `<assignment>/<module>.py`)."""
    from dlgrade.assignments import course_modules

    return [a for a in course_modules()
            if (repository / a).is_dir() and any((repository / a).glob("*.py")) | any((repository / a).glob("*.ipynb"))]


def grading_command(assignments: list[str], course_folder: bool = False) -> str:
    """The command the CI runs: `dlgrade check` of exactly these assignments, so that the
    maximum is theirs, not the whole course's. course_folder: the repository is the release of an
    instructor's course folder (its course.toml and checks/), named with `--course .`, since the
    grading profile never takes a course it merely finds in the folder it checks."""
    course = ["--course", "."] if course_folder else []
    return " ".join(["dlgrade", "check", *assignments, *course, "--path", ".", "--profile", "grading"])


def render(kind: str, assignments: list[str], course_folder: bool = False) -> str:
    """The template `kind` ("github" or "gitlab") for a repository holding `assignments` (and a
    course.toml, where course_folder)."""
    if not assignments:
        raise ValueError("no assignment to check")
    pinned = installed_version("dlgrade")
    text = files("dlgrade.grader.integrations").joinpath(TEMPLATES[kind]).read_text()
    return text.replace("@COMMAND@", grading_command(assignments, course_folder)).replace(
        "@DLGRADE@", f"dlgrade=={pinned}" if pinned else "dlgrade")
