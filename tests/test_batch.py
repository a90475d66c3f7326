"""Batch grading: discovery of submissions, scores, the gradebook, resuming after Ctrl-C and
kill -9, a worker that dies, and the Dask engine.

The submissions are generated from the a1 solutions, with bugs planted by appending overriding
definitions, and graded on three quick exercises. They run in the sandbox where grader.boundary.sandbox
exists (set DLGRADE_TEST_SANDBOX=0 to grade them in process, faster).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zipfile
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.registry import select
from dlgrade.grader.boundary import intake
from dlgrade.grader.grading.batch import BatchInterrupted, GradebookMismatch, grade_batch
from dlgrade.grader.grading.discovery import discover
from dlgrade.grader.cli import main
from dlgrade.grader.grading.gradebook import Gradebook

A1 = "a1_backprop"
SANDBOX = importlib.util.find_spec("dlgrade.grader.boundary.sandbox") is not None and os.environ.get("DLGRADE_TEST_SANDBOX") != "0"
NAMES = ["relu_forward", "relu_backward", "mse_loss"]
POINTS = {e.name: e.points for e in select(NAMES)}
SEED = 11
JOBS = 2

RELU_BACKWARD_RETURNS_DOUT = ("layers", """
    def relu_backward(dout, cache):
        return dout
""")
MSE_SUMS = ("losses", """
    def mse_loss(pred, target):
        diff = pred - target
        return float(np.sum(diff * diff)), 2 * diff
""")
SYNTAX_ERROR = ("layers", """
    def relu_forward(x:
        return x
""")
DIES_ON_IMPORT = ("layers", """
    import os
    os._exit(3)
""")


# -- building submissions --------------------------------------------------------------------------


def solution_copy(folder: Path, *bugs: tuple[str, str], top_level: bool = False) -> Path:
    """The a1 solutions in `folder` (under a1_backprop/, or at the top level), with `bugs` appended."""
    target = folder if top_level else folder / A1
    shutil.copytree(ASSIGNMENTS_DIR / A1, target, ignore=shutil.ignore_patterns("manifest.toml", "__pycache__"))
    for module, source in bugs:
        path = target / f"{module}.py"
        path.write_text(path.read_text() + "\n\n" + textwrap.dedent(source))
    return folder


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    """Zip the files of `folder` into `archive`, their names under `prefix`."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def expected(*lost: str, status: str = "graded") -> tuple[str, float]:
    """(status, score) of a submission that loses the points of the exercises `lost`."""
    return status, sum(points for name, points in POINTS.items() if name not in lost)


#: name -> (status, score) of every submission in the `submissions` folder.
EXPECTED = {
    "solution": expected(),
    "solution_again": expected(),
    "relu_backward_returns_dout": expected("relu_backward"),
    "mse_sums": expected("mse_loss"),
    "mse_sums_again": expected("mse_loss"),
    "both_bugs": expected("relu_backward", "mse_loss"),
    "syntax_error": expected("relu_forward", "relu_backward"),
    "missing_losses": expected("mse_loss"),
    "zipped": expected(),
    "wrapped_zip": expected("mse_loss"),
    "submission_12345": expected("relu_backward"),
    "corrupt": ("error", 0.0),
}
SMALL = ["both_bugs", "submission_12345", "syntax_error", "zipped"]


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    """Twelve submissions: copies of the solutions with planted bugs, a syntax error, a missing
    module, two zips (release layout; top-level modules in a wrapper folder), a Gradescope-style
    folder with its modules at the top level, and a corrupt zip."""
    root = tmp_path_factory.mktemp("submissions")
    scratch = tmp_path_factory.mktemp("scratch")
    solution_copy(root / "solution")
    solution_copy(root / "solution_again")
    solution_copy(root / "relu_backward_returns_dout", RELU_BACKWARD_RETURNS_DOUT)
    solution_copy(root / "mse_sums", MSE_SUMS)
    solution_copy(root / "mse_sums_again", MSE_SUMS)
    solution_copy(root / "both_bugs", RELU_BACKWARD_RETURNS_DOUT, MSE_SUMS)
    solution_copy(root / "syntax_error", SYNTAX_ERROR)
    (solution_copy(root / "missing_losses") / A1 / "losses.py").unlink()
    zip_folder(solution_copy(scratch / "zipped"), root / "zipped.zip")
    zip_folder(solution_copy(scratch / "wrapped", MSE_SUMS, top_level=True), root / "wrapped_zip.zip", "homework/")
    solution_copy(root / "submission_12345", RELU_BACKWARD_RETURNS_DOUT, top_level=True)
    (root / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not a zip file")
    assert sorted(p.name.removesuffix(".zip") for p in root.iterdir()) == sorted(EXPECTED)
    return root


@pytest.fixture(scope="module")
def small(submissions, tmp_path_factory) -> Path:
    """A few of the submissions, for the slower engines."""
    root = tmp_path_factory.mktemp("small")
    for name in SMALL:
        source = submissions / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source.with_suffix(".zip"), root / f"{name}.zip")
    return root


@pytest.fixture(scope="module")
def reference(submissions, tmp_path_factory) -> tuple[dict, Path]:
    """An uninterrupted local run over `submissions`: (its summary, its gradebook)."""
    db = tmp_path_factory.mktemp("reference") / "gradebook.sqlite"
    summary = grade_batch(submissions, NAMES, db, jobs=JOBS, seed=SEED, sandbox=SANDBOX, progress=False)
    return summary, db


def results(db: Path) -> list[dict]:
    with Gradebook(db) as book:
        return book.results()


def table(db: Path) -> dict[str, tuple[str, float]]:
    """The gradebook as name -> (status, score)."""
    return {r["name"]: (r["status"], r["score"]) for r in results(db)}


def rows(db: Path) -> int:
    """How many submissions the gradebook holds, read as another process would (0 before it exists)."""
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(db, timeout=5)) as con:
            return con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    except sqlite3.OperationalError:  # the grader is still creating it
        return 0


def grade_args(folder: Path, db: Path, *more: str) -> list[str]:
    return ["grade", str(folder), "--db", str(db), "--jobs", str(JOBS), "--seed", str(SEED), "--no-progress",
            *[a for name in NAMES for a in ("--assignment", name)], *([] if SANDBOX else ["--no-sandbox"]), *more]


def start_cli(folder: Path, db: Path, log: Path) -> subprocess.Popen:
    """`python -m grader.cli grade` in a session of its own, so its whole process group can be signalled."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "dlgrade.grader.cli", *grade_args(folder, db)], cwd=db.parent,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_rows(proc: subprocess.Popen, db: Path, count: int, log: Path, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while rows(db) < count:
        assert proc.poll() is None, f"the grader exited early ({proc.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {count} rows after {limit} s:\n{log.read_text()}"
        time.sleep(0.1)


def group_gone(pgid: int, limit: float = 15) -> bool:
    """Whether every process of the group has exited (within `limit` seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# -- discovery -------------------------------------------------------------------------------------


def test_discover_accepts_folders_zips_wrappers_and_top_level_modules(tmp_path):
    subs, scratch, work = tmp_path / "subs", tmp_path / "scratch", tmp_path / "work"
    solution_copy(subs / "alice")
    solution_copy(subs / "bob", top_level=True)
    solution_copy(subs / "carol" / "hw1", top_level=True)
    solution_copy(subs / "dave" / "my-homework")
    zip_folder(solution_copy(scratch / "erin", top_level=True), subs / "erin.zip")
    zip_folder(solution_copy(scratch / "alice"), subs / "alice.zip")  # a folder has that name already
    for ignored in (".git", "__MACOSX"):
        (subs / ignored).mkdir()
    (subs / "roster.csv").write_text("name\n")
    work.mkdir()
    found = discover(subs, work)
    assert [s.name for s in found] == ["alice", "alice.zip", "bob", "carol", "dave", "erin"]
    for sub in found:
        assert sub.problem is None
        assert (sub.path / A1 / "layers.py").is_file() and (sub.path / A1 / "losses.py").is_file(), sub
    # Even one in the release layout already is graded from a fresh copy of its modules, never where it is.
    assert found[0].path.is_relative_to(work) and not (found[0].path / A1 / "manifest.toml").exists()
    assert len({s.path for s in found}) == len(found)


def test_discover_reads_a_gradescope_bulk_export(tmp_path):
    export = tmp_path / "assignment_4242_export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Ada\n    :sid: '1'\nsubmission_222:\n  :submitters: []\n")
    solution_copy(export / "submission_111", top_level=True)
    solution_copy(export / "submission_222")
    (tmp_path / "work").mkdir()
    found = discover(export, tmp_path / "work", [A1])
    assert [(s.name, s.problem) for s in found] == [("submission_111", None), ("submission_222", None)]
    assert all((s.path / A1 / "net.py").is_file() for s in found)


def test_discover_refuses_hostile_and_broken_zips_without_writing_outside(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_MEMBERS", 20)
    monkeypatch.setattr(intake, "MAX_SUBMISSION_BYTES", 100_000)
    subs, work = tmp_path / "subs", tmp_path / "work"
    subs.mkdir()
    work.mkdir()
    members = {
        "slip": [("a1_backprop/layers.py", b""), ("../../escaped.py", b"print('owned')")],
        "absolute": [(str(tmp_path / "escaped.py"), b"print('owned')")],
        "many": [(f"f{i}.py", b"") for i in range(21)],
        "large": [("a1_backprop/layers.py", b"0" * 200_000)],
    }
    for name, files in members.items():
        with zipfile.ZipFile(subs / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in files:
                zf.writestr(zipfile.ZipInfo(member), data)
    zip_folder(solution_copy(tmp_path / "scratch"), subs / "truncated.zip")
    truncated = (subs / "truncated.zip").read_bytes()
    (subs / "truncated.zip").write_bytes(truncated[: len(truncated) // 2])
    (subs / "garbage.zip").write_bytes(os.urandom(300))

    found = {s.name: s for s in discover(subs, work)}
    assert set(found) == {*members, "truncated", "garbage"}
    for sub in found.values():
        assert sub.problem and sub.problem.startswith(f"cannot unpack {sub.name}.zip"), sub
    assert "outside the submission" in found["slip"].problem and "outside" in found["absolute"].problem
    assert "21 members" in found["many"].problem and "MB" in found["large"].problem
    assert not any(p.name == "escaped.py" for p in tmp_path.rglob("escaped.py"))


# -- grading ---------------------------------------------------------------------------------------


def test_batch_scores_every_submission_into_one_row_each(reference):
    summary, db = reference
    assert table(db) == EXPECTED
    assert summary["submissions"] == summary["graded"] == len(EXPECTED)
    assert summary["skipped"] == 0 and summary["errors"] == 1 and not summary["interrupted"]
    assert summary["max_score"] == sum(POINTS.values())


def test_batch_records_how_and_with_what_it_graded(reference):
    with Gradebook(reference[1]) as book:
        meta = book.meta()
        recorded = {r["name"]: r for r in book.results()}
    assert meta == {"assignments": [A1], "exercises": NAMES, "profile": "grading", "seed": SEED}
    assert "File is not a zip file" in recorded["corrupt"]["error"]
    assert recorded["corrupt"]["max_score"] == sum(POINTS.values())
    syntax = {e["name"]: e["status"] for e in recorded["syntax_error"]["exercises"]}
    assert syntax == {"relu_forward": "module_error", "relu_backward": "module_error", "mse_loss": "checked"}
    missing = {e["name"]: e["status"] for e in recorded["missing_losses"]["exercises"]}
    assert missing["mse_loss"] == "missing"


def test_rerun_skips_what_is_graded_and_regrade_grades_all(submissions, tmp_path):
    subs, db = tmp_path / "subs", tmp_path / "gradebook.sqlite"
    shutil.copytree(submissions / "both_bugs", subs / "both_bugs")
    shutil.copy(submissions / "zipped.zip", subs)
    first = CliRunner().invoke(main, grade_args(subs, db))
    assert first.exit_code == 0, first.output
    graded_at = {r["name"]: r["graded_at"] for r in results(db)}
    again = grade_batch(subs, NAMES, db, jobs=JOBS, seed=SEED, sandbox=SANDBOX, progress=False)
    assert (again["graded"], again["skipped"]) == (0, 2)
    assert {r["name"]: r["graded_at"] for r in results(db)} == graded_at
    regraded = CliRunner().invoke(main, grade_args(subs, db, "--regrade"), terminal_width=200)
    assert regraded.exit_code == 0, regraded.output
    assert re.search(r"│\s+2\s+│\s+0\s+│", regraded.output), regraded.output  # graded now, skipped
    assert table(db) == {name: EXPECTED[name] for name in ("both_bugs", "zipped")}


def test_a_gradebook_of_other_exercises_or_seed_is_not_resumed(small, tmp_path):
    db = tmp_path / "gradebook.sqlite"
    grade_batch(small, ["relu_forward"], db, jobs=JOBS, seed=SEED, sandbox=SANDBOX, progress=False)
    with pytest.raises(GradebookMismatch):
        grade_batch(small, ["relu_forward"], db, jobs=JOBS, seed=SEED + 1, sandbox=SANDBOX, progress=False)
    result = CliRunner().invoke(main, grade_args(small, db))
    assert result.exit_code == 2 and "--regrade" in result.output


def test_a_submission_that_kills_its_worker_costs_only_its_own_points(submissions, tmp_path):
    subs = tmp_path / "subs"
    solution_copy(subs / "dies", DIES_ON_IMPORT)
    for name in ("solution", "mse_sums", "both_bugs"):
        shutil.copytree(submissions / name, subs / name)
    summary = grade_batch(subs, NAMES, tmp_path / "g.sqlite", jobs=JOBS, seed=SEED, sandbox=SANDBOX, progress=False)
    graded = table(tmp_path / "g.sqlite")
    # In process, the pool's worker dies with it; sandboxed, only the sandbox's worker does.
    assert graded.pop("dies") == (expected("relu_forward", "relu_backward") if SANDBOX else ("error", 0.0))
    assert graded == {name: EXPECTED[name] for name in ("solution", "mse_sums", "both_bugs")}
    assert summary["graded"] == 4


def test_grade_command_prints_a_summary_and_exports(small, tmp_path):
    db, out = tmp_path / "gradebook.sqlite", tmp_path / "out"
    result = CliRunner().invoke(main, grade_args(small, db, "--out", str(out)), terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "graded now" in result.output and "median score" in result.output
    if importlib.util.find_spec("dlgrade.grader.outputs.export") is not None:
        assert (out / "gradebook.csv").is_file()


def test_grade_command_usage_errors(small, tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "g.sqlite")
    unknown = runner.invoke(main, ["grade", str(small), "--assignment", "no_such_assignment", "--db", db])
    assert unknown.exit_code == 2 and "unknown assignment" in unknown.output
    scheduler = runner.invoke(main, ["grade", str(small), "--scheduler", "tcp://127.0.0.1:1", "--db", db])
    assert scheduler.exit_code == 2 and "--engine dask" in scheduler.output
    assert runner.invoke(main, ["grade", str(tmp_path / "nowhere")]).exit_code == 2


# -- interruptions ---------------------------------------------------------------------------------


def test_kill_9_then_rerun_equals_an_uninterrupted_run(submissions, reference, tmp_path):
    db, log = tmp_path / "gradebook.sqlite", tmp_path / "log"
    proc = start_cli(submissions, db, log)
    try:
        wait_for_rows(proc, db, 3, log)  # the corrupt zip is recorded at once; two more were graded
        os.killpg(proc.pid, signal.SIGKILL)  # the grader, its forkserver and the pool's workers
        proc.wait()
    finally:
        kill_group(proc)
    recorded = table(db)
    assert 3 <= len(recorded) < len(EXPECTED)
    assert all(EXPECTED[name] == row for name, row in recorded.items())

    rerun = subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", *grade_args(submissions, db)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert table(db) == table(reference[1])


def test_ctrl_c_stops_the_workers_keeps_what_is_recorded_and_exits_130(submissions, tmp_path):
    db, log = tmp_path / "gradebook.sqlite", tmp_path / "log"
    proc = start_cli(submissions, db, log)
    try:
        wait_for_rows(proc, db, 2, log)
        proc.send_signal(signal.SIGINT)  # to the grader alone: it stops its workers itself
        assert proc.wait(timeout=60) == 130, log.read_text()
        assert group_gone(proc.pid), "processes of the batch outlived it"
    finally:
        kill_group(proc)
    assert "interrupted" in log.read_text()
    recorded = table(db)
    assert 2 <= len(recorded) < len(EXPECTED)
    assert all(EXPECTED[name] == row for name, row in recorded.items())


def test_keyboard_interrupt_in_grade_batch_keeps_the_results_so_far(small, tmp_path, monkeypatch):
    recorded = []
    record = Gradebook.record

    def record_then_interrupt(self, name, result):
        record(self, name, result)
        recorded.append(name)
        if len(recorded) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Gradebook, "record", record_then_interrupt)
    with pytest.raises(BatchInterrupted) as interrupted:
        grade_batch(small, NAMES, tmp_path / "g.sqlite", jobs=JOBS, seed=SEED, sandbox=SANDBOX, progress=False)
    assert interrupted.value.summary["interrupted"] and interrupted.value.summary["graded"] == 1
    assert table(tmp_path / "g.sqlite") == {name: EXPECTED[name] for name in recorded}


# -- Dask ------------------------------------------------------------------------------------------


def test_dask_engine_through_a_scheduler_on_loopback(small, tmp_path):
    distributed = pytest.importorskip("distributed")
    db = tmp_path / "gradebook.sqlite"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = CliRunner().invoke(main, grade_args(small, db, "--engine", "dask", "--scheduler",
                                                     cluster.scheduler_address))
    assert result.exit_code == 0, result.output
    assert table(db) == {name: EXPECTED[name] for name in SMALL}


def test_dask_engine_with_its_own_local_cluster(small, tmp_path):
    pytest.importorskip("distributed")
    db = tmp_path / "gradebook.sqlite"
    result = CliRunner().invoke(main, grade_args(small, db, "--engine", "dask"))
    assert result.exit_code == 0, result.output
    assert table(db) == {name: EXPECTED[name] for name in SMALL}
