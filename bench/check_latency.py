"""Wall time of `dlgrade check` as a student meets it: a new process each time, imports included.

Runs `dlgrade check <one exercise>` and `dlgrade check <assignment>` on the bundled solutions at
the student and grading profiles, several times each, and reports the median wall time, the time
spent inside student code and the checker's own time (both from the run's JSON). Prints a table
and writes JSON (default bench/results/check_latency.json).

    python bench/check_latency.py [--runs 5] [--profile student] [--only a4] [--out FILE]
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

from dlgrade.assignments import ASSIGNMENTS_DIR
from results_file import write_results

#: (label, names to check, target seconds at the student profile or None)
TARGETS = [
    ("one exercise (affine_backward)", ["affine_backward"], 2.0),
    ("one exercise (two_layer_net)", ["two_layer_net"], 2.0),
    ("assignment a1_backprop", ["a1_backprop"], 10.0),
    ("one exercise (dropout_forward)", ["dropout_forward"], 2.0),
    ("assignment a2_regularization", ["a2_regularization"], 10.0),
    ("one exercise (adam)", ["adam"], 2.0),
    ("assignment a3_optimizers", ["a3_optimizers"], 10.0),
    ("one exercise (conv_backward_naive)", ["conv_backward_naive"], 2.0),
    ("assignment a4_cnn", ["a4_cnn"], 10.0),
    ("one exercise (lstm_backward)", ["lstm_backward"], 2.0),
    ("assignment a5_rnn", ["a5_rnn"], 10.0),
    ("one exercise (multihead_attention_backward)", ["multihead_attention_backward"], 2.0),
    ("assignment a6_attention", ["a6_attention"], 10.0),
    ("one exercise (ring_allreduce)", ["ring_allreduce"], 2.0),
    ("assignment a7_distributed", ["a7_distributed"], 10.0),
]


def dlgrade() -> list[str]:
    """The command that starts dlgrade in a new interpreter."""
    exe = shutil.which("dlgrade", path=str(Path(sys.executable).parent)) or shutil.which("dlgrade")
    return [exe] if exe else [sys.executable, "-m", "dlgrade.grader.cli"]


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
    parser.add_argument("--profile", choices=["student", "grading"], action="append",
                        help="measure only this profile (repeatable; default both)")
    parser.add_argument("--only", metavar="TEXT", help="measure only the rows whose label contains TEXT")
    args = parser.parse_args()

    rows = []
    for label, names, target in TARGETS:
        if args.only and args.only not in label:
            continue
        for profile in args.profile or ("student", "grading"):
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
