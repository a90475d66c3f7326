"""Verdicts as a student reads them (a rich table and the failures under it) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from checkers.exercise import ExerciseResult
from checkers.profiles import GradingProfile

_STATUS = {"missing": "[yellow]missing[/]", "module_error": "[red]module error[/]", "forbidden": "[red]forbidden import[/]",
           "not_implemented": "[yellow]not implemented[/]"}


def verdict(result: ExerciseResult) -> str:
    """One word or two for the table."""
    if result.status in _STATUS:
        return _STATUS[result.status]
    if result.passed:
        return "[green]pass[/]"
    failed = sum(1 for p in result.properties if not p.passed)
    return f"[red]fail[/] ({failed} of {len(result.properties)})"


def score(results: Sequence[ExerciseResult]) -> tuple[float, float]:
    """(points earned, points possible)."""
    return round(sum(r.points for r in results), 2), round(sum(r.max_points for r in results), 2)


def print_results(results: Sequence[ExerciseResult], console: Console, title: str = "", details: bool = True) -> None:
    """The table of exercises, then each failure: property, input, values, diagnosis, hint, replay."""
    table = Table(title=title or None, show_lines=False)
    for column in ("exercise", "assignment", "points", "verdict"):
        table.add_column(column, justify="right" if column == "points" else "left")
    for r in results:
        table.add_row(r.name, r.assignment, f"{r.points:g}/{r.max_points:g}", verdict(r))
    earned, possible = score(results)
    table.add_section()
    table.add_row("total", "", f"{earned:g}/{possible:g}", "")
    console.print(table)
    if not details:
        return
    for r in results:
        if r.passed:
            continue
        if r.status != "checked":
            continue  # the table says it all: missing, module error or not implemented
        console.print(f"\n[bold red]✗ {r.name}[/]")
        first_seen: dict[str, str] = {}
        for p in r.properties:
            if p.passed or not p.checked:
                continue
            console.print(f"  [bold]{p.name}[/]" + ("" if p.essential else " [dim](minor)[/]"))
            headline = p.message.splitlines()[0] if p.message else ""
            if headline in first_seen:
                # One bug often breaks several properties: say it once.
                console.print(f"    {escape(headline)} [dim](as in {first_seen[headline]})[/]", highlight=False, soft_wrap=True)
                continue
            first_seen[headline] = p.name
            for line in p.message.splitlines():
                console.print("    " + escape(line), highlight=False, soft_wrap=True)
            for hint in p.hints:
                console.print(f"    [cyan]hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)
            if p.replay:
                console.print(f"    [dim]replay:[/] {escape(p.replay)}", highlight=False, soft_wrap=True)
    problems = [r for r in results if r.status in ("missing", "module_error", "forbidden")]
    for r in problems:
        console.print(f"[yellow]{r.name}[/]: {escape(r.reason)}", highlight=False)


def to_json(results: Sequence[ExerciseResult], profile: GradingProfile) -> dict:
    """The JSON form: score, max_score, and each exercise with its properties."""
    earned, possible = score(results)
    return {
        "score": earned,
        "max_score": possible,
        "profile": profile.name,
        "seed": profile.seed if profile.reveal_examples else None,
        "exercises": [{
            "name": r.name,
            "assignment": r.assignment,
            "points": r.points,
            "max_points": r.max_points,
            "passed": r.passed,
            "status": r.status,
            "reason": r.reason,
            "seconds": round(r.seconds, 4),
            "student_seconds": round(r.student_seconds, 4),
            "properties": [{"name": p.name, "passed": p.passed, "checked": p.checked, "essential": p.essential,
                            "weight": p.weight, "message": p.message, "hints": p.hints, "replay": p.replay}
                           for p in r.properties],
        } for r in results],
    }


def write_json(results: Sequence[ExerciseResult], profile: GradingProfile, path: Path) -> None:
    """Write `to_json` to a file."""
    Path(path).write_text(json.dumps(to_json(results, profile), indent=2))
