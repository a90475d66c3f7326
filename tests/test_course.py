"""The instructor's course folder: `dlgrade course init`, an exercise the course adds (GELU),
reweighting in the course's manifest, and grading a one-assignment course.

Every test works on a course written into a temporary folder: the installed package is never
touched, and the course in use is reset after each test (it lives in the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlgrade.assignments import BUNDLED, COURSE_SOURCE_ENV, active_source, use_source
from dlgrade.checkers.registry import all_exercises, course_exercises, select
from dlgrade.grader.cli import main
from dlgrade.grader.grading.course import CourseError, bundled_course, load_course

A1 = "a1_backprop"

GELU_SOLUTION = '''

def gelu_forward(x):
    """Forward pass of the Gaussian error linear unit: ``out = x * Phi(x)`` elementwise, where
    Phi is the standard normal distribution function.

    Args:
        x: input of any shape.

    Returns:
        A tuple ``(out, cache)``: out, same shape as x; cache, whatever ``gelu_backward`` needs.
    """
    ### BEGIN SOLUTION
    phi = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    return x * phi, (x, phi)
    ### END SOLUTION


def gelu_backward(dout, cache):
    """Backward pass of GELU.

    Args:
        dout: upstream gradient, same shape as x.
        cache: the cache returned by ``gelu_forward``.

    Returns:
        dx: gradient with respect to x, same shape as x.
    """
    ### BEGIN SOLUTION
    x, phi = cache
    density = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return dout * (phi + x * density)
    ### END SOLUTION
'''

GELU_REFERENCE = '''import torch


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU, exactly: x times the standard normal distribution function of x."""
    return 0.5 * x * (1 + torch.erf(x / 2 ** 0.5))
'''

GELU_SPEC = '''from hypothesis import strategies as st

from dlgrade.checkers.declare import cases, dims, layer, values

from ..reference import activations as ref

gelu_cases = cases(lambda rng, shape: {"x": values(rng, shape, 0.1, 3.0)}, shape=st.lists(dims, min_size=1, max_size=3))

EXERCISES = [
    *layer("a1_backprop", "layers", "gelu_forward", "gelu_backward", ref.gelu, gelu_cases, ("x",), summary="GELU"),
]
'''


@pytest.fixture(autouse=True)
def bundled_again():
    """Each test starts and ends on the bundled curriculum (the course in use is process-wide)."""
    use_source(None)
    yield
    use_source(None)


def init(tmp_path: Path, *assignments: str) -> Path:
    root = tmp_path / "course"
    result = CliRunner().invoke(main, ["course", "init", str(root), *assignments])
    assert result.exit_code == 0, result.output
    return root


def add_gelu(root: Path, points: int = 3) -> None:
    """What an instructor writes to add GELU: solution, reference, declaration, points."""
    layers = root / A1 / "layers.py"
    text = layers.read_text()
    layers.write_text(("import math\n" if "import math" not in text else "") + text + GELU_SOLUTION)
    (root / "checks" / "reference" / "activations.py").write_text(GELU_REFERENCE)
    (root / "checks" / "specs" / f"{A1}.py").write_text(GELU_SPEC)
    manifest = root / A1 / "manifest.toml"
    manifest.write_text(manifest.read_text() + f"gelu_forward = {points}\ngelu_backward = {points}\n")


def check(tmp_path: Path, *args: str) -> tuple[int, dict]:
    """`dlgrade check ARGS --json` in this process: (exit status, the JSON verdicts)."""
    report = tmp_path / "verdicts.json"
    result = CliRunner().invoke(main, ["check", *args, "--json", str(report)])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, {e["name"]: e for e in json.loads(report.read_text())["exercises"]}


def test_course_init_writes_a_course_folder_of_the_chosen_assignments(tmp_path, monkeypatch):
    root = init(tmp_path, A1)
    course = load_course(root)
    assert course.assignments == (A1,) and course.checks_dir == root / "checks"
    assert "### BEGIN SOLUTION" in (root / A1 / "layers.py").read_text()  # a source checkout: the solutions
    assert tomllib.loads((root / A1 / "manifest.toml").read_text())["points"]["affine_backward"] == 3
    assert tomllib.loads((root / "course.toml").read_text())["assignments"] == [A1]
    assert "checks/specs" in (root / "README.md").read_text()
    # The current folder is the course when it holds a course.toml; elsewhere, the bundled one.
    monkeypatch.chdir(root)
    assert load_course(None).root == root.resolve()
    monkeypatch.chdir(tmp_path)
    assert load_course(None) == bundled_course()
    again = CliRunner().invoke(main, ["course", "init", str(root)])
    assert again.exit_code == 2 and "already holds a course" in again.output
    with pytest.raises(CourseError, match="not a course folder"):
        load_course(tmp_path)


def test_course_init_from_an_installation_without_solutions_writes_stubs_to_fill_in(tmp_path, monkeypatch):
    """From a wheel (stubs only), each stub's body sits in an empty fence for the solution, so
    that `release` strips it again; course.toml and the README say where the solutions are."""
    import dlgrade.assignments
    from dlgrade.grader.release import release, strip_solutions

    wheel = tmp_path / "wheel"
    release(wheel, [A1], dlgrade.assignments.ASSIGNMENTS_DIR)
    monkeypatch.setattr(dlgrade.assignments, "ASSIGNMENTS_DIR", wheel)
    root = init(tmp_path, A1)
    layers = (root / A1 / "layers.py").read_text()
    assert layers.count("### BEGIN SOLUTION") == (wheel / A1 / "layers.py").read_text().count("NotImplementedError(")
    assert strip_solutions(layers) == (wheel / A1 / "layers.py").read_text()
    for written in ("course.toml", "README.md"):
        assert "checkout of dlgrade's source" in (root / written).read_text()
    clash = CliRunner().invoke(main, ["course", "init", str(tmp_path / "wheel")])
    assert clash.exit_code == 2 and "already has a1_backprop/layers.py" in clash.output


def test_an_exercise_added_in_the_course_is_checked_like_a_bundled_one(tmp_path, monkeypatch):
    root = init(tmp_path, A1)
    add_gelu(root)
    gelu = ["gelu_forward", "gelu_backward"]

    # The instructor's solution, in the sandboxed worker (the checks run on this side of it).
    status, solved = check(tmp_path, *gelu, "--course", str(root), "--path", str(root))
    assert status == 0 and all(solved[n]["points"] == solved[n]["max_points"] == 3 for n in gelu), solved

    # The student version: stubs, and the course's checks with them, so `dlgrade check` in the
    # student's folder knows GELU.
    student = tmp_path / "student"
    released = CliRunner().invoke(main, ["release", "--course", str(root), str(student)])
    assert released.exit_code == 0, released.output
    assert "BEGIN SOLUTION" not in (student / A1 / "layers.py").read_text()
    use_source(None)
    monkeypatch.chdir(student)
    status, stubs = check(tmp_path, *gelu, "--no-sandbox")
    assert status == 1 and all(stubs[n]["points"] == 0 and "NotImplementedError" in stubs[n]["reason"] for n in gelu)

    # A planted bug: the backward forgets the density term.
    buggy = tmp_path / "buggy"
    (buggy / A1).mkdir(parents=True)
    (buggy / A1 / "layers.py").write_text((root / A1 / "layers.py").read_text().replace(
        "dout * (phi + x * density)", "dout * phi"))
    status, bug = check(tmp_path, *gelu, "--course", str(root), "--path", str(buggy), "--no-sandbox")
    assert status == 1 and bug["gelu_forward"]["passed"] and bug["gelu_backward"]["points"] == 0

    # The installed package knows nothing of it.
    use_source(None)
    assert "gelu_forward" not in {e.name for e in all_exercises()}


def test_reweighting_in_the_course_manifest_changes_the_points(tmp_path):
    root = init(tmp_path, A1)
    manifest = root / A1 / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("relu_forward = 1\n", "relu_forward = 5\n"))
    load_course(root).activate()
    assert select(["relu_forward"])[0].points == 5
    status, verdicts = check(tmp_path, "relu_forward", "--course", str(root), "--no-sandbox", "--path", str(root))
    assert status == 0 and verdicts["relu_forward"]["points"] == 5
    use_source(None)
    assert select(["relu_forward"])[0].points == 1  # the bundled manifest is untouched

    # Points given to an exercise no declaration has are a mistake the instructor hears of.
    manifest.write_text(manifest.read_text() + "gelu_forward = 2\n")
    load_course(root).activate()
    course_exercises.cache_clear()  # a course is read once per process; this one changed since
    with pytest.raises(ValueError, match="gelu_forward, which no declaration"):
        all_exercises()


def test_grade_of_a_one_assignment_course_has_that_course_s_maximum(tmp_path):
    root = init(tmp_path, A1)
    add_gelu(root, points=2)
    seed_file = tmp_path / "course.seed"
    seed_file.write_text("8675309\n")
    seed_file.chmod(0o600)
    with open(root / "course.toml", "a") as f:
        f.write(f'file = "{seed_file}"\n')  # under [seed], the course.toml's last table
    expected = sum(tomllib.loads((root / A1 / "manifest.toml").read_text())["points"].values())
    bundled_a1, everything = sum(e.points for e in select([A1])), sum(e.points for e in select([]))
    submissions = tmp_path / "submissions"
    (submissions / "empty" / A1).mkdir(parents=True)  # every exercise fails at once: its module is missing
    db = tmp_path / "gradebook.sqlite"
    result = CliRunner().invoke(main, ["grade", str(submissions), "--course", str(root), "--db", str(db),
                                       "--jobs", "1", "--no-sandbox", "--no-progress"])
    assert result.exit_code == 0, result.output
    from dlgrade.grader.grading.gradebook import Gradebook

    with Gradebook(db) as book:
        (graded,) = book.results()
        assert book.meta()["seed"] == 8675309  # the course's seed file, with no --seed given
    # a1's points and GELU's, not the whole curriculum's
    assert graded["max_score"] == expected == bundled_a1 + 4 < everything
    assert active_source() != BUNDLED and os.environ[COURSE_SOURCE_ENV]


@pytest.mark.parametrize("mode", ["bubblewrap", "landlock"])
def test_a_course_kept_inside_the_python_installation_is_out_of_the_worker_s_reach(mode, tmp_path, monkeypatch):
    """The worker reads the Python installation; a course folder an instructor keeps inside it
    (say, in the virtual environment) is left out, its solutions and checks alike."""
    import shutil
    import sys

    from dlgrade.grader.boundary.sandbox import SandboxedSubmission, bwrap_path, course_locations, landlock_abi
    from helpers import planted

    if (bwrap_path() is None) if mode == "bubblewrap" else landlock_abi() < 1:
        pytest.skip(f"{mode} is not available here")
    if mode == "landlock":
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    inside = Path(sys.prefix) / f"course-under-test-{os.getpid()}"
    try:
        root = init(inside)
        for path in [inside, *inside.rglob("*")]:  # readable by everyone, as a shared checkout is
            path.chmod(0o755 if path.is_dir() else 0o644)
        course = load_course(root).activate()
        solution = course.assignment_dir(A1) / "layers.py"
        assert "BEGIN SOLUTION" in solution.read_text() and str(root) in course_locations()
        probe = f"""
            def probe():
                found = []
                for path in ({str(solution)!r}, {str(root / "checks" / "specs" / (A1 + ".py"))!r}):
                    try:
                        found.append(open(path).read()[:10])
                    except BaseException as e:
                        found.append(type(e).__name__)
                return found
        """
        with SandboxedSubmission(planted(tmp_path, "layers", probe), call_timeout=30) as sub:
            outcome = sub.call(A1, "layers", "probe", [])
        assert outcome.error is None, outcome
        assert all(not text.startswith(('"""', "import", "from")) for text in outcome.value), outcome.value
    finally:
        shutil.rmtree(inside, ignore_errors=True)


def test_a_course_folder_inside_what_is_graded_is_never_used(tmp_path, monkeypatch):
    """A submission that ships a course.toml and checks/ (code that would run unconfined in the
    grader) is refused, and its checks never run."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    student = init(tmp_path / "mallory").rename(submissions / "mallory")
    marker = tmp_path / "owned"
    (student / "checks" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(student)  # a grader started in the student's folder
    checked = CliRunner().invoke(main, ["check", "relu_forward", "--profile", "grading", "--no-sandbox"])
    assert checked.exit_code == 2 and "never taken from what is graded" in checked.output
    graded = CliRunner().invoke(main, ["grade", str(submissions), "--public-seed", "--no-sandbox", "--db",
                                       str(tmp_path / "book.sqlite"), "--course", str(student)])
    assert graded.exit_code == 2 and "never taken from what is graded" in graded.output
    assert not marker.exists()


def test_a_gradescope_zip_of_a_course_grades_the_course_s_own_exercise(tmp_path):
    """The zip of a course ships its student version (stubs, manifest, checks, a course.toml
    without seed) and grades with it: the added exercise, at the course's points, never from a
    course.toml the submission brings."""
    root = init(tmp_path, A1)
    add_gelu(root, points=2)
    seed_file = tmp_path / "seed"
    seed_file.write_text("9183\n")
    seed_file.chmod(0o600)
    zip_path = tmp_path / "autograder.zip"
    built = CliRunner().invoke(main, ["gradescope", "build", "--course", str(root), A1, str(zip_path), "--seed-file",
                                      str(seed_file), "--exercise", "gelu_forward", "--exercise", "gelu_backward"])
    assert built.exit_code == 0, built.output
    autograder = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        assert {"course/course.toml", f"course/{A1}/manifest.toml", f"course/checks/specs/{A1}.py"} <= names
        for info in zf.infolist():
            zf.extract(info, autograder / "source")
            (autograder / "source" / info.filename).chmod((info.external_attr >> 16) & 0o777)
        assert not any("BEGIN SOLUTION" in zf.read(n).decode() for n in names if n.endswith(".py"))
        assert "9183" not in zf.read("course/course.toml").decode()
    (autograder / "dlgrade-venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    submission = autograder / "submission"
    submission.mkdir()
    (submission / "layers.py").write_text((root / A1 / "layers.py").read_text())
    # A course.toml of the submission's own (giving GELU 100 points) is never read.
    (submission / "course.toml").write_text('name = "mine"\nassignments = ["a1_backprop"]\n')
    env = {k: v for k, v in os.environ.items() if k not in ("DLGRADE_COURSE_SEED", "DLGRADE_COURSE_SOURCE")}
    run = subprocess.run([autograder / "source" / "run_autograder"], env={**env, "DLGRADE_GRADESCOPE_ROOT": str(autograder)},
                         capture_output=True, text=True, timeout=600, cwd=submission)
    assert run.returncode == 0, run.stderr
    data = json.loads((autograder / "results" / "results.json").read_text())
    assert data["score"] == 4 and sum(t["max_score"] for t in data["tests"]) == pytest.approx(4, abs=0.01), data


def test_the_ci_of_a_course_release_checks_the_course_s_exercises(tmp_path, monkeypatch):
    """A student repository released from a course folder holds its course.toml and checks/: the
    CI template names it (`--course .`), since the grading profile never takes a course it only
    finds in the folder it checks, and the maximum is that course's."""
    import yaml

    root = init(tmp_path, A1)
    add_gelu(root, points=2)
    repository = tmp_path / "student"
    released = CliRunner().invoke(main, ["release", "--course", str(root), str(repository)])
    assert released.exit_code == 0, released.output
    use_source(None)
    monkeypatch.chdir(repository)
    written = CliRunner().invoke(main, ["ci-template"])
    assert written.exit_code == 0, written.output
    workflow = yaml.safe_load((repository / ".github" / "workflows" / "classroom.yml").read_text())
    command = next(s["run"] for s in workflow["jobs"]["run-autograding-tests"]["steps"]
                   if str(s.get("run", "")).startswith("dlgrade check"))
    assert "--course . " in command and command.startswith("dlgrade check a1_backprop ")
    use_source(None)
    args = command.split(" || ")[0].split()[2:]
    args = args[:args.index("--classroom")] + ["--no-sandbox", "--seed", "5", "--json", str(tmp_path / "v.json")]
    ran = CliRunner().invoke(main, ["check", *args])
    assert ran.exit_code in (0, 1), ran.output
    verdicts = json.loads((tmp_path / "v.json").read_text())["exercises"]
    assert sum(e["max_points"] for e in verdicts) == 38 + 4  # a1's points and GELU's, nothing else


def test_a_prairielearn_grader_of_a_course_grades_the_course_s_own_exercise(tmp_path):
    """The PrairieLearn bundle of a course grades with that course (GELU at its points); a
    submission that does not parse is not gradable."""
    root = init(tmp_path, A1)
    add_gelu(root, points=2)
    out = tmp_path / "pl"
    built = CliRunner().invoke(main, ["prairielearn", "build", "--course", str(root), A1, str(out), "--seed", "9183",
                                      "--exercise", "gelu_forward", "--exercise", "gelu_backward"])
    assert built.exit_code == 0, built.output
    bundle = Path("serverFilesCourse") / "dlgrade" / A1
    assert (out / bundle / "course" / "checks" / "specs" / f"{A1}.py").is_file()
    grade = tmp_path / "grade"
    (grade / "serverFilesCourse").mkdir(parents=True)
    os.rename(out / "serverFilesCourse", grade / "serverFilesCourse")
    env = {k: v for k, v in os.environ.items() if k not in ("DLGRADE_COURSE_SEED", "DLGRADE_COURSE_SOURCE")}
    env.update(DLGRADE_PRAIRIELEARN_ROOT=str(grade), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    student = grade / "student"
    for code, gradable, score in (((root / A1 / "layers.py").read_text(), True, 1.0), ("def gelu_forward(x:\n", False, 0)):
        student.mkdir(exist_ok=True)
        (student / "layers.py").write_text(code)
        run = subprocess.run([grade / bundle / "run_grader"], env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        data = json.loads((grade / "results" / "results.json").read_text())
        assert data["gradable"] is gradable and data["score"] == score, data
        assert {t["name"] for t in data["tests"]} == {"gelu_forward", "gelu_backward"} or not gradable
