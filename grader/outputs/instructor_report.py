"""The instructor's report: one self-contained HTML page about a graded batch.

Read from the SQLite gradebook alone (grader.grading.gradebook): the score distribution, each exercise's
pass rate, the failing properties and hints most common across the class (the mistakes to
explain in the next lecture), and the grading time per submission. Charts are drawn by
matplotlib with the Agg backend and inlined as SVG, so the page needs no other file and no network.
Submission names and hints come from submissions: HTML cells are written through
grader.outputs.escape.html and chart labels through grader.outputs.escape.plot_label, drawn with usetex off.
"""

from __future__ import annotations

import io
import statistics
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from dlgrade.grader.outputs import escape

#: How many of the most common failures and hints the page lists.
TOP = 12


def build_report(db_path: Path | str) -> str:
    """The report of the gradebook at `db_path`, as an HTML page."""
    from dlgrade.grader.outputs.export import load_results

    results = load_results(db_path)
    graded = [r for r in results if r["status"] == "graded"]
    possible = max((float(r.get("max_score", 0)) for r in results), default=0.0)
    scores = [float(r["score"]) for r in results]
    exercises: dict[str, list[bool]] = {}
    failures: Counter = Counter()
    hints: Counter = Counter()
    for r in graded:
        for e in r.get("exercises", []):
            exercises.setdefault(e["name"], []).append(bool(e["passed"]))
            for p in e.get("properties", []):
                if p["checked"] and not p["passed"]:
                    failures[(e["name"], p["name"])] += 1
                    hints.update(set(p.get("hints", [])))
    pass_rates = {name: sum(v) / len(v) for name, v in exercises.items()}
    seconds = {r["name"]: float(r.get("seconds", 0.0)) for r in results}

    summary = [("submissions", str(len(results))), ("could not be graded", str(len(results) - len(graded))),
               ("mean score", f"{statistics.fmean(scores):.2f}/{possible:g}" if scores else "–"),
               ("median score", f"{statistics.median(scores):.2f}/{possible:g}" if scores else "–"),
               ("grading time", f"{sum(seconds.values()):.1f} s in all, "
                                f"{statistics.median(seconds.values()) if seconds else 0:.1f} s median")]
    parts = [_HEAD, "<h1>dlgrade: class report</h1>", f"<p>Gradebook <code>{escape.html(db_path)}</code></p>",
             _table(["", ""], summary),
             "<h2>Score distribution</h2>", _histogram(scores, possible),
             "<h2>Pass rate per exercise</h2>", _bars(pass_rates, "passed (share of graded submissions)"),
             "<h2>Most common failures</h2>",
             "<p>The properties that fail most often across the class: the mistakes to explain next lecture.</p>",
             _table(["exercise", "property", "submissions"],
                    [(e, p, str(n)) for (e, p), n in failures.most_common(TOP)]),
             "<h2>Most common hints</h2>",
             _table(["hint", "submissions"], [(h, str(n)) for h, n in hints.most_common(TOP)]),
             "<h2>Overrides</h2>",
             "<p>Points set by hand (<code>dlgrade override</code>); every score above counts them.</p>",
             _table(["submission", "exercise", "points", "graded", "reason", "when"],
                    [(r["name"], o["exercise"], f"{o['points']:g}", f"{float(o['original']):g}", o["reason"], o["at"])
                     for r in results for o in r.get("overrides", []) if o.get("applied")]),
             "<h2>Grading time per submission</h2>", _bars(seconds, "seconds", percent=False),
             "</body></html>"]
    return "\n".join(parts)


def write_report(db_path: Path | str, out: Path | str) -> Path:
    """Write `build_report(db_path)` to `out`; return it."""
    out = Path(out)
    out.write_bytes(build_report(db_path).encode("utf-8"))
    return out


_HEAD = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>dlgrade class report</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left}
th{background:#f0f0f0}svg{max-width:100%;height:auto}</style></head><body>"""


def _table(header: list[str], rows: list[tuple]) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{escape.html(h)}</th>" for h in header) if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{escape.html(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{'<tr>' + head + '</tr>' if head else ''}{body}</table>"


def _figure(draw, height: float) -> str:
    """A matplotlib figure drawn by `draw(ax)`, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # usetex off whatever the instructor's matplotlibrc says: a label must never reach LaTeX. A name
    # in a script the font lacks is drawn as boxes, which needs no warning per glyph.
    with matplotlib.rc_context({"text.usetex": False}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig, ax = plt.subplots(figsize=(8, height))
        try:
            draw(ax)
            fig.tight_layout()
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None})  # the same gradebook, the same page
        finally:
            plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # the XML declaration and doctype are not allowed inside HTML


def _histogram(scores: list[float], possible: float) -> str:
    if not scores:
        return "<p><em>no submissions</em></p>"

    def draw(ax: Any) -> None:
        ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, possible or max(scores) or 1),
                color="#4c72b0", edgecolor="white")
        ax.set_xlabel(f"score (out of {possible:g})")
        ax.set_ylabel("submissions")
    return _figure(draw, 3)


def _bars(values: dict[str, float], label: str, percent: bool = True) -> str:
    if not values:
        return "<p><em>nothing graded</em></p>"

    def draw(ax: Any) -> None:
        names = list(values)[::-1]
        data = [values[n] * (100 if percent else 1) for n in names]
        # Positions, then labels: names as categories would merge two that escape alike.
        ax.barh(range(len(names)), data, color=["#55a868" if not percent or v >= 50 else "#c44e52" for v in data])
        ax.set_yticks(range(len(names)), [escape.plot_label(n) for n in names])
        ax.set_xlabel(label + (" (%)" if percent else ""))
        if percent:
            ax.set_xlim(0, 100)
        ax.tick_params(axis="y", labelsize=8)
    return _figure(draw, max(2.0, 0.25 * len(values) + 1))
