"""Wall time of `dlgrade check` as a student meets it: a new process each time, imports included.

Runs `dlgrade check <one exercise>` and `dlgrade check <assignment>` on the bundled solutions at
the student and grading profiles, several times each, and reports the median wall time, the time
spent inside student code and the checker's own time (both from the run's JSON). Prints a table
and writes JSON (default bench/results/check_latency.json).

    python bench/check_latency.py [--runs 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assignments import ASSIGNMENTS_DIR
from results_file import write_results

#: (label, names to check, target seconds at the student profile or None)
TARGETS = [
    ("one exercise (affine_backward)", ["affine_backward"], 2.0),
    ("one exercise (two_layer_net)", ["two_layer_net"], 2.0),
    ("assignment a1_backprop", ["a1_backprop"], 10.0),
]


def dlgrade() -> list[str]:
    """The command that starts dlgrade in a new interpreter."""
    exe = shutil.which("dlgrade", path=str(Path(sys.executable).parent)) or shutil.which("dlgrade")
    return [exe] if exe else [sys.executable, "-m", "grader.cli"]


def measure(names: list[str], profile: str, runs: int) -> dict:
    """Median wall time of `runs` new processes, and the student/checker split of the last one."""
    walls, student, checker = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        for i in range(runs):
            cmd = dlgrade() + ["check", *names, "--path", str(ASSIGNMENTS_DIR), "--profile", profile,
                               "--seed", str(i), "--json", str(report)]
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
            exercises = json.loads(report.read_text())["exercises"]
            student.append(sum(e["student_seconds"] for e in exercises))
            checker.append(sum(e["seconds"] - e["student_seconds"] for e in exercises))
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls), "runs": runs,
            "student_code_s": statistics.median(student), "checker_s": statistics.median(checker)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "check_latency.json")
    args = parser.parse_args()

    rows = []
    for label, names, target in TARGETS:
        for profile in ("student", "grading"):
            m = measure(names, profile, args.runs)
            goal = target if profile == "student" else None
            rows.append({"what": label, "profile": profile, "target_s": goal,
                         "meets_target": None if goal is None else m["median_s"] <= goal, **m})

    table = Table(title=f"dlgrade check latency (median of {args.runs} new processes)")
    for column in ("what", "profile", "median s", "min–max s", "in student code s", "checker s", "target"):
        table.add_column(column)
    for r in rows:
        target = "" if r["target_s"] is None else f"≤ {r['target_s']:g} s " + ("✓" if r["meets_target"] else "✗")
        table.add_row(r["what"], r["profile"], f"{r['median_s']:.2f}", f"{r['min_s']:.2f}–{r['max_s']:.2f}",
                      f"{r['student_code_s']:.3f}", f"{r['checker_s']:.2f}", target)
    Console(width=140).print(table)
    write_results(args.out, rows)


if __name__ == "__main__":
    main()
