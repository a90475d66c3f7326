"""The `dlgrade` command line: course init, release, check, list, grade, export, report, demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console

from dlgrade.grader.grading.course import Course, CourseError, load_course
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.release import ReleaseError, init_course, release, release_checks


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _default_path() -> Path:
    return Path("assignments") if Path("assignments").is_dir() else Path(".")


#: DLGRADE_COURSE_SEED as it was when the command started; it is removed from the environment
#: then, so that no process started afterwards inherits it.
_environment_seed: str | None = None


def _take_environment_seed() -> None:
    global _environment_seed
    _environment_seed = os.environ.pop("DLGRADE_COURSE_SEED", None)
    if _environment_seed is not None and not _environment_seed.strip():
        _environment_seed = None  # set but empty: a CI secret that was never given


def read_seed_file(path: Path) -> int:
    """The seed in `path` (a file, or /dev/fd/N). A file that others can read is refused: the
    seed is what keeps the hidden examples hidden."""
    from dlgrade.grader.grading.course import read_seed_file as read

    try:
        return read(path)
    except CourseError as e:
        raise click.UsageError(f"--seed-file {e}")


def course_seed(seed: int | None, seed_file: Path | None, secret: bool) -> int | None:
    """The seed of the run: --seed-file, else --seed, else DLGRADE_COURSE_SEED, else the seed
    file the course's course.toml names (None: the profile's). secret: the seed is the course's
    (grading), so say when it is not kept secret."""
    from dlgrade.checkers.profiles import DEFAULT_COURSE_SEED

    if seed_file is not None:
        if seed is not None:
            raise click.UsageError("give --seed or --seed-file, not both")
        seed = read_seed_file(seed_file)
    elif seed is not None and secret:
        _warn("--seed is visible to every process on this machine (/proc/PID/cmdline); keep the course seed "
              "in a file only you can read (--seed-file FILE) or in DLGRADE_COURSE_SEED")
    elif seed is None:
        try:
            seed = current_course().seed(_environment_seed)
        except CourseError as e:
            raise click.UsageError(str(e))
    if secret and seed in (None, DEFAULT_COURSE_SEED):
        _warn(f"grading with the public default seed ({DEFAULT_COURSE_SEED}, printed in dlgrade's source): anyone "
              "can compute the hidden examples; give the course's own with --seed-file or DLGRADE_COURSE_SEED")
    return seed


def _warn(text: str) -> None:
    click.secho(f"dlgrade: warning: {text}", err=True, fg="yellow")


def _activate_course(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    try:
        ctx.meta["dlgrade.course"] = load_course(value).activate()
    except CourseError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param)
    ctx.meta["dlgrade.course_named"] = value is not None


def _refuse_course_in(folder: Path, graded: str, named_too: bool) -> None:
    """Refuse to grade with a course folder that lies in `folder`, what is being graded: a
    course's checks run in this process, unconfined, so a course.toml is never taken from a
    submission. named_too: refuse it even when --course named it (else only when it was found
    in the current folder). A course found in the current folder is refused as well when what is
    graded lies inside it: a student's repository that holds a course.toml and an assignments/
    folder is what is graded, not a course."""
    course, ctx = current_course(), click.get_current_context()
    named = bool(ctx.meta.get("dlgrade.course_named"))
    if course.bundled or (named and not named_too):
        return
    folder = folder.resolve()
    inside = course.root == folder or course.root.is_relative_to(folder)
    around = not named and folder.is_relative_to(course.root)
    if inside or around:
        how = "--course names" if named else "the current folder holds"
        where = "inside" if inside else "around"
        raise click.UsageError(f"{how} a course folder ({course.root}) {where} {graded}: a course's checks run "
                               "unconfined, so a course is never taken from what is graded. Give the course "
                               "folder with --course DIR, from outside the submissions.")


def with_course(command):
    """The option --course DIR, for every command that reads the course: the course folder
    (default: the current folder when it holds a course.toml, else the bundled curriculum) is
    made the one the checker reads before the command runs (see grader.grading.course)."""
    return click.option("--course", type=click.Path(exists=True, path_type=Path), default=None, is_eager=True,
                        expose_value=False, callback=_activate_course,
                        help="The course folder (with a course.toml). Default: the current folder when it holds "
                             "one, else dlgrade's bundled curriculum.")(command)


def current_course() -> Course:
    """The course of the running command (as --course chose it)."""
    ctx = click.get_current_context(silent=True)
    course = ctx.find_root().meta.get("dlgrade.course") if ctx is not None else None
    return course if course is not None else load_course(None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dlgrade: deep-learning exercises checked by properties against torch references."""
    _take_environment_seed()


@main.group("course")
def course_group() -> None:
    """The instructor's course folder."""


@course_group.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("assignment", nargs=-1)
@click.option("--name", default=None, help="The course's name (default: the folder's).")
def course_init_command(directory: Path, assignment: tuple[str, ...], name: str | None) -> None:
    """Write DIRECTORY, a course folder for ASSIGNMENT (default: all) from the bundled
    curriculum: course.toml, one folder per assignment (modules with their solutions fenced,
    manifest) and checks/, where the course's own exercises are declared."""
    try:
        written = init_course(directory, list(assignment), name)
    except ReleaseError as e:
        raise click.UsageError(str(e))
    course = load_course(directory)
    click.echo(f"wrote the course {course.name!r} to {directory} ({len(written)} files): {', '.join(course.assignments)}")


@main.command("release")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.argument("assignment", nargs=-1)
@with_course
def release_command(out: Path, assignment: tuple[str, ...]) -> None:
    """Write the student version of ASSIGNMENT (default: all of the course) into OUT: stubs that
    raise NotImplementedError, with full signatures and docstrings, and no solution text. A
    course folder's own checks (checks/) go with it, so that students can check its exercises."""
    course = current_course()
    names = list(assignment) or list(course.assignments)
    unknown = [a for a in names if a not in course.assignments]
    if unknown:
        raise click.UsageError(f"unknown assignment(s): {', '.join(unknown)}; known: {', '.join(course.assignments)}")
    try:
        written = release(out, names, course.assignments_dir)
        if not course.bundled:
            written += release_checks(out, course, names)
    except ReleaseError as e:
        raise click.ClickException(str(e))
    click.echo(f"released {', '.join(names)} to {out} ({len(written)} files)")


@main.command("check")
@click.argument("names", nargs=-1)
@click.option("--path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Folder laid out like the release (PATH/a1_backprop/layers.py), or a notebook (.ipynb). "
                   "Default: ./assignments if it exists, else the current folder.")
@click.option("--profile", "profile_name", type=click.Choice(["student", "grading"]), default="student", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the run (student: random; grading: the course seed, visible to other processes: "
                   "prefer --seed-file).")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A file (or /dev/fd/N) holding the course seed, readable by you alone.")
@click.option("--property", "only", default=None, help="Check only this property (to replay a failure).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the verdicts as JSON to this file.")
@click.option("--classroom", "classroom_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the GitHub Classroom runner result (and, in GitHub Actions, publish it as the "
                   "step output `result`).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the verdicts as JUnit XML (one test case per property) to this file.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also append a Markdown summary (score, a line per exercise) to this file, e.g. a CI job summary.")
@click.option("--reveal/--hide", "reveal", default=None,
              help="Show or withhold the values of failing examples (grading hides them by default).")
@click.option("--no-sandbox", is_flag=True,
              help="Run the code in this process (to debug with breakpoints); same verdicts, no confinement.")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="CPU seconds each exercise may spend in student code.")
@click.option("--watch", is_flag=True,
              help="Keep checking: after the first run, re-check the exercises a saved module affects, on every save "
                   "(Ctrl-C ends it).")
@with_course
def check_command(names, path, profile_name, seed, seed_file, only, json_path, classroom_path, junit_path,
                  summary_path, reveal, no_sandbox, timeout, watch) -> None:
    """Check exercises or assignments NAMES (default: everything) of the code in --path.

    Exit status: 0 when every checked exercise passes, 1 when any fails, 2 on a usage error."""
    from dlgrade.grader.boundary.intake import Refused
    from dlgrade.grader.outputs.report import print_results, write_json

    path = path or _default_path()
    if profile_name == "grading":  # the course of a grading run is the instructor's, named
        _refuse_course_in(path if path.is_dir() else path.parent, f"the folder checked ({path})", named_too=False)
    seed = course_seed(seed, seed_file, secret=profile_name == "grading")
    shown_path = path
    if watch:
        if path.is_file() or classroom_path or junit_path or summary_path:
            raise click.UsageError("--watch checks a folder (not a notebook) and writes no --classroom, --junit or "
                                   "--summary result")
        _watch_checks(list(names), path, profile_name, seed, only, reveal, not no_sandbox, timeout, json_path)
        return
    if path.is_file():
        if path.suffix != ".ipynb":
            raise click.UsageError(f"--path {path}: give a folder laid out like the release, or a notebook (.ipynb)")
        names, path = _notebook_submission(path, list(names))
    try:
        profile, results = run_checks(list(names), path, profile_name, seed, only, reveal, sandbox=not no_sandbox,
                                      exercise_timeout=timeout, replay_path=shown_path)
    except KeyError as e:
        raise click.UsageError(f"unknown exercise or assignment: {e.args[0]} (see `dlgrade list`)")
    except Refused as e:
        raise click.ClickException(f"{shown_path}: {e}")
    console = _console()
    print_results(results, console, title=f"dlgrade check: {shown_path} ({profile.name} profile"
                  + (f", seed {profile.seed})" if profile.reveal_examples else ")"))
    if json_path:
        write_json(results, profile, json_path)
    if classroom_path or junit_path or summary_path:
        import json

        from dlgrade.grader.grading.session import to_json
        from dlgrade.grader.outputs.formats.classroom import classroom_result, classroom_summary, publish_classroom

        result = {**to_json(results, profile), "status": "graded", "name": str(shown_path)}
        if classroom_path:
            payload = classroom_result(result)
            classroom_path.write_text(json.dumps(payload, indent=2) + "\n")
            publish_classroom(result, payload)
        if junit_path:
            from dlgrade.grader.outputs.formats.junit import junit_xml

            junit_xml([result]).write(junit_path, encoding="unicode", xml_declaration=True)
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as f:
                f.write(classroom_summary(result))
    sys.exit(0 if all(r.passed for r in results) else 1)


def _watch_checks(names: list[str], path: Path, profile_name: str, seed: int | None, only: str | None,
                  reveal: bool | None, sandbox: bool, timeout: float, json_path: Path | None) -> None:
    """`check --watch`: check, then re-check what each save affects until Ctrl-C (see
    grader.grading.watch). The seed is drawn once, so that every round of the session checks the
    same cases and a verdict changes only when the code does. Exits as `check` does, on the
    latest verdicts."""
    import time

    from dlgrade.checkers.profiles import get_profile
    from dlgrade.grader.boundary.intake import Refused
    from dlgrade.grader.grading import watch
    from dlgrade.grader.outputs.escape import console as escape
    from dlgrade.grader.outputs.report import print_results, write_json

    profile = get_profile(profile_name, seed, reveal)
    check = watch.fresh_checks(path, sandbox, profile_name=profile_name, seed=profile.seed, only=only, reveal=reveal,
                               exercise_timeout=timeout)
    console = _console()
    started = time.perf_counter()
    current = []  # the latest verdict of every exercise checked so far

    def show(fresh, changed, latest) -> None:
        current[:] = latest
        saved = "" if changed is None else ", ".join(sorted(f"{a}/{m}.py" for a, m in changed)) + " changed: "
        print_results(fresh, console, title=f"{saved}dlgrade check --watch: {path} ({profile.name} profile"
                      + (f", seed {profile.seed})" if profile.reveal_examples else ")"))
        passing = sum(r.passed for r in latest)
        console.print(f"[dim]{passing} of {len(latest)} exercise(s) pass; checked in "
                      f"{time.perf_counter() - started:.2f} s; watching {escape(str(path))} for saves (Ctrl-C to stop)[/]")
        if json_path:
            write_json(latest, profile, json_path)

    def timed(names_due):
        nonlocal started
        started = time.perf_counter()
        try:
            return check(names_due)
        except Refused as e:  # a save the intake refuses (a link out of the folder): said, and watched on
            console.print(f"[red]{escape(str(path))}: {escape(str(e))}[/]; nothing re-checked")
            return []

    try:
        with check:  # a sandbox left waiting for the next save is stopped on the way out
            watch.watch(names, timed, show, path, watch.file_changes(path), between=check.between)
    except KeyError as e:
        raise click.UsageError(f"unknown exercise or assignment: {e.args[0]} (see `dlgrade list`)")
    except KeyboardInterrupt:  # during a round (its submission is closed on the way out) or a wait
        pass
    console.print("stopped watching")
    sys.exit(0 if current and all(r.passed for r in current) else 1)


def _notebook_submission(notebook: Path, names: list[str]) -> tuple[list[str], Path]:
    """(names to check, folder to check) for `check --path NOTEBOOK`: the notebook as a layout in
    a temporary folder (removed when this process ends), and, unless names were given, the
    exercises of the module (and assignment) the notebook holds, not every exercise."""
    import atexit
    import tempfile

    from dlgrade.checkers.registry import all_exercises
    from dlgrade.grader.boundary.intake import Refused
    from dlgrade.grader.grading.notebooks import notebooks_to_layout

    notebook_dir = tempfile.TemporaryDirectory(prefix="dlgrade-notebook-")
    atexit.register(notebook_dir.cleanup)
    try:
        # The student named this file: a link to it is followed, its contents are what is checked.
        layout = notebooks_to_layout([notebook.resolve()], Path(notebook_dir.name, "submission"))
    except Refused as e:
        raise click.ClickException(f"{notebook}: {e}")
    held = {(p.parent.name, p.stem) for p in layout.glob("*/*.py")}
    if not names:
        names = [e.name for e in all_exercises() if (e.assignment, e.module) in held]
    return names or [assignment for assignment, _ in held], layout


@main.command("list")
@with_course
def list_command() -> None:
    """List every exercise with its assignment, module and points."""
    from rich.table import Table

    from dlgrade.checkers.registry import all_exercises

    table = Table()
    for column in ("exercise", "assignment", "module", "points", "properties"):
        table.add_column(column)
    for e in all_exercises():
        table.add_row(e.name, e.assignment, f"{e.module}.py", f"{e.points:g}", ", ".join(p.name for p in e.properties))
    _console().print(table)


@main.command("demo")
def demo_command() -> None:
    """Release the bundled assignments, check the stubs (all fail) and the solutions (all pass),
    then batch-grade the bundled sample submissions in the sandbox and show the gradebook."""
    from dlgrade.grader.demo import run

    sys.exit(0 if run(_console()) else 1)


@main.command("export")
@click.option("--db", "db_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="gradebook.sqlite", show_default=True,
              help="The gradebook to export (as written by `dlgrade grade`).")
@click.option("--format", "fmt", required=True,
              type=click.Choice(["csv", "canvas", "gradescope", "prairielearn", "classroom", "junit", "feedback"]))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="File or folder to write (default per format: gradebook.csv, junit.xml, feedback/, "
                   "gradescope/ or prairielearn/ with one NAME/results.json each, results.json for one "
                   "--submission, standard output for classroom). '-' writes a single file to standard output.")
@click.option("--submission", default=None, help="Export only this submission (its folder or file name).")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A CSV of students (columns: submission, and any of name, id, sis_user_id, sis_login_id, email, "
                   "section), recorded in the gradebook first.")
@with_course
def export_command(db_path: Path, fmt: str, out: Path | None, submission: str | None, roster: Path | None) -> None:
    """Write the gradebook as a CSV, a Canvas gradebook import, Gradescope or PrairieLearn
    results.json, a GitHub Classroom runner result, JUnit XML, or Markdown feedback per student
    (see grader.outputs.export)."""
    from dlgrade.grader.outputs.export import export, load_results

    if roster:
        _record_roster(db_path, roster)
    if fmt == "canvas":
        from dlgrade.grader.outputs import escape
        from dlgrade.grader.outputs.formats.canvas import shared_ids, unidentified

        for key, names in shared_ids(load_results(db_path)).items():
            _warn(f"{escape.one_line(key)} is claimed by the students of {len(names)} submissions "
                  f"({', '.join(escape.one_line(n) for n in names[:10])}): left out of their rows, so that none "
                  "decides another's grade (settle it in --roster)")
        missing = unidentified(load_results(db_path))
        if missing:
            _warn(f"{len(missing)} submission(s) have no ID, SIS User ID or SIS Login ID, so Canvas cannot match them "
                  f"to a student: {', '.join(escape.one_line(m) for m in missing[:10])}"
                  f"{', ...' if len(missing) > 10 else ''} (give them in --roster)")
    try:
        written = export(db_path, fmt, out, submission)
    except KeyError as e:
        raise click.UsageError(str(e.args[0]))
    except ValueError as e:
        raise click.UsageError(str(e))
    for path in written:
        click.echo(f"wrote {path}", err=True)


def _record_roster(db_path: Path, roster: Path) -> None:
    """Record the students of `roster` in the gradebook at `db_path`."""
    from dlgrade.grader.grading.gradebook import Gradebook
    from dlgrade.grader.grading.roster import RosterError, read_roster

    try:
        people = read_roster(roster)
    except RosterError as e:
        raise click.UsageError(f"--roster: {e}")
    with Gradebook(db_path) as book:
        book.set_students(people)
    click.echo(f"recorded the students of {len(people)} submission(s) from {roster}", err=True)


@main.command("override")
@click.argument("submission")
@click.argument("exercise")
@click.argument("points", type=click.FloatRange(min=0))
@click.option("--reason", required=True, help="Why (shown in every export and the report).")
@click.option("--db", "db_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="gradebook.sqlite", show_default=True, help="The gradebook.")
def override_command(submission: str, exercise: str, points: float, reason: str, db_path: Path) -> None:
    """Set the points of EXERCISE in SUBMISSION by hand, for --reason: recorded in the gradebook,
    kept through regrades, honoured and shown by every export and the class report."""
    from dlgrade.grader.grading.gradebook import Gradebook
    from dlgrade.grader.outputs import escape

    with Gradebook(db_path) as book:
        try:
            e = book.override(submission, exercise, points, reason)
        except KeyError as err:
            raise click.UsageError(escape.one_line(err.args[0]))
        except ValueError as err:
            raise click.UsageError(escape.one_line(str(err)))
    click.echo(f"{escape.one_line(submission)}: {exercise} now {e['points']:g}/{e['max_points']:g} "
               f"(graded {e['override']['original']:g}): {escape.one_line(reason)}")


@main.command("grade")
@click.argument("submissions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--assignment", "-a", "assignments", multiple=True,
              help="Assignment to grade (repeatable; an exercise name grades just that exercise). Default: all.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded side by side (Dask: workers of its LocalCluster). Default: one per CPU.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a process pool on this machine; dask: Dask distributed.")
@click.option("--scheduler", default=None,
              help="Address of a Dask scheduler (tcp://host:8786), with --engine dask. Default: a LocalCluster.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default="gradebook.sqlite",
              show_default=True, help="The SQLite gradebook; rerunning into it resumes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="After grading, export the gradebook into this folder (gradebook.csv and the other formats).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="CPU seconds one exercise may spend in student code (a submission may be waited for the sum "
                   "of its exercises' in all).")
@click.option("--regrade", is_flag=True, help="Grade again the submissions already in the gradebook.")
@click.option("--regrade-only", "regrade_only", multiple=True, metavar="NAME",
              help="Grade again only this submission (repeatable), into the same gradebook.")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A CSV of students (see `dlgrade export --roster`), recorded in the gradebook.")
@click.option("--no-sandbox", is_flag=True,
              help="Run student code in the grading processes, unconfined (trusted code only; with --engine dask, "
                   "without --timeout).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="The course seed (visible to every process on this machine: prefer --seed-file).")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A file (or /dev/fd/N) holding the course seed, readable by you alone. Default: "
                   "DLGRADE_COURSE_SEED.")
@click.option("--public-seed", is_flag=True,
              help="Grade with the public default seed when no course seed is given (anyone can then compute "
                   "the hidden examples).")
@click.option("--unconfined", is_flag=True,
              help="Grade even where neither bubblewrap nor Landlock can confine student code.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@with_course
def grade_command(submissions_dir, assignments, jobs, engine, scheduler, db_path, out, timeout, regrade, regrade_only,
                  roster, no_sandbox, seed, seed_file, public_seed, unconfined, no_progress) -> None:
    """Grade every submission in SUBMISSIONS_DIR into a gradebook, at the grading profile.

    A submission is a subfolder laid out like the release (NAME/a1_backprop/layers.py), a .zip
    file, or a folder of a Gradescope bulk export; modules at a submission's top level are
    accepted too. Each result is recorded as soon as it is graded: run the same command again
    after an interruption and it grades only what is missing.

    Exit status: 0 when the batch completed (whatever the scores), 130 when interrupted, 2 on a
    usage error."""
    import importlib.util

    from dlgrade.checkers.profiles import DEFAULT_COURSE_SEED
    from dlgrade.checkers.registry import select
    from dlgrade.grader.grading.batch import BatchInterrupted, GradebookMismatch, UnknownSubmissions, grade_batch

    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    if regrade and regrade_only:
        raise click.UsageError("give --regrade (everything) or --regrade-only NAME, not both")
    if engine == "dask" and importlib.util.find_spec("distributed") is None:
        raise click.ClickException('--engine dask needs Dask distributed: pip install "dlgrade[grading]"')
    _refuse_course_in(submissions_dir, f"the submissions ({submissions_dir})", named_too=True)
    try:
        select(list(assignments))
    except KeyError as e:
        raise click.UsageError(f"unknown assignment or exercise: {e.args[0]} (see `dlgrade list`)")
    seed = course_seed(seed, seed_file, secret=True)
    if seed in (None, DEFAULT_COURSE_SEED) and not public_seed:
        raise click.UsageError("no course seed: give it with --seed-file FILE or DLGRADE_COURSE_SEED (or --public-seed "
                               "to grade with the public default, whose hidden examples anyone can compute)")
    if not no_sandbox:
        from dlgrade.grader.boundary.sandbox import confinement, exposure

        if confinement() == "none":
            if not unconfined:
                raise click.ClickException("neither bubblewrap nor Landlock is available to confine student code: "
                                           f"{exposure('none')}. Install bubblewrap, or pass --unconfined to grade "
                                           "anyway.")
            _warn(f"grading unconfined: {exposure('none')}")
    console = _console()
    try:
        summary = grade_batch(submissions_dir, list(assignments), db_path, jobs, engine, scheduler, timeout, regrade,
                              seed, sandbox=not no_sandbox, progress=not no_progress,
                              only=list(regrade_only) if regrade_only else None)
    except UnknownSubmissions as e:
        from dlgrade.grader.outputs import escape

        raise click.UsageError(f"--regrade-only: {escape.one_line(e.args[0])}")
    except KeyError as e:
        raise click.UsageError(f"unknown assignment or exercise: {e.args[0]} (see `dlgrade list`)")
    except GradebookMismatch as e:
        raise click.UsageError(str(e))
    except (OSError, RuntimeError) as e:  # an unreachable scheduler, a pool that cannot start
        raise click.ClickException(f"{type(e).__name__}: {e}")
    except BatchInterrupted as e:
        _print_batch_summary(e.summary, console)
        console.print(f"[yellow]interrupted[/]: {e.summary['graded']} submission(s) graded in this run are recorded "
                      f"in {db_path}; run the same command again to grade the rest.")
        sys.exit(130)
    except KeyboardInterrupt:  # before the batch started: nothing was graded
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
    _print_batch_summary(summary, console)
    for line in summary.get("warnings", []):
        from dlgrade.grader.outputs import escape

        _warn(escape.one_line(line))
    if roster:
        _record_roster(db_path, roster)
    if out:
        if importlib.util.find_spec("dlgrade.grader.outputs.export") is None:
            console.print("[yellow]nothing exported[/]: this installation has no dlgrade.grader.outputs.export")
        else:
            from dlgrade.grader.outputs.export import export_all

            export_all(db_path, out)
            console.print(f"exported the gradebook to {out}/")
    sys.exit(0)


def _print_batch_summary(summary: dict, console: Console) -> None:
    """The batch in a few numbers: graded now, skipped, errors, mean and median score, time."""
    from rich.table import Table

    def points(value):
        return "–" if value is None else f"{value:.2f}/{summary['max_score']:g}"

    table = Table(title=f"dlgrade grade: {summary['submissions']} submission(s), gradebook {summary['db']}")
    for column in ("graded now", "skipped", "errors", "mean score", "median score", "time"):
        table.add_column(column, justify="right")
    table.add_row(str(summary["graded"]), str(summary["skipped"]), str(summary["errors"]), points(summary["mean"]),
                  points(summary["median"]), f"{summary['seconds']:.1f} s")
    console.print(table)


@main.command("report")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", "db_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="gradebook.sqlite", show_default=True, help="The gradebook (as written by `dlgrade grade`).")
@with_course
def report_command(out: Path, db_path: Path) -> None:
    """Write OUT (HTML), the class report: score distribution, pass rate per exercise, the most
    common failing properties and hints, and grading time per submission, in one self-contained page."""
    from dlgrade.grader.outputs.instructor_report import write_report

    write_report(db_path, out)
    click.echo(f"wrote {out}")


@main.command("ci-template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--gitlab", is_flag=True, help="Write GitLab CI (.gitlab-ci.yml) rather than GitHub Actions.")
@click.option("--repository", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The course repository whose assignments the CI checks.")
@click.option("--assignment", "-a", "assignments", multiple=True,
              help="Check this assignment (repeatable). Default: those the repository holds.")
@with_course
def ci_template_command(out: Path | None, gitlab: bool, repository: Path, assignments: tuple[str, ...]) -> None:
    """Write the CI of a course repository: GitHub Actions (default
    .github/workflows/classroom.yml; workflow "Autograding Tests", job run-autograding-tests, as
    GitHub Classroom's reporter needs) or, with --gitlab, .gitlab-ci.yml. It checks the
    assignments of the repository at the grading profile with the seed of the secret
    DLGRADE_COURSE_SEED, and writes a job summary and JUnit XML."""
    from dlgrade.assignments import course_modules
    from dlgrade.grader.integrations.ci_templates import DEFAULT_OUT, present_assignments, render

    kind = "gitlab" if gitlab else "github"
    names = list(assignments) or present_assignments(repository)
    unknown = [a for a in names if a not in course_modules()]
    if unknown:
        raise click.UsageError(f"unknown assignment(s): {', '.join(unknown)}; known: {', '.join(course_modules())}")
    if not names:
        raise click.UsageError(f"{repository} holds no assignment folder (a1_backprop/layers.py, ...): run this in "
                               "the course repository, or name them with --assignment")
    out = out or repository / DEFAULT_OUT[kind]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(kind, names, course_folder=(repository / "course.toml").is_file()))
    click.echo(f"wrote {out} (checks {', '.join(names)})")


def _bundle_seed(seed: int | None, seed_file: Path | None, public_seed: bool) -> int:
    """The course seed to keep in a grader bundle (Gradescope, PrairieLearn); the public default
    only when told --public-seed."""
    from dlgrade.checkers.profiles import DEFAULT_COURSE_SEED

    seed = course_seed(seed, seed_file, secret=True)
    if seed in (None, DEFAULT_COURSE_SEED) and not public_seed:
        raise click.UsageError("no course seed: give it with --seed-file FILE or DLGRADE_COURSE_SEED (or --public-seed "
                               "to build with the public default, whose hidden examples anyone can compute)")
    return DEFAULT_COURSE_SEED if seed is None else seed


def _bundle_options(command):
    """The options every grader bundle takes: what to grade, the seed, confinement."""
    options = [
        click.option("--exercise", "exercises", multiple=True,
                     help="Grade only this exercise of the assignment (repeatable). Default: all of it."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
                     help="CPU seconds one exercise may spend in student code."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="The course seed (visible to every process on this machine: prefer --seed-file)."),
        click.option("--seed-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="A file holding the course seed, readable by you alone. Default: DLGRADE_COURSE_SEED."),
        click.option("--public-seed", is_flag=True, help="Build with the public default seed."),
        click.option("--unconfined", is_flag=True,
                     help="Grade even where the platform's machine cannot confine student code."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _course_release(work: str, assignment: str) -> Path | None:
    """The student version of `assignment` of the course in use (stubs, manifest, the course's own
    checks, a course.toml without seed) in the folder `work`, for a grader bundle to ship; None
    for dlgrade's bundled curriculum, which the installed package holds."""
    from dlgrade.grader.release import release, release_checks

    course = current_course()
    if course.bundled:
        return None
    if assignment not in course.assignments:
        raise click.UsageError(f"unknown assignment: {assignment} (the course has {', '.join(course.assignments)})")
    release(Path(work), [assignment], course.assignments_dir)
    release_checks(Path(work), course, [assignment])
    return Path(work)


@main.group("gradescope")
def gradescope_group() -> None:
    """Gradescope: the autograder zip of a programming assignment."""


@gradescope_group.command("build")
@click.argument("assignment")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@_bundle_options
@click.option("--visibility", type=click.Choice(["hidden", "after_due_date", "after_published", "visible"]),
              default="after_due_date", show_default=True,
              help="When students see the per-property tests (their text comes from the hidden examples).")
@click.option("--stdout-visibility", type=click.Choice(["hidden", "after_due_date", "after_published", "visible"]),
              default="hidden", show_default=True, help="When students see what the autograder printed.")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A dlgrade wheel to ship in the zip and install (default: this version from the package index).")
@with_course
def gradescope_build_command(assignment, out, exercises, timeout, seed, seed_file, public_seed, unconfined,
                             visibility, stdout_visibility, wheel) -> None:
    """Write OUT (a zip): setup.sh, run_autograder and the course files of ASSIGNMENT, with the
    course seed, for a Gradescope programming assignment's autograder."""
    from dlgrade.grader.integrations.gradescope_autograder import build

    import tempfile

    seed = _bundle_seed(seed, seed_file, public_seed)
    try:
        with tempfile.TemporaryDirectory(prefix="dlgrade-bundle-") as work:
            build(assignment, out, seed, course_release=_course_release(work, assignment), exercises=list(exercises),
                  visibility=visibility, stdout_visibility=stdout_visibility, timeout=timeout,
                  unconfined=unconfined, wheel=wheel)
    except KeyError as e:
        raise click.UsageError(f"unknown assignment or exercise: {e.args[0]} (see `dlgrade list`)")
    click.echo(f"wrote {out}: upload it as the autograder of the Gradescope assignment (keep it private: it holds "
               "the course seed)")


@main.group("prairielearn")
def prairielearn_group() -> None:
    """PrairieLearn: an external grader for a question."""


@prairielearn_group.command("build")
@click.argument("assignment")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@_bundle_options
@click.option("--image", default="COURSE/dlgrade-grader", show_default=True,
              help="The name of the grader image (in the Dockerfile's comment and info.json).")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A dlgrade wheel to copy into the image (default: this version from the package index).")
@with_course
def prairielearn_build_command(assignment, out, exercises, timeout, seed, seed_file, public_seed, unconfined, image,
                               wheel) -> None:
    """Write into OUT a Dockerfile for the grader image, serverFilesCourse/dlgrade/ASSIGNMENT/
    (the entrypoint, the course seed and files: copy it into the course repository) and
    info.json (the question's externalGradingOptions)."""
    from dlgrade.grader.integrations.prairielearn_grader import build

    import tempfile

    seed = _bundle_seed(seed, seed_file, public_seed)
    try:
        with tempfile.TemporaryDirectory(prefix="dlgrade-bundle-") as work:
            written = build(assignment, out, seed, course_release=_course_release(work, assignment),
                            exercises=list(exercises), timeout=timeout, unconfined=unconfined, wheel=wheel,
                            image=image)
    except KeyError as e:
        raise click.UsageError(f"unknown assignment or exercise: {e.args[0]} (see `dlgrade list`)")
    click.echo(f"wrote {len(written)} files to {out}: build the image from {out / 'Dockerfile'}, copy "
               f"{out / 'serverFilesCourse'} into the course repository (it holds the course seed: keep it private) "
               f"and merge {out / 'info.json'} into the question's info.json")


@main.group("nbgrader")
def nbgrader_group() -> None:
    """nbgrader: the course source as notebooks with autograder test cells."""


@nbgrader_group.command("generate")
@click.argument("assignment")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--module", "modules", multiple=True, help="Only this module's notebook (repeatable). Default: all.")
@with_course
def nbgrader_generate_command(assignment: str, out: Path, modules: tuple[str, ...]) -> None:
    """Write OUT/source/ASSIGNMENT/<module>.ipynb (solution cells fenced for nbgrader, locked test
    cells worth each exercise's points) and OUT/nbgrader_config.py; then, in OUT,
    `nbgrader generate_assignment ASSIGNMENT` makes the student version."""
    from dlgrade.grader.integrations.nbgrader_bridge import generate

    try:
        written = generate(assignment, out, list(modules) or None)
    except KeyError:
        raise click.UsageError(f"unknown assignment: {assignment}")
    click.echo(f"wrote {len(written)} notebook(s) to {out / 'source' / assignment}")


if __name__ == "__main__":
    main()
