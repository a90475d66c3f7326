"""Verdicts as a student reads them (a rich table and the failures under it) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from rich.console import Console
from rich.table import Table

from dlgrade.checkers.exercise import BACKWARD_NOT_CHECKED, ExerciseResult
from dlgrade.checkers.profiles import GradingProfile
from dlgrade.grader.grading.session import exercise_json, score, to_json  # noqa: F401 (the JSON form, with the verdicts)
from dlgrade.grader.outputs.escape import console as escape
from dlgrade.grader.outputs.escape import json_ready

_STATUS_WORDS = {"missing": "missing", "module_error": "module error", "forbidden": "forbidden import",
                 "not_implemented": "not implemented"}


def _is_advice(p: Mapping[str, Any]) -> bool:
    """A property worth no points (weight 0, not essential): reported, never a failure."""
    return not p.get("essential", True) and not p.get("weight", 1.0)


def verdict(exercise: Mapping[str, Any]) -> str:
    """One word or two for an exercise (in its JSON form, see `exercise_json`): "pass", "partial"
    when only minor properties failed (some points earned), "fail" when it earns nothing; an
    exercise whose points were set by hand (the gradebook's overrides) says so, with the reason."""
    words = _verdict(exercise)
    override = exercise.get("override")
    if override:
        words += (f" (override: {override['points']:g}/{float(exercise['max_points']):g}, graded "
                  f"{float(override['original']):g}: {override['reason']})")
    return words


def _verdict(exercise: Mapping[str, Any]) -> str:
    status = exercise.get("status", "checked")
    if status != "checked":
        return _STATUS_WORDS.get(status, status.replace("_", " "))
    props = exercise.get("properties", [])
    skipped = sum(1 for p in props if p.get("skipped"))
    advice = sum(1 for p in props if _is_advice(p) and p.get("checked", True) and not p["passed"]
                 and not p.get("skipped"))
    if exercise.get("passed"):
        notes = [f"{skipped} skipped"] * bool(skipped) + ["advice"] * bool(advice)
        return f"pass ({', '.join(notes)})" if notes else "pass"
    props = [p for p in props if not p.get("skipped") and not _is_advice(p)]
    if any(not p["checked"] for p in props):
        first = next((p.get("message") or "" for p in props if not p["passed"]), "")
        return "fail (its forward is wrong)" if first.startswith(BACKWARD_NOT_CHECKED) else "fail (does not run)"
    failed = sum(1 for p in props if not p["passed"])
    word = "partial" if exercise.get("points", 0) > 0 else "fail"
    return f"{word} ({failed} of {len(props)})"


def _coloured(words: str) -> str:
    colour = "green" if words.startswith("pass") else \
        "yellow" if words in ("missing", "not implemented") or words.startswith("partial") else "red"
    return f"[{colour}]{words}[/]"


def print_results(results: Sequence[ExerciseResult], console: Console, title: str = "", details: bool = True) -> None:
    """The table of exercises, then each failure: property, input, values, diagnosis, hint, replay.

    Every text is plain (rich markup in it prints as it is), one line per line, and neutralised
    for CI logs (grader.outputs.escape.console): student messages cannot style, move the cursor or issue
    workflow commands."""
    table = Table(title=escape(title) if title else None, show_lines=False)
    for column in ("exercise", "assignment", "points", "verdict"):
        table.add_column(column, justify="right" if column == "points" else "left")
    for r in results:
        table.add_row(escape(r.name), escape(r.assignment), f"{r.points:g}/{r.max_points:g}",
                      _coloured(escape(verdict(exercise_json(r)))))
    earned, possible = score(results)
    table.add_section()
    table.add_row("total", "", f"{earned:g}/{possible:g}", "")
    console.print(table)
    if not details:
        return
    for r in results:
        lines = failure_lines(exercise_json(r), replay=True) if r.status == "checked" else []
        if not lines:
            continue  # the table says it all for a pass, missing, module error or not implemented
        console.print(f"\n[bold {'yellow' if r.passed else 'red'}]{'!' if r.passed else '✗'} {escape(r.name)}[/]")
        for line in lines:
            text = escape(line)
            if not line.startswith(" "):
                text = f"  [bold]{text}[/]".replace(" (minor)[/]", "[/] [dim](minor)[/]").replace(
                    " (advice, no points)[/]", "[/] [dim](advice, no points)[/]")
            elif line.lstrip().startswith(("hint:", "replay:")):
                label, _, rest = line.strip().partition(":")
                text = f"    [{'cyan' if label == 'hint' else 'dim'}]{label}:[/]{escape(rest)}"
            console.print(text, highlight=False, soft_wrap=True)
    for r in results:
        for p in r.skipped if r.status == "checked" else []:
            console.print(f"[yellow]skipped[/] {escape(r.name)}.{escape(p.name)}: {escape(p.message.removeprefix('skipped: '))}",
                          highlight=False, soft_wrap=True)
    for r in results:
        if r.status in ("missing", "module_error", "forbidden"):
            console.print(f"[yellow]{escape(r.name)}[/]: {escape(r.reason)}", highlight=False)
    for r in results:
        if r.note:
            console.print(f"[cyan]note[/] {escape(r.name)}: {escape(r.note)}", highlight=False, soft_wrap=True)


def failure_lines(exercise: Mapping[str, Any], replay: bool = False) -> list[str]:
    """The failures of one exercise as `dlgrade check` prints them, in plain text: each failing
    property, its message lines, its hints (and its replay command when `replay`).

    A headline already shown for another property is given once, as `check` does, because one
    bug often breaks several properties. An exercise that could not be checked (missing, module
    error, ...) is its reason alone. A passing exercise has only its advice (properties worth no
    points that do not hold)."""
    override = exercise.get("override")
    head = [f"override: {override['points']:g}/{float(exercise['max_points']):g} points set by hand (graded "
            f"{float(override['original']):g}): {override['reason']}"] if override else []
    if exercise.get("status", "checked") not in ("checked", "not_implemented"):
        return head + ([] if exercise.get("passed") else [exercise.get("reason") or _verdict(exercise)])
    lines: list[str] = head
    first_seen: dict[str, str] = {}
    for p in exercise.get("properties", []):
        if p["passed"] or not p["checked"] or (exercise.get("passed") and not _is_advice(p)):
            continue
        lines.append(p["name"] + (" (advice, no points)" if _is_advice(p) else "" if p["essential"] else " (minor)"))
        message = p.get("message") or ""
        headline = message.splitlines()[0] if message else ""
        if headline in first_seen:
            lines.append(f"    {headline} (as in {first_seen[headline]})")
            continue
        first_seen[headline] = p["name"]
        lines += ["    " + line for line in message.splitlines()]
        lines += [f"    hint: {hint}" for hint in p.get("hints", [])]
        if replay and p.get("replay"):
            lines.append(f"    replay: {p['replay']}")
    return lines


def write_json(results: Sequence[ExerciseResult], profile: GradingProfile, path: Path) -> None:
    """Write `to_json` to a file."""
    Path(path).write_text(json.dumps(json_ready(to_json(results, profile)), indent=2), encoding="utf-8")
