"""`dlgrade demo`: the whole kit on bundled defaults.

1. release the student version and check the stubs (every exercise fails as not implemented);
2. check the instructor's solutions (every exercise passes);
3. batch-grade the bundled sample submissions (correct, buggy, incomplete and hostile ones) in
   the sandbox, and print the gradebook.

Steps 2 and 3 need the solutions, which only the course source holds (a checkout of the
repository, installed with `pip install -e .`): an installed package holds the released stubs
alone (see setup.py). From one, the demo does step 1 and says so.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.grader.outputs.escape import console as console_text

SAMPLES_DIR = Path(__file__).parent / "sample_submissions"
SAMPLE_ASSIGNMENT = "a1_backprop"
NO_SOLUTIONS = ("this installation holds the released stubs, not the solutions: the solutions and the sample "
                "submissions come from the course source (a checkout of the dlgrade repository, installed with "
                "`pip install -e .`)")


def build_samples(dest: Path) -> list[str]:
    """Write one submission folder per bundled sample into `dest`: the solutions, with the
    sample's code appended to one module (`# sample: append to M`) or a module removed
    (`# sample: remove M`). Raises RuntimeError where the solutions or samples are not at hand
    (an installed package: they live in the course source)."""
    from dlgrade.grader.release import has_solutions

    if not has_solutions() or not SAMPLES_DIR.is_dir():
        raise RuntimeError(NO_SOLUTIONS)
    names = []
    for sample in sorted(SAMPLES_DIR.glob("*.py")):
        folder = dest / sample.stem / SAMPLE_ASSIGNMENT
        shutil.copytree(ASSIGNMENTS_DIR / SAMPLE_ASSIGNMENT, folder, ignore=shutil.ignore_patterns("__pycache__", "*.toml"))
        text = sample.read_text().replace("{course}", str(ASSIGNMENTS_DIR))
        action, _, module = text.splitlines()[0].removeprefix("# sample: ").rpartition(" ")
        if action == "remove":
            (folder / module).unlink()
        else:
            target = folder / module
            target.write_text(target.read_text() + "\n\n" + text)
        names.append(sample.stem)
    return names


def run(console: Console) -> bool:
    """Run the demo; True when every step came out as it should."""
    from dlgrade.grader.grading.batch import grade_batch
    from dlgrade.grader.grading.session import run_checks
    from dlgrade.grader.grading.gradebook import Gradebook
    from dlgrade.grader.release import available, has_solutions, release
    from dlgrade.grader.outputs.report import print_results

    with tempfile.TemporaryDirectory(prefix="dlgrade-demo-") as tmp:
        tmp = Path(tmp)
        release(tmp / "student", available())
        console.rule("1. The released stubs: every exercise should fail as not implemented")
        _, stub_results = run_checks([], tmp / "student", seed=0, sandbox=True)
        print_results(stub_results, console, details=False)
        stubs_fail = all(r.status == "not_implemented" for r in stub_results)
        if not has_solutions():
            console.rule("2. and 3. The solutions and the sample submissions")
            console.print(f"[yellow]not run[/]: {NO_SOLUTIONS}.")
            console.print(f"stubs: {'all not implemented' if stubs_fail else '[red]some did not fail[/]'}")
            return stubs_fail

        console.rule("2. The instructor's solutions: every exercise should pass")
        _, solution_results = run_checks([], ASSIGNMENTS_DIR, seed=0, sandbox=True)
        print_results(solution_results, console)
        solutions_pass = all(r.passed for r in solution_results)

        console.rule("3. Batch grading of the bundled sample submissions (sandboxed)")
        samples = build_samples(tmp / "submissions")
        db = tmp / "gradebook.sqlite"
        summary = grade_batch(tmp / "submissions", [SAMPLE_ASSIGNMENT], db, jobs=2, timeout=5, progress=True)
        with Gradebook(db) as gradebook:
            results = gradebook.results()
        print_gradebook(results, console)
        console.print(f"graded {summary['graded']} submissions in {summary['seconds']:.1f} s")
        batch_ok = len(results) == len(samples) and _samples_scored_as_expected(results)

    console.rule("summary")
    console.print(f"stubs: {'all not implemented' if stubs_fail else '[red]some did not fail as not implemented[/]'}; "
                  f"solutions: {'all pass' if solutions_pass else '[red]some fail[/]'}; "
                  f"samples: {'graded as expected' if batch_ok else '[red]unexpected grades[/]'}")
    return stubs_fail and solutions_pass and batch_ok


def print_gradebook(results: list[dict], console: Console) -> None:
    """A table of the gradebook: each submission's score and the exercises it lost points on."""
    table = Table(title="gradebook")
    for column in ("submission", "score", "status", "exercises that lost points (why)"):
        table.add_column(column)
    for r in results:
        lost = [f"{e['name']} ({e['status'].replace('_', ' ') if e['status'] != 'checked' else _first_failure(e)})"
                for e in r["exercises"] if e["points"] < e["max_points"]]
        table.add_row(*map(console_text, (r["name"], f"{r['score']:g}/{r['max_score']:g}", r["status"],
                                          ", ".join(lost) or "-")))
    console.print(table)


def _first_failure(exercise: dict) -> str:
    failed = next((p for p in exercise["properties"] if not p["passed"]), None)
    return failed["name"] if failed else "?"


def _samples_scored_as_expected(results: list[dict]) -> bool:
    """The correct sample gets every point; every other sample loses some, and only some."""
    by_name = {r["name"]: r for r in results}
    correct = by_name.get("alice_correct")
    if correct is None or correct["score"] != correct["max_score"]:
        return False
    return all(0 < r["score"] < r["max_score"] for name, r in by_name.items() if name != "alice_correct")
