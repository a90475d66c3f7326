"""One check run on one submission: the service under `dlgrade check`, the batch engines, the
demo and the pytest plugin. It opens the submission behind the call boundary, runs the engine's
checks on it, and gives the verdicts as objects (`run_checks`) or as plain data (`to_json`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # the engine is imported when a check runs, after its submission is opened
    from dlgrade.checkers.exercise import ExerciseResult
    from dlgrade.checkers.profiles import GradingProfile
    from dlgrade.grader.boundary.submission import Submission


def run_checks(names: list[str], path: Path, profile_name: str = "student", seed: int | None = None,
               only: str | None = None, reveal: bool | None = None, sandbox: bool = False,
               exercise_timeout: float | None = None, replay_path: Path | None = None):
    """Check the named exercises (or assignments) of the submission in `path`.

    sandbox: run the student's code in a separate, confined worker process (see grader.boundary.sandbox)
    rather than in this one. exercise_timeout: CPU seconds one exercise may spend in student
    code; the submission may then be waited for `Submission.overall_allowance` in all, and the
    exercises left past it are verdicts. replay_path: the path the replay commands name (default
    `path`; a notebook checked through a temporary layout names the notebook). Returns (profile,
    results). Raises KeyError for unknown names, grader.boundary.intake.Refused for a submission that
    cannot be read."""
    # The submission first: a sandboxed worker then starts while the checker imports torch.
    with open_submission(path, sandbox) as submission:
        return check_opened(names, submission, replay_path or path, profile_name, seed, only, reveal,
                            exercise_timeout)


def check_opened(names: list[str], submission: Submission, replay_path: Path, profile_name: str = "student",
                 seed: int | None = None, only: str | None = None, reveal: bool | None = None,
                 exercise_timeout: float | None = None):
    """`run_checks` on a submission already open (left open), whose replay commands name
    `replay_path`. Returns (profile, results)."""
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.runner import check_exercise

    exercises = select(names)
    profile = get_profile(profile_name, seed, reveal)
    replay = _replay_command(replay_path, profile)
    if exercise_timeout:
        submission.set_overall(submission.overall_allowance(len(exercises), exercise_timeout))
    results = [check_exercise(e, submission, profile, only=only, replay=replay, timeout=exercise_timeout)
               for e in exercises]
    return profile, results


def open_submission(path: Path, sandbox: bool):
    """The student's folder behind the call boundary: in a sandboxed worker, or in this process."""
    if sandbox:
        from dlgrade.grader.boundary.sandbox import SandboxedSubmission
        return SandboxedSubmission(path)
    from dlgrade.grader.boundary.submission import InProcessSubmission
    return InProcessSubmission(path)


def _replay_command(path: Path, profile) -> str:
    """The command that reruns exactly one failing property; none where the seed is secret."""
    if not profile.reveal_examples:
        return ""
    # Braces in the path are doubled: the command is a format string for the exercise and property.
    quoted = shlex.quote(str(path)).replace("{", "{{").replace("}", "}}")
    parts = ["dlgrade", "check", "{exercise}", "--property", "{property}", "--seed", str(profile.seed),
             "--path", quoted]
    if profile.name != "student":
        parts += ["--profile", profile.name]
    return " ".join(parts)


def score(results: Sequence[ExerciseResult]) -> tuple[float, float]:
    """(points earned, points possible)."""
    return round(sum(r.points for r in results), 2), round(sum(r.max_points for r in results), 2)


def exercise_json(r: ExerciseResult) -> dict:
    """One exercise's verdict as plain data."""
    return {
        "name": r.name,
        "assignment": r.assignment,
        "points": r.points,
        "max_points": r.max_points,
        "passed": r.passed,
        "status": r.status,
        "reason": r.reason,
        **({"note": r.note} if r.note else {}),
        "seconds": round(r.seconds, 4),
        "student_seconds": round(r.student_seconds, 4),
        "properties": [{"name": p.name, "passed": p.passed, "checked": p.checked, "essential": p.essential,
                        "weight": p.weight, "message": p.message, "hints": p.hints, "replay": p.replay,
                        **({"skipped": True} if p.skipped else {})}
                       for p in r.properties],
    }


def to_json(results: Sequence[ExerciseResult], profile: GradingProfile) -> dict:
    """The JSON form: score, max_score, and each exercise with its properties."""
    earned, possible = score(results)
    return {
        "score": earned,
        "max_score": possible,
        "profile": profile.name,
        "seed": profile.seed if profile.reveal_examples else None,
        "exercises": [exercise_json(r) for r in results],
    }
