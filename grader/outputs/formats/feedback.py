"""A Markdown feedback file per student (format "feedback")."""

from __future__ import annotations

from pathlib import Path

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, show_replay, shown, summary, write_text
from dlgrade.grader.outputs.report import failure_lines, verdict


NAME = "feedback"


def default_out(one_submission: bool) -> str:
    return "feedback"


def write(results: list[Result], out: Output) -> list[Path]:
    """OUT/<name>.md for each submission: always a folder, so the files can be handed out as they are."""
    return out.per_submission(results, lambda name: f"{name}.md", lambda path, r: write_text(path, feedback_markdown(r)))


def feedback_markdown(result: Result) -> str:
    """A student's feedback as Markdown: title, score, a table of exercises, then each failure
    as `dlgrade check` shows it (property, message, hints). Replay lines appear only where the
    seed is not secret, i.e. never for grading-profile results."""
    replay = show_replay(result)
    md = escape.markdown
    lines = [f"# Feedback: {md(result['name'])}", "", f"**{md(summary(result))}**", ""]
    exercises = result.get("exercises", [])
    if exercises:
        lines += ["| exercise | points | status |", "| --- | --- | --- |"]
        lines += [f"| {md(e['name'])} | {shown(e['points'])}/{shown(e['max_points'])} | {md(verdict(e))} |"
                  for e in exercises]
        lines.append("")
    failing = [e for e in exercises if not e["passed"]]
    if failing:
        lines += ["## What to fix", ""]
    for e in failing:
        lines += [f"### ✗ {md(e['name'])}", ""]
        # The check output is indented plain text; a code block keeps its alignment and stops
        # Markdown from reading '*' or '_' in array shapes and formulas as emphasis (or HTML).
        lines += [*escape.markdown_code(failure_lines(e, replay)), ""]
    if exercises and not failing:
        lines += ["Every exercise passes.", ""]
    return "\n".join(lines)
