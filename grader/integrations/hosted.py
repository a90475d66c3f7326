"""Grading on a course platform's machine: what Gradescope's autograder and PrairieLearn's external
grader share (grader.integrations.gradescope_autograder, grader.integrations.prairielearn_grader).

Each platform hands the grader one submission folder and reads one results file back. A bundle
built here holds `grader.json` (what to grade and how, see GraderConfig), the course seed in a file
of its own (`course_seed`, never printed, never in a result), and the course files of the
assignment (`course/<assignment>/`: stubs and manifest, no solution text). `grade_folder` lays the
folder out as the release (grader.grading.discovery), grades it at the grading profile in the
sandbox, and returns the gradebook's result form, from which each platform's format is written
(grader.outputs.formats).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dlgrade.grader.outputs.formats import Result

CONFIG_FILE = "grader.json"
SEED_FILE = "course_seed"
COURSE_FOLDER = "course"


@dataclass
class GraderConfig:
    """What a platform's grader grades: `assignment`, and of it `exercises` (none: all); `timeout`:
    CPU seconds per exercise in student code; `unconfined`: grade even where student code cannot
    be confined (the instructor said so when building); the rest is the platform's own settings."""

    assignment: str
    exercises: list[str] = field(default_factory=list)
    timeout: float = 60.0
    unconfined: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def names(self) -> list[str]:
        return list(self.exercises) or [self.assignment]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def read(cls, folder: Path) -> "GraderConfig":
        data = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        return cls(**data)


def check_config(config: GraderConfig) -> float:
    """The points possible of what `config` grades; raises KeyError for an unknown name (when the
    bundle is built, so a typo never reaches the platform)."""
    from dlgrade.checkers.registry import select

    exercises = select(config.names())
    if any(e.assignment != config.assignment for e in exercises):
        raise KeyError(f"{', '.join(config.exercises)} (not all of {config.assignment})")
    return float(sum(e.points for e in exercises))


def bundle_files(config: GraderConfig, seed: int, assignments_dir: Path,
                 course_release: Path | None = None) -> dict[str, tuple[bytes, int]]:
    """The files every bundle holds, by path in it, with their modes: the config, the seed (mode
    0600) and the course files. For the bundled curriculum those are the assignment's manifest
    (its points; the modules are not needed to grade). For an instructor's course folder,
    `course_release` is its student version of the assignment (`dlgrade release --course`: stubs,
    manifest, the course's own checks and a course.toml without seed), shipped whole under
    `course/`, so that the platform grades the course's exercises with the course's points and
    never with anything of the submission's (see use_bundle_course)."""
    files = {CONFIG_FILE: (config.to_json().encode(), 0o644), SEED_FILE: (f"{seed}\n".encode(), 0o600)}
    if course_release is not None:
        for path in sorted(Path(course_release).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[f"{COURSE_FOLDER}/{path.relative_to(course_release).as_posix()}"] = (path.read_bytes(), 0o644)
        return files
    manifest = Path(assignments_dir) / config.assignment / "manifest.toml"
    if not manifest.is_file():
        raise KeyError(f"{config.assignment} (no manifest.toml in {assignments_dir})")
    files[f"{COURSE_FOLDER}/{config.assignment}/manifest.toml"] = (manifest.read_bytes(), 0o644)
    return files


def use_bundle_course(bundle: Path) -> None:
    """Make the course a bundle was built from the one graded: the course folder it ships
    (`course/course.toml`), else dlgrade's bundled curriculum. Always named explicitly, so that a
    course.toml in the submission or the current folder is never read."""
    from dlgrade.grader.grading.course import COURSE_FILE, bundled_course, load_course

    shipped = bundle / COURSE_FOLDER
    (load_course(shipped) if (shipped / COURSE_FILE).is_file() else bundled_course()).activate()


def write_zip(out: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    """`files` (path: (bytes, mode)) as a zip at `out`, modes kept; entries in a fixed order and
    with a fixed date, so the same course builds the same zip."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            data, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out


def write_folder(out: Path, files: dict[str, tuple[bytes, int]]) -> list[Path]:
    """`files` (path: (bytes, mode)) under the folder `out`; the files written."""
    written = []
    for name in sorted(files):
        data, mode = files[name]
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
        written.append(path)
    return written


def read_seed(folder: Path) -> int:
    """The course seed kept in a bundle."""
    text = (folder / SEED_FILE).read_text().strip()
    if not text.isdigit():
        raise ValueError(f"{SEED_FILE}: expected one non-negative integer")
    return int(text)


def grade_folder(folder: Path, config: GraderConfig, seed: int) -> Result:
    """Grade the submission in `folder` as `config` says, at the grading profile with `seed`, in
    the sandbox. Returns the gradebook's result form (name "submission"); never raises for
    anything the submission holds; `missing_files` lists the modules it should have held (see
    missing_files). Where student code cannot be confined and the bundle was not
    built --unconfined, nothing runs and the result says why."""
    from dlgrade.grader.boundary.sandbox import confinement, exposure
    from dlgrade.grader.grading.discovery import discover_folder
    from dlgrade.grader.grading.engines import error_result, grade_one

    max_score = check_config(config)
    if confinement() == "none" and not config.unconfined:
        result = error_result("this grader cannot confine student code on this machine (no bubblewrap, no "
                              f"Landlock): {exposure('none')}; the instructor must install bubblewrap, or "
                              "rebuild the grader with --unconfined", max_score)
    else:
        with tempfile.TemporaryDirectory(prefix="dlgrade-hosted-") as work:
            sub = discover_folder(folder, work, [config.assignment])
            if sub.problem:
                result = error_result(sub.problem, max_score)
            else:
                result = grade_one(sub.path, config.names(), seed, config.timeout, sandbox=True)
                result["missing_files"] = missing_files(sub.path, config)
    return {**result, "name": "submission"}


def missing_files(layout: Path, config: GraderConfig) -> list[str]:
    """The modules that the graded exercises live in and the submission (in the release layout
    at `layout`) does not hold, as `<module>.py`."""
    from dlgrade.checkers.registry import select

    modules = dict.fromkeys(e.module for e in select(config.names()))
    return [f"{m}.py" for m in modules if not (layout / config.assignment / f"{m}.py").is_file()]


def root_from(env_name: str, default: str) -> Path:
    """The platform's root folder (/autograder, /grade), or the one the environment names (tests)."""
    return Path(os.environ.get(env_name) or default)


def installed_version(package: str) -> str | None:
    """The version of `package` installed here (None: not installed), for pinning it in a bundle."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None
