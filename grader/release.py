"""`dlgrade release`: the student version of assignments.

Every region fenced by nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` is replaced by a
`raise NotImplementedError(...)` at the fence's indentation; signatures, docstrings and
everything outside the fences stay. Only the assignment's modules and manifest are copied.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_STUB = 'raise NotImplementedError("Implement this function: see its docstring.")'
_FENCE = re.compile(rf"^(?P<indent>[ \t]*){re.escape(BEGIN)}[ \t]*\n.*?^[ \t]*{re.escape(END)}[ \t]*\n?",
                    re.MULTILINE | re.DOTALL)


class ReleaseError(ValueError):
    """A source module whose fences do not pair up."""


def strip_solutions(source: str, name: str = "<module>") -> str:
    """The source with every fenced solution region replaced by a NotImplementedError stub."""
    if source.count(BEGIN) != source.count(END):
        raise ReleaseError(f"{name}: {source.count(BEGIN)} '{BEGIN}' but {source.count(END)} '{END}'")
    stubbed = _FENCE.sub(lambda m: f"{m['indent']}{_STUB}\n", source)
    if BEGIN in stubbed or END in stubbed:
        raise ReleaseError(f"{name}: a solution fence is nested or out of order")
    return stubbed


def solution_regions(source: str) -> list[str]:
    """The text inside each fence (what must never reach a student)."""
    return [m.group(0) for m in _FENCE.finditer(source)]


def strip_to_stubs(folder: Path) -> list[Path]:
    """Replace every course module under `folder` (`<assignment>/*.py`) by its stub, in place:
    for a build's copy of the course source (see setup.py), never for the source itself. Each
    file is replaced rather than written through, since a build may hard-link its copy to the
    source. Returns the modules replaced."""
    replaced = []
    for path in sorted(Path(folder).glob("*/*.py")):
        stub = strip_solutions(path.read_text(encoding="utf-8"), str(path.name))
        path.unlink()
        path.write_text(stub, encoding="utf-8")
        replaced.append(path)
    return replaced


def has_solutions(source: Path | None = None) -> bool:
    """Whether the course source holds the solutions (a checkout of the repository, or the
    instructor's course folder) rather than only the released stubs (an installed package)."""
    source = _course_source() if source is None else source
    return any(BEGIN in path.read_text(encoding="utf-8") for path in source.glob("*/*.py"))


def _course_source() -> Path:
    """The course source of this installation. Imported here, not at the top: setup.py uses this
    module's fence functions before the package is installed."""
    from dlgrade.assignments import course_dir

    return course_dir()


def release(out: Path, assignments: list[str], source: Path | None = None) -> list[Path]:
    """Write the student version of `assignments` under `out` (from `source`, by default the
    course source); return the files written."""
    source = _course_source() if source is None else source
    written = []
    for name in assignments:
        src, dst = source / name, out / name
        if not (src / "manifest.toml").is_file():
            raise ReleaseError(f"{name} is not an assignment in {source} (no manifest.toml)")
        dst.mkdir(parents=True, exist_ok=True)
        for path in sorted(src.glob("*.py")):
            target = dst / path.name
            target.write_text(strip_solutions(path.read_text(), str(path.name)))
            written.append(target)
        shutil.copyfile(src / "manifest.toml", dst / "manifest.toml")
        written.append(dst / "manifest.toml")
    return written


def available(source: Path | None = None) -> list[str]:
    """The assignments in the course source (folders with a manifest)."""
    source = _course_source() if source is None else source
    return sorted(p.parent.name for p in source.glob("*/manifest.toml"))


# ---------------------------------------------------------------------------------------------
# `dlgrade course init`: an instructor's course folder from the bundled curriculum

_WHEEL_NOTE = ("This installation of dlgrade holds only the released stubs (a wheel), so the modules here are "
               "stubs: write each solution between its `### BEGIN SOLUTION` / `### END SOLUTION` fence, or run "
               "`dlgrade course init` from a checkout of dlgrade's source, which holds the solutions.")


def init_course(out: Path, assignments: list[str], name: str | None = None) -> list[Path]:
    """Write an instructor's course folder `out` from the bundled curriculum: course.toml, one
    folder per assignment (its modules, with the solutions fenced where this installation has
    them, else the stubs with empty fences, and its manifest), and `checks/`, the package for
    the instructor's own exercises (spec and reference modules). Returns the files written.
    Raises ReleaseError for an unknown assignment or a folder that already holds a course."""
    from dlgrade.assignments import ASSIGNMENTS_DIR

    out = Path(out)
    known = available(ASSIGNMENTS_DIR)
    unknown = [a for a in assignments if a not in known]
    if unknown:
        raise ReleaseError(f"unknown assignment(s): {', '.join(unknown)}; known: {', '.join(known)}")
    if (out / "course.toml").exists():
        raise ReleaseError(f"{out} already holds a course (course.toml); nothing was written")
    assignments = assignments or known
    solutions = has_solutions(ASSIGNMENTS_DIR)
    files: dict[str, str] = {}
    for assignment in assignments:
        for path in sorted((ASSIGNMENTS_DIR / assignment).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            files[f"{assignment}/{path.name}"] = text if solutions else _fenced_stubs(text)
        files[f"{assignment}/manifest.toml"] = (ASSIGNMENTS_DIR / assignment / "manifest.toml").read_text()
        files[f"checks/specs/{assignment}.py"] = _SPEC_TEMPLATE.format(assignment=assignment)
    name = name or out.resolve().name
    note = "" if solutions else _WHEEL_NOTE
    files.update({
        "course.toml": _COURSE_TOML.format(name=json.dumps(name), assignments=", ".join(json.dumps(a) for a in assignments),
                                           note=f"\n# {note}\n" if note else ""),
        "checks/__init__.py": '"""The course\'s own checks: specs/<assignment>.py and reference/ (see README.md)."""\n',
        "checks/specs/__init__.py": '"""Declarations of the exercises this course adds, one module per assignment."""\n',
        "checks/reference/__init__.py": '"""Torch oracles of the exercises this course adds (float64, autograd)."""\n',
        "README.md": _COURSE_README.format(name=name, note=f"\n> {note}\n" if note else ""),
        ".gitignore": "gradebook.sqlite\n*.seed\n__pycache__/\n",
    })
    # Into an existing folder (a fresh repository), but never over a file the instructor has.
    clashes = sorted(relative for relative in files if (out / relative).exists())
    if clashes:
        raise ReleaseError(f"{out} already has {', '.join(clashes)}; nothing was written")
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _fenced_stubs(stub: str) -> str:
    """A released stub with each `raise NotImplementedError` inside an empty solution fence,
    where the instructor writes the solution (and `release` strips it again)."""
    return re.sub(rf"^(?P<indent>[ \t]*){re.escape(_STUB)}[ \t]*$",
                  lambda m: f"{m['indent']}{BEGIN}\n{m['indent']}{_STUB}\n{m['indent']}{END}", stub, flags=re.MULTILINE)


_COURSE_TOML = '''# The course: every dlgrade command run in this folder (or given --course DIR) grades it.
name = {name}
# The assignments of the course: folders here holding their modules and a manifest.toml (points).
assignments = [{assignments}]
# Where the course's own checks live: specs/<assignment>.py and reference/ (see README.md).
checks_dir = "checks"
{note}
[seed]
# Where the course seed comes from when grading. Never write the seed itself in this repository:
# it is what keeps the hidden examples hidden. DLGRADE_COURSE_SEED, when set, wins; else this
# file, which only you may read (chmod 600). Relative paths are from this folder.
# file = "~/.config/dlgrade/course.seed"
'''

_SPEC_TEMPLATE = '''"""Exercises this course adds to {assignment}, declared as dlgrade's own are.

Each declaration names the student function (in a module of {assignment}/), its torch oracle
(in checks/reference/), the strategy its inputs are drawn from, and any known mistakes; the
generic properties (shapes, values, gradients, inputs unchanged...) come with it. Give each
exercise its points in {assignment}/manifest.toml. An example, for a GELU layer written in
{assignment}/layers.py as `gelu_forward(x)` / `gelu_backward(dout, cache)`:

    from hypothesis import strategies as st

    from dlgrade.checkers.declare import cases, dims, layer, values

    from ..reference import activations as ref

    gelu_cases = cases(lambda rng, shape: {{"x": values(rng, shape)}}, shape=st.lists(dims, min_size=1, max_size=3))

    EXERCISES = [
        *layer("{assignment}", "layers", "gelu_forward", "gelu_backward", ref.gelu, gelu_cases, ("x",),
               summary="GELU"),
    ]

with, in checks/reference/activations.py:

    import torch

    def gelu(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1 + torch.erf(x / 2 ** 0.5))
"""

EXERCISES: list = []
'''

_COURSE_README = '''# {name}

A dlgrade course. Every `dlgrade` command run in this folder grades this course (elsewhere, give
`--course PATH`): its assignments, points and checks are the ones here, not dlgrade's bundled ones.
{note}
- `<assignment>/`: the student modules, each solution between `### BEGIN SOLUTION` and
  `### END SOLUTION`, and `manifest.toml`, the points of each exercise (edit it to reweight).
- `checks/specs/<assignment>.py`: declarations of the exercises you add (see the example in
  each); `checks/reference/`: their torch oracles. These run in the grading process, never in
  the sandbox that runs student code.
- `course.toml`: the course's name, assignments, and where its seed is kept (never in here).

```bash
dlgrade check                        # your solutions pass
dlgrade release student/             # the student version: stubs, no solution text
dlgrade grade submissions/ --seed-file ~/.config/dlgrade/course.seed
```
'''


def release_checks(out: Path, course, assignments: list[str]) -> list[Path]:
    """Beside a course's release in `out`: its own checks (`checks/`, spec and reference modules,
    which are checker code like dlgrade's own, not solutions) and a course.toml naming them, so
    that `dlgrade check` in the student's folder checks the exercises the course adds. No seed
    source is written. `course` is a grader.grading.course.Course. Returns the files written."""
    written = []
    if course.checks_dir is None:
        return written
    for path in sorted(course.checks_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        target = out / "checks" / path.relative_to(course.checks_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    listed = ", ".join(json.dumps(a) for a in assignments)
    (out / "course.toml").write_text(f'# The student version of a dlgrade course: `dlgrade check` here checks it.\n'
                                     f'name = {json.dumps(course.name)}\nassignments = [{listed}]\nchecks_dir = "checks"\n')
    written.append(out / "course.toml")
    return written
