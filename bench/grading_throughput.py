"""Batch-grading throughput: submissions per minute for a full assignment.

Grades a folder of generated submissions (copies of the bundled correct and buggy samples) with
`--jobs 1` and `--jobs 2`, on the local process pool and on Dask (a LocalCluster on loopback),
sandboxed, at the grading profile, into a fresh gradebook each time. Reports submissions per
minute and the overhead ratio: grading time per submission over the time spent inside student
code (calls timed from the trusted side, so the sandbox's round trips count as student time).
Prints a table and writes JSON (default bench/results/grading_throughput.json).

    python bench/grading_throughput.py [--submissions 8] [--engines local,dask] [--out FILE]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dlgrade.grader.grading.batch import grade_batch
from dlgrade.grader.demo import SAMPLE_ASSIGNMENT, build_samples
from dlgrade.grader.grading.gradebook import Gradebook
from results_file import write_results

#: The samples that stand for ordinary students (the hostile ones measure timeouts, not speed).
ORDINARY = ("alice_correct", "bob_sums_the_loss", "carol_relu_kink_and_global_cache", "dave_half_done")


def make_submissions(dest: Path, count: int) -> None:
    """`count` submission folders, cycling through the ordinary samples."""
    with tempfile.TemporaryDirectory() as tmp:
        build_samples(Path(tmp))
        for i in range(count):
            shutil.copytree(Path(tmp) / ORDINARY[i % len(ORDINARY)], dest / f"student_{i:03d}")


def measure(submissions: Path, engine: str, jobs: int) -> dict:
    """One batch into a fresh gradebook: throughput and overhead."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gradebook.sqlite"
        start = time.perf_counter()
        summary = grade_batch(submissions, [SAMPLE_ASSIGNMENT], db, jobs=jobs, engine=engine, progress=False)
        wall = time.perf_counter() - start
        with Gradebook(db) as gradebook:
            results = gradebook.results()
    grading = [r["seconds"] for r in results]
    student = [r["student_seconds"] for r in results]
    return {"engine": engine, "jobs": jobs, "submissions": summary["submissions"], "wall_s": wall,
            "per_minute": 60 * len(results) / wall, "median_grading_s": statistics.median(grading),
            "median_student_s": statistics.median(student),
            "overhead_ratio": sum(grading) / max(sum(student), 1e-9), "errors": summary["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--engines", default="local,dask")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "grading_throughput.json")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        submissions = Path(tmp) / "submissions"
        make_submissions(submissions, args.submissions)
        for engine in args.engines.split(","):
            for jobs in (1, 2):
                rows.append(measure(submissions, engine, jobs))

    table = Table(title=f"grading throughput: {args.submissions} submissions of {SAMPLE_ASSIGNMENT}, "
                        f"grading profile, sandboxed")
    for column in ("engine", "jobs", "wall s", "submissions/min", "grading s (median)", "in student code s (median)",
                   "overhead ratio", "errors"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["engine"], str(r["jobs"]), f"{r['wall_s']:.1f}", f"{r['per_minute']:.1f}",
                      f"{r['median_grading_s']:.1f}", f"{r['median_student_s']:.1f}", f"{r['overhead_ratio']:.2f}",
                      str(r["errors"]))
    Console(width=160).print(table)
    write_results(args.out, rows)


if __name__ == "__main__":
    main()
