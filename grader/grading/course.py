"""A course: the instructor's own course folder, or the curriculum bundled with dlgrade.

A course folder (written by `dlgrade course init`) is the instructor's repository:

    course.toml              name, assignments, where the course seed comes from
    a1_backprop/             the assignment's modules (solutions fenced) and manifest.toml
    ...
    checks/                  the instructor's own exercises' checks (a Python package)
      specs/<assignment>.py  EXERCISES = [...]: declarations, as in dlgrade's checkers/specs
      reference/*.py         their torch oracles

Everything in it is trusted: its spec and reference modules run in the checker's process, never
in the sandboxed worker, which only ever sees the call boundary and the submission. Nothing of a
submission can make a course: the course is named by the instructor (`--course`, or the folder
the command runs in), never found in what is graded.

`Course.activate()` makes the course the one the checker reads (dlgrade.assignments.use_source),
in this process and in the processes it starts.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dlgrade.assignments import ASSIGNMENTS_DIR, CourseSource, use_source

#: The file that makes a folder a course folder.
COURSE_FILE = "course.toml"
#: The environment variable holding the course seed (see `Course.seed`).
SEED_ENV = "DLGRADE_COURSE_SEED"


class CourseError(ValueError):
    """A course folder that cannot be read: no course.toml, a malformed one, a missing assignment."""


@dataclass(frozen=True)
class Course:
    """One course: what it grades and where its files are.

    root: the course folder (None for the bundled curriculum); assignments_dir: the folder of
    `<assignment>/manifest.toml` and modules; assignments: the course's assignments;
    checks_dir: the package of the instructor's own spec and reference modules (None: none);
    seed_file: where the course seed is kept, outside the repository (None: only the
    environment, DLGRADE_COURSE_SEED).
    """

    name: str
    root: Path | None
    assignments_dir: Path
    assignments: tuple[str, ...]
    checks_dir: Path | None = None
    seed_file: Path | None = None

    @property
    def source(self) -> CourseSource:
        """What the checker reads of this course (see dlgrade.assignments)."""
        return CourseSource(self.assignments_dir, self.assignments, self.checks_dir)

    @property
    def bundled(self) -> bool:
        return self.root is None

    def activate(self) -> "Course":
        """Make this the course the checker reads, here and in the processes started from here."""
        use_source(None if self.bundled else self.source)
        return self

    def assignment_dir(self, assignment: str) -> Path:
        """The folder of one assignment (its modules and manifest)."""
        if assignment not in self.assignments:
            raise CourseError(f"{assignment} is not an assignment of {self.name} "
                              f"(it has {', '.join(self.assignments) or 'none'})")
        return self.assignments_dir / assignment

    def seed(self, environment_value: str | None = None) -> int | None:
        """The course seed: `environment_value` (what DLGRADE_COURSE_SEED held) where given, else
        the content of the course's seed file, else None (no course seed: the profile's public
        default). Raises CourseError for a value that is not one non-negative integer, or a seed
        file that others can read (the seed is what keeps the hidden examples hidden)."""
        if environment_value is not None:
            if not environment_value.strip().isdigit():
                raise CourseError(f"{SEED_ENV}: expected one non-negative integer")
            return int(environment_value)
        if self.seed_file is None or not self.seed_file.exists():
            return None
        try:
            return read_seed_file(self.seed_file)
        except CourseError as e:
            raise CourseError(f"the seed file of {self.root / COURSE_FILE}, {e}") from None


def read_seed_file(path: Path) -> int:
    """The seed in `path` (a file, or /dev/fd/N). Raises CourseError for a regular file that
    others can read, or content that is not one non-negative integer."""
    info = os.stat(path)
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        raise CourseError(f"{path}: readable by others (chmod 600 it)")
    text = Path(path).read_text().strip()
    if not text.isdigit():
        raise CourseError(f"{path}: expected one non-negative integer")
    return int(text)


def bundled_course() -> Course:
    """The curriculum that ships with dlgrade (its solutions where this is a source checkout)."""
    assignments = tuple(sorted(p.parent.name for p in ASSIGNMENTS_DIR.glob("*/manifest.toml")))
    return Course("dlgrade bundled curriculum", None, ASSIGNMENTS_DIR, assignments)


def find_course(folder: Path | None = None) -> Path | None:
    """The course folder at `folder` (default: the current folder), if it holds a course.toml."""
    folder = Path.cwd() if folder is None else Path(folder)
    return folder if (folder / COURSE_FILE).is_file() else None


def load_course(path: Path | str | None = None) -> Course:
    """The course at `path` (a course folder, or its course.toml); None: the current folder when
    it holds a course.toml, else the bundled curriculum. Raises CourseError."""
    if path is None:
        found = find_course()
        return bundled_course() if found is None else _read(found)
    path = Path(path)
    if path.name == COURSE_FILE and path.is_file():
        path = path.parent
    if not (path / COURSE_FILE).is_file():
        raise CourseError(f"{path} is not a course folder (it has no {COURSE_FILE}; `dlgrade course init` writes one)")
    return _read(path)


def _read(root: Path) -> Course:
    """The course of the folder `root`, from its course.toml."""
    root = root.resolve()
    try:
        with open(root / COURSE_FILE, "rb") as f:
            config = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CourseError(f"{root / COURSE_FILE}: {e}") from None
    where = root / COURSE_FILE
    assignments_dir = root / _text(config.get("assignments_dir", "."), where, "assignments_dir")
    present = sorted(p.parent.name for p in assignments_dir.glob("*/manifest.toml"))
    listed = config.get("assignments")
    if listed is None:
        assignments = tuple(present)
    else:
        if not isinstance(listed, list) or not all(isinstance(a, str) for a in listed):
            raise CourseError(f"{where}: assignments must be a list of folder names")
        missing = [a for a in listed if a not in present]
        if missing:
            raise CourseError(f"{where} lists {', '.join(missing)}, which {assignments_dir} does not hold "
                              "(a folder with a manifest.toml)")
        assignments = tuple(listed)
    checks = root / _text(config.get("checks_dir", "checks"), where, "checks_dir")
    seed = config.get("seed", {})
    if not isinstance(seed, dict):
        raise CourseError(f"{where}: [seed] must be a table (file = \"...\")")
    seed_file = seed.get("file")
    if seed_file is not None:
        seed_file = Path(_text(seed_file, where, "seed.file")).expanduser()
        seed_file = seed_file if seed_file.is_absolute() else root / seed_file
    return Course(_text(config.get("name", root.name), where, "name"), root, assignments_dir, assignments,
                  checks if (checks / "__init__.py").is_file() else None, seed_file)


def _text(value, where: Path, key: str) -> str:
    if not isinstance(value, str):
        raise CourseError(f"{where}: {key} must be a string")
    return value
