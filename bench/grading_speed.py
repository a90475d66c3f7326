"""Grading speed: what checking a submission costs, per assignment, and what the tools around the
checker add to it.

For each assignment, on the instructor's solutions as the submission:

- seconds per submission at the student and grading profiles, sandboxed and in-process (this
  process, the checker already loaded, as in a batch's pool), as wall time and as CPU time (this
  process's and the sandboxed worker's), with the time spent inside student code;
- examples checked per second: the test cases hypothesis ran (counted in a separate in-process
  run, since counting them slows hypothesis down), over the wall time of the sandboxed run;
- the batch overhead ratio: the wall time of `grade_batch` on several copies of the submission
  (one job, sandboxed) over the sum of their single sandboxed checks.

Then, for one exercise: `dlgrade check EXERCISE` cold (a new process, imports included) and with
--watch after the first run (a real save seen by watchfiles, to the verdict shown), sandboxed and
in-process; and, where nbgrader is installed, `nbgrader autograde` against `dlgrade grade` on the
same notebook submissions (the same seed, profile, sandbox and CPU budget per exercise), as wall and
CPU time of each command's whole process tree (bench/tree_time.py), with nbgrader's own cost: the
autograde of the same notebooks whose test cells check nothing. Each figure that has a target in
issue 15 says whether it meets it.

The machine's load at the start and the end is written with the results: on a busy machine the
wall times grow, the CPU times much less. Prints tables and writes JSON (default
bench/results/grading_speed.json).

    python bench/grading_speed.py [--quick] [--assignments a1_backprop,a4_cnn] [--runs 3]
                                  [--submissions 3] [--exercise affine_backward] [--nbgrader-runs 1]
                                  [--out FILE]

--quick is a smoke run: one exercise stands for a1_backprop, one run of each, one submission in
the batch, one save watched, no nbgrader. --sections measures some of it (nbgrader alone takes
minutes). The JSON is rewritten after each measurement, so an interrupted run keeps what it has.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

from dlgrade.assignments import ASSIGNMENTS_DIR  # noqa: E402
from dlgrade.checkers.registry import all_exercises, select  # noqa: E402
from dlgrade.grader.grading.session import run_checks  # noqa: E402

ASSIGNMENTS = sorted({e.assignment for e in all_exercises()})
PROFILES = ("student", "grading")
#: The seed of every run (the grading profile is derandomized from it; the student one seeded by it).
SEED = 7
#: What `dlgrade check affine_backward` took when issue 15 was filed (quiet 2-core machine).
COLD_BEFORE_S = 2.1
#: Issue 15's targets.
A1_GRADING_TARGET_S = 3.0
WATCH_TARGET_S = 0.5
NBGRADER_TARGET_RATIO = 1.3
SECTIONS = ("submission", "batch", "check", "nbgrader")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def solutions_submission(dest: Path, assignment: str) -> Path:
    """A submission folder `dest` holding the solutions of `assignment`; returns `dest`."""
    shutil.copytree(ASSIGNMENTS_DIR / assignment, dest / assignment,
                    ignore=shutil.ignore_patterns("__pycache__", "*.toml"))
    return dest


# -- one submission --------------------------------------------------------------------------------

def count_examples(names: list[str], path: Path, profile: str) -> int | None:
    """The hypothesis test cases (passed or failed) a check of `names` runs, in-process; None
    where this hypothesis cannot report them."""
    try:
        from hypothesis.internal.observability import add_observability_callback, remove_observability_callback
    except ImportError:
        return None
    count = 0

    def seen(observation) -> None:
        nonlocal count
        kind = getattr(observation, "type", None) or (observation.get("type") if isinstance(observation, dict) else None)
        status = getattr(observation, "status", None) or (observation.get("status") if isinstance(observation, dict)
                                                          else None)
        count += kind == "test_case" and str(getattr(status, "value", status)) in ("passed", "failed")

    add_observability_callback(seen)
    try:
        run_checks(names, path, profile, SEED, sandbox=False)
    finally:
        remove_observability_callback(seen)
    return count or None


def check_cost(names: list[str], path: Path, profile: str, sandbox: bool, runs: int) -> dict:
    """Median wall and CPU seconds of `runs` checks of `names` in this process, and the time
    inside student code (the worker's CPU time, sandboxed; measured around each call in-process)."""
    walls, cpus, student, points = [], [], [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        _, results = run_checks(names, path, profile, SEED, sandbox=sandbox, exercise_timeout=60)
        walls.append(time.perf_counter() - start)
        in_student = sum(r.student_seconds for r in results)
        # Sandboxed, the student's CPU time is the worker's, outside this process.
        cpus.append(time.process_time() - cpu + (in_student if sandbox else 0.0))
        student.append(in_student)
        points.append(sum(r.points for r in results))
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
            "student_s": statistics.median(student), "points": points[-1], "runs": runs}


def measure_assignment(assignment: str, names: list[str], runs: int, work: Path) -> list[dict]:
    """Rows for one assignment: each profile, sandboxed and in-process, with examples per second."""
    path = solutions_submission(work / f"solutions-{assignment}", assignment)
    rows = []
    for profile in PROFILES:
        examples = count_examples(names, path, profile)
        costs = {mode: check_cost(names, path, profile, mode == "sandboxed", runs) for mode in ("sandboxed", "in-process")}
        for mode, cost in costs.items():
            row = {"section": "submission", "assignment": assignment, "checked": names, "profile": profile,
                   "mode": mode, **cost, "examples": examples,
                   "examples_per_s": None if not examples else examples / cost["wall_s"],
                   "examples_per_cpu_s": None if not examples else examples / max(cost["cpu_s"], 1e-9)}
            if profile == "grading" and mode == "sandboxed":
                goal = 4 * costs["in-process"]["student_s"] + 2
                if assignment == "a1_backprop":
                    goal = min(goal, A1_GRADING_TARGET_S)
                row.update(target_s=goal, meets_target=cost["wall_s"] <= goal, meets_target_cpu=cost["cpu_s"] <= goal)
            rows.append(row)
    return rows


def batch_overhead(assignment: str, names: list[str], copies: int, single_s: float, work: Path) -> dict:
    """`grade_batch` (one job, sandboxed, grading profile) on `copies` copies of the solutions,
    against `copies` single sandboxed checks at the grading profile (`single_s` each)."""
    from dlgrade.grader.grading.batch import grade_batch
    from dlgrade.grader.grading.gradebook import Gradebook

    folder = work / f"batch-{assignment}"
    for i in range(copies):
        solutions_submission(folder / f"student_{i:03d}", assignment)
    db = work / f"batch-{assignment}.sqlite"
    start = time.perf_counter()
    summary = grade_batch(folder, names, db, jobs=1, engine="local", timeout=60, seed=SEED, sandbox=True,
                          progress=False)
    wall = time.perf_counter() - start
    with Gradebook(db) as book:
        results = book.results()
    return {"section": "batch", "assignment": assignment, "checked": names, "submissions": copies, "wall_s": wall,
            "per_submission_s": wall / copies, "sum_of_single_s": single_s * copies,
            "overhead_ratio": wall / max(single_s * copies, 1e-9),
            "grading_s_recorded": sum(r["seconds"] for r in results),
            "student_s_recorded": sum(r["student_seconds"] for r in results), "errors": summary["errors"]}


# -- dlgrade check, cold and watching --------------------------------------------------------------

def _dlgrade() -> list[str]:
    exe = shutil.which("dlgrade", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "dlgrade.grader.cli"]


def check_cold(exercise: str, runs: int) -> dict:
    """`dlgrade check EXERCISE` in a new process each time (sandboxed, student profile)."""
    walls, cpus = [], []
    for i in range(runs):
        start, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(_dlgrade() + ["check", exercise, "--path", str(ASSIGNMENTS_DIR), "--seed", str(i)],
                              capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
        if done.returncode != 0:
            raise SystemExit(f"dlgrade check {exercise} failed:\n{done.stdout}\n{done.stderr}")
    median = statistics.median(walls)
    return {"section": "check", "what": f"dlgrade check {exercise} (cold, new process)", "mode": "sandboxed",
            "first_s": None, "wall_s": median, "cpu_s": statistics.median(cpus), "runs": runs,
            "target_s": COLD_BEFORE_S, "meets_target": median <= COLD_BEFORE_S}


def check_watching(exercise: str, saves: int, sandbox: bool, work: Path, pause: float = 0.2) -> dict:
    """`check --watch`'s loop on a copy of the solutions: the first run, then `saves` saves of
    the exercise's module, each `pause` seconds after the verdict before it and timed from the
    save to its verdict (watchfiles included). A sandboxed round whose save comes before the
    standby sandbox has booted (about half a second) waits for the rest of its start."""
    from dlgrade.grader.grading import watch

    (chosen,) = select([exercise])
    root = solutions_submission(work / f"watch-{'sandboxed' if sandbox else 'in-process'}", chosen.assignment)
    module = root / chosen.assignment / f"{chosen.module}.py"
    check = watch.fresh_checks(root, sandbox, profile_name="student", seed=SEED, exercise_timeout=10)
    stop, saved_at, rounds = threading.Event(), [], []
    started = time.perf_counter()
    cpu_at = [time.process_time()]

    def show(fresh, changed, latest) -> None:
        now = time.perf_counter()
        student = sum(r.student_seconds for r in fresh) if sandbox else 0.0
        rounds.append((now - (saved_at[-1] if saved_at else started), time.process_time() - cpu_at[0] + student,
                       all(r.passed for r in fresh)))
        if len(rounds) > saves:
            stop.set()
            return
        threading.Thread(target=save, daemon=True).start()

    def save() -> None:
        time.sleep(pause)  # the watcher is waiting again
        cpu_at[0] = time.process_time()
        saved_at.append(time.perf_counter())
        with module.open("a") as f:
            f.write(f"\n# save {len(saved_at)}\n")

    def bounded(changes):
        timer = threading.Timer(60 + 30 * saves, stop.set)  # should a save go unseen
        timer.start()
        try:
            yield from changes
        finally:
            timer.cancel()

    with check:
        # Watching starts before the first run, as in `check --watch`: no save goes unseen.
        watch.watch([exercise], check, show, root, bounded(watch.file_changes(root, stop_event=stop)),
                    between=check.between)
    after = rounds[1:]
    median = statistics.median(r[0] for r in after) if after else None
    return {"section": "check",
            "what": f"dlgrade check {exercise} --watch, after the first run (saves {pause:g} s after a verdict)",
            "mode": "sandboxed" if sandbox else "in-process", "pause_s": pause,
            "first_s": rounds[0][0] if rounds else None,
            "wall_s": median, "cpu_s": statistics.median(r[1] for r in after) if after else None, "runs": len(after),
            "all_passed": all(r[2] for r in rounds), "target_s": WATCH_TARGET_S,
            "meets_target": median is not None and median <= WATCH_TARGET_S}


# -- nbgrader against dlgrade grade ----------------------------------------------------------------

def tree_timed(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """Wall and CPU seconds of `command` in a new process, counted over every process it starts
    (bench/tree_time.py: a batch's pool forks from a forkserver that nobody waits for)."""
    result = Path(tempfile.mkstemp(prefix="dlgrade-bench-", suffix=".json")[1])
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).parent / "tree_time.py"), str(result), *command],
                              cwd=cwd, env=env, capture_output=True, text=True)
        timing = json.loads(result.read_text()) if result.stat().st_size else {"returncode": done.returncode}
    finally:
        result.unlink()
    if timing["returncode"] != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return timing


def _median_or_none(values: list) -> float | None:
    return None if any(v is None for v in values) else statistics.median(values)


def _unchecked_course(assignment: str, course: Path) -> list[Path]:
    """The course source of `assignment` whose test cells give their points without checking, and
    whose autograde runs no hook of dlgrade's: what nbgrader costs on its own (its database,
    nbconvert, a kernel per notebook that runs the notebook's code)."""
    from dlgrade.grader.integrations.nbgrader_bridge import generate

    notebooks = generate(assignment, course)
    for notebook in notebooks:
        nb = json.loads(notebook.read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade"):
                cell["source"] = f"{cell['metadata']['nbgrader']['points']!r}"
        notebook.write_text(json.dumps(nb))
    config = course / "nbgrader_config.py"
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True)
                              if "convert_hook" not in line))
    return notebooks


def _submit(course: Path, assignment: str, notebooks: list[Path], copies: int, env: dict[str, str]) -> None:
    tree_timed([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"], course, env)
    for i in range(copies):
        folder = course / "submitted" / f"student_{i:03d}" / assignment
        folder.mkdir(parents=True)
        for notebook in notebooks:
            shutil.copy(notebook, folder / notebook.name)


def nbgrader_against_grade(assignment: str, copies: int, work: Path, runs: int = 1) -> dict:
    """`nbgrader autograde` of `copies` notebook submissions (the solutions' notebooks) against
    `dlgrade grade --jobs 1` of the same submitted/ folder: both new processes, with the same seed,
    profile (grading), sandbox and CPU budget per exercise, as wall and CPU time; and nbgrader's
    own cost, the autograde of the same notebooks whose test cells check nothing. Each is the
    median of `runs`, taken in turns, so that a change in the machine's load falls on all three."""
    row = {"section": "nbgrader", "assignment": assignment, "submissions": copies, "runs": runs}
    missing = [m for m in ("nbgrader", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        return {**row, "skipped": f"{' and '.join(missing)} not installed"}
    from nbgrader.api import Gradebook as NbgraderGradebook

    from dlgrade.grader.grading.gradebook import Gradebook
    from dlgrade.grader.integrations.nbgrader_bridge import EXERCISE_TIMEOUT, generate

    course, unchecked = work / f"nbgrader-{assignment}", work / f"nbgrader-{assignment}-unchecked"
    env = {**os.environ, "DLGRADE_COURSE_SEED": str(SEED),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    _submit(course, assignment, generate(assignment, course), copies, env)
    _submit(unchecked, assignment, _unchecked_course(assignment, unchecked), copies, env)

    autograde = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"]
    timings: dict[str, list[dict]] = {"nbgrader": [], "own": [], "grade": []}
    for i in range(runs):
        timings["nbgrader"].append(tree_timed(autograde, course, env))
        timings["own"].append(tree_timed(autograde, unchecked, env))
        # The test cells' checker gives each exercise EXERCISE_TIMEOUT CPU seconds: so does grade here.
        timings["grade"].append(tree_timed(
            _dlgrade() + ["grade", str(course / "submitted"), "--assignment", assignment, "--jobs", "1",
                          "--db", str(course / f"dlgrade-{i}.sqlite"), "--timeout", str(EXERCISE_TIMEOUT),
                          "--no-progress"], course, env))
    nbgrader, own, grade = ({key: _median_or_none([t[key] for t in timings[name]]) for key in ("wall_s", "cpu_s")}
                            for name in ("nbgrader", "own", "grade"))
    with NbgraderGradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        nbgrader_points = sum(book.find_submission(assignment, f"student_{i:03d}").score for i in range(copies))
    with Gradebook(course / f"dlgrade-{runs - 1}.sqlite") as book:
        grade_points = sum(r["score"] for r in book.results())

    def ratio(a, b):
        return None if a is None or b is None else a / b

    cpu_less_own = None if nbgrader["cpu_s"] is None or own["cpu_s"] is None else nbgrader["cpu_s"] - own["cpu_s"]
    return {**row, "nbgrader_s": nbgrader["wall_s"], "nbgrader_cpu_s": nbgrader["cpu_s"],
            "grade_s": grade["wall_s"], "grade_cpu_s": grade["cpu_s"],
            "nbgrader_own_s": own["wall_s"], "nbgrader_own_cpu_s": own["cpu_s"],
            "ratio": ratio(nbgrader["wall_s"], grade["wall_s"]), "ratio_cpu": ratio(nbgrader["cpu_s"], grade["cpu_s"]),
            "ratio_less_nbgrader_own": ratio(nbgrader["wall_s"] - own["wall_s"], grade["wall_s"]),
            "ratio_cpu_less_nbgrader_own": ratio(cpu_less_own, grade["cpu_s"]),
            "nbgrader_points": nbgrader_points, "grade_points": grade_points,
            "each_run": {name: [{key: t[key] for key in ("wall_s", "cpu_s")} for t in runs_of]
                         for name, runs_of in timings.items()},
            "target_ratio": NBGRADER_TARGET_RATIO,
            "meets_target": nbgrader["wall_s"] / grade["wall_s"] <= NBGRADER_TARGET_RATIO,
            "meets_target_cpu": (ratio(nbgrader["cpu_s"], grade["cpu_s"]) or float("inf")) <= NBGRADER_TARGET_RATIO}


# -- the report ------------------------------------------------------------------------------------

def _s(value, digits=2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _target(row: dict, key: str = "target_s", unit: str = " s") -> str:
    if row.get(key) is None:
        return ""
    return f"≤ {row[key]:.2f}{unit} " + ("✓" if row.get("meets_target") else "✗")


def print_tables(rows: list[dict], console: Console) -> None:
    """One table per section measured."""
    measured = {r["section"] for r in rows}
    table = Table(title="seconds per submission (the solutions), checker loaded")
    for column in ("assignment", "profile", "mode", "wall s", "CPU s", "in student code s", "examples",
                   "examples/s", "target (wall)"):
        table.add_column(column, justify="left" if column in ("assignment", "profile", "mode") else "right")
    for r in (r for r in rows if r["section"] == "submission"):
        table.add_row(r["assignment"] + ("" if r["checked"] == [r["assignment"]] else f" ({', '.join(r['checked'])})"),
                      r["profile"], r["mode"], _s(r["wall_s"]), _s(r["cpu_s"]), _s(r["student_s"], 3),
                      str(r["examples"] or "–"), _s(r["examples_per_s"], 0), _target(r))
    if "submission" in measured:
        console.print(table)

    table = Table(title="batch overhead: grade_batch (1 job, sandboxed, grading) over the sum of single checks")
    for column in ("assignment", "submissions", "batch wall s", "per submission s", "sum of single s", "ratio",
                   "grading s recorded", "in student code s recorded"):
        table.add_column(column, justify="left" if column == "assignment" else "right")
    for r in (r for r in rows if r["section"] == "batch"):
        table.add_row(r["assignment"], str(r["submissions"]), _s(r["wall_s"]), _s(r["per_submission_s"]),
                      _s(r["sum_of_single_s"]), _s(r["overhead_ratio"]), _s(r["grading_s_recorded"]),
                      _s(r["student_s_recorded"], 3))
    if "batch" in measured:
        console.print(table)

    table = Table(title="dlgrade check, one exercise (student profile)")
    for column in ("what", "mode", "first run s", "median wall s", "median CPU s", "runs", "target"):
        table.add_column(column, justify="left" if column in ("what", "mode") else "right")
    for r in (r for r in rows if r["section"] == "check"):
        table.add_row(r["what"], r["mode"], _s(r["first_s"]), _s(r["wall_s"]), _s(r["cpu_s"]), str(r["runs"]),
                      _target(r))
    if "check" in measured:
        console.print(table)

    for r in (r for r in rows if r["section"] == "nbgrader"):
        if "skipped" in r:
            console.print(f"nbgrader autograde against dlgrade grade ({r['assignment']}): not measured, {r['skipped']}")
            continue
        table = Table(title=f"nbgrader autograde against dlgrade grade --jobs 1: {r['submissions']} notebook "
                            f"submission(s) of {r['assignment']}, the same seed, profile, sandbox and CPU budget "
                            f"(median of {r.get('runs', 1)})")
        for column in ("", "nbgrader autograde", "dlgrade grade", "ratio", "nbgrader's own (unchecked cells)",
                       "ratio less nbgrader's own", "target"):
            table.add_column(column, justify="left" if not column else "right")
        table.add_row("wall s", _s(r["nbgrader_s"]), _s(r["grade_s"]), _s(r["ratio"]), _s(r["nbgrader_own_s"]),
                      _s(r["ratio_less_nbgrader_own"]), _target(r, "target_ratio", "×"))
        table.add_row("CPU s", _s(r["nbgrader_cpu_s"]), _s(r["grade_cpu_s"]), _s(r["ratio_cpu"]),
                      _s(r["nbgrader_own_cpu_s"]), _s(r["ratio_cpu_less_nbgrader_own"]),
                      "" if r["ratio_cpu"] is None else f"≤ {r['target_ratio']:.2f}× "
                      + ("✓" if r["meets_target_cpu"] else "✗"))
        table.add_row("points", _s(r["nbgrader_points"]), _s(r["grade_points"]), "", "", "", "")
        console.print(table)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (see the module's docstring)")
    parser.add_argument("--assignments", default=",".join(ASSIGNMENTS))
    parser.add_argument("--runs", type=int, default=3, help="checks of each kind (median)")
    parser.add_argument("--submissions", type=int, default=3, help="copies in the batch and in the nbgrader run")
    parser.add_argument("--exercise", default="affine_backward", help="the exercise of `dlgrade check` cold and --watch")
    parser.add_argument("--saves", type=int, default=5, help="saves timed with --watch")
    parser.add_argument("--save-pause", type=float, default=0.2,
                        help="seconds from a --watch verdict to the next save (a student reading it: seconds)")
    parser.add_argument("--nbgrader-assignment", default="a1_backprop")
    parser.add_argument("--nbgrader-runs", type=int, default=1,
                        help="autogrades and grades of the nbgrader section, taken in turns (median)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="what to measure (default all): " + ", ".join(SECTIONS) + " (batch needs submission)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "grading_speed.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.assignments, args.runs, args.submissions, args.saves = "a1_backprop", 1, 1, 1
        args.exercise = "relu_forward"

    sections = set(args.sections.split(","))
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    notes = {"load_average_before": os.getloadavg(), "quick": args.quick, "seed": SEED}
    rows: list[dict] = []

    def keep(*new_rows: dict) -> None:
        # Written as they come: an interrupted run keeps what it measured.
        rows.extend(new_rows)
        write_results(args.out, rows, {**notes, "load_average_now": os.getloadavg()}, announce=False)

    with tempfile.TemporaryDirectory(prefix="dlgrade-bench-") as tmp:
        work = Path(tmp)
        # The checker and torch loaded before anything is timed, as in a batch's pool.
        run_checks([args.exercise], ASSIGNMENTS_DIR, "student", SEED, sandbox=False)
        for assignment in args.assignments.split(",") if sections & {"submission", "batch"} else ():
            names = [args.exercise] if args.quick else [assignment]
            submission_rows = measure_assignment(assignment, names, args.runs, work)
            keep(*submission_rows)
            if "batch" in sections:
                single = next(r for r in submission_rows if r["profile"] == "grading" and r["mode"] == "sandboxed")
                keep(batch_overhead(assignment, names, args.submissions, single["wall_s"], work))
        if "check" in sections:
            keep(check_cold(args.exercise, args.runs))
            for sandbox in (True, False):
                keep(check_watching(args.exercise, args.saves, sandbox, work, args.save_pause))
        if "nbgrader" in sections:
            if args.quick:
                keep({"section": "nbgrader", "assignment": args.nbgrader_assignment, "submissions": 0,
                      "skipped": "not run in --quick mode"})
            else:
                keep(nbgrader_against_grade(args.nbgrader_assignment, args.submissions, work, args.nbgrader_runs))
    print_tables(rows, Console(width=170))
    write_results(args.out, rows, {**notes, "load_average_after": os.getloadavg()})
    return rows


if __name__ == "__main__":
    main()
