"""`dlgrade release`: the student version of assignments.

Every region fenced by nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` is replaced by a
`raise NotImplementedError(...)` at the fence's indentation; signatures, docstrings and
everything outside the fences stay. Only the assignment's modules and manifest are copied.
"""

from __future__ import annotations

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
    from dlgrade.assignments import ASSIGNMENTS_DIR

    return ASSIGNMENTS_DIR


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
