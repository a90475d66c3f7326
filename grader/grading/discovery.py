"""Submissions found in a folder: subfolders laid out like the release, `.zip` files, a
Gradescope bulk export, nbgrader's `submitted/` folder; each brought into the release layout
through grader.boundary.intake (names checked, links contained) before anything grades it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import NamedTuple

from dlgrade.grader.boundary import intake


class Discovered(NamedTuple):
    """One submission: its name in the gradebook, the folder to grade (a fresh copy in the
    release layout), and why it cannot be graded (None when it can; then `path` is what was found)."""

    name: str
    path: Path
    problem: str | None = None


def discover(submissions_dir: Path | str, work_dir: Path | str,
             assignments: list[str] | None = None) -> list[Discovered]:
    """The submissions in `submissions_dir`, by name, each copied into a fresh folder of its own
    under `work_dir` in the release layout (`<assignment>/<module>.py`).

    Each subfolder is a submission named after it; each `.zip` file is one named after its stem
    (its full file name where a folder already has that name), unpacked with limits (see
    grader.boundary.intake.unpack_zip). A Gradescope bulk export (`submission_metadata.yml` beside one
    `submission_<id>/` folder per submission) is such a folder of subfolders, and so is nbgrader's
    `submitted/` folder (`<student>/<assignment>/*.ipynb`): notebooks are turned into modules
    (grader.grading.notebooks). Modules may sit in assignment folders, at the submission's top
    level, or one level down in a single wrapper folder; the assignment of top-level modules is
    the one of `assignments` (default: all in the registry) whose modules they are.

    Only the modules of those assignments are copied, and only through grader.boundary.intake: names
    checked, links contained. Whatever goes wrong with one submission (a link outside it, a
    broken zip or notebook, an unreadable or oversized file, modules that fit several
    assignments) is that submission's `problem`, never an exception.
    """
    submissions_dir, work_dir = Path(submissions_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    known = intake.known_modules(assignments)
    entries = sorted(p for p in submissions_dir.iterdir() if not intake.ignored(p.name))
    # A zip is named by its stem, or by its whole file name where another entry has that stem.
    stems = [p.name if p.is_dir() else p.stem for p in entries]
    names = intake.unique([intake.display_name(p.name if p.is_dir() or stems.count(p.stem) > 1 else p.stem)
                           for p in entries])
    found = []
    for name, entry in zip(names, entries):
        try:
            sub = _discover_one(name, entry, work_dir, known)
        except intake.Refused as e:
            sub = Discovered(name, entry, str(e))
        except Exception as e:  # noqa: BLE001 - whatever one submission holds is its own verdict
            sub = Discovered(name, entry, f"cannot read this submission: {type(e).__name__}: {e}")
        if sub is not None:
            found.append(sub)
    return found


def discover_folder(folder: Path | str, work_dir: Path | str, assignments: list[str] | None = None,
                    name: str = "submission") -> Discovered:
    """One folder as one submission (a platform's upload folder: Gradescope's
    /autograder/submission, PrairieLearn's /grade/student), copied into the release layout under
    `work_dir` as `discover` copies each of its entries. What is wrong with it is its `problem`."""
    folder, work_dir = Path(folder), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        sub = _discover_one(name, folder, work_dir, intake.known_modules(assignments))
    except intake.Refused as e:
        return Discovered(name, folder, str(e))
    except Exception as e:  # noqa: BLE001 - whatever the submission holds is its own verdict
        return Discovered(name, folder, f"cannot read this submission: {type(e).__name__}: {e}")
    return sub or Discovered(name, folder, "no submission folder")


def _discover_one(name: str, entry: Path, work_dir: Path, known) -> Discovered | None:
    """One entry of the submissions folder as a submission (None: not one, e.g. a roster file)."""
    is_zip = entry.suffix.lower() == ".zip" and not entry.is_dir()
    if entry.is_symlink():
        if not (is_zip or entry.is_dir()):
            return None
        raise intake.Refused(f"{intake.shown(entry.name)} is a link, not a submission of its own: not graded")
    if not (entry.is_dir() or is_zip):
        return None
    fresh = Path(tempfile.mkdtemp(prefix="submission-", dir=work_dir))  # named by no part of the submission
    folder = entry
    if is_zip:
        if not entry.is_file():  # a fifo or device with a zip's name
            raise intake.Refused(f"{intake.shown(entry.name)} is not a regular file: not graded")
        folder = fresh / "unpacked"
        try:
            intake.unpack_zip(entry, folder)
        except Exception as e:  # noqa: BLE001 - a refused, broken or truncated archive alike
            raise intake.Refused(f"cannot unpack {intake.shown(entry.name)}: {e}") from None
    return Discovered(name, _layout(intake.SubmissionTree(folder), fresh / "layout", known))


def _layout(tree, dest: Path, known) -> Path:
    """Copy the modules of the submission in `tree` into `dest` in the release layout: from
    notebooks (nbgrader's `<assignment>/*.ipynb`, or at the top level), from assignment folders,
    or from modules at the top level; each of these either in the folder itself or in a single
    wrapper folder inside it. Raises intake.Refused."""
    from dlgrade.grader.grading.notebooks import notebook_modules

    base = ""
    for _ in range(2):  # the folder itself, then a single wrapper folder inside it
        notebooks = _notebooks(tree, base, known)
        if notebooks:
            return intake.write_modules(notebook_modules(notebooks, known), dest, known)
        if any(tree.kind(_join(base, a)) == "dir" for a in known):
            files = {f"{a}/{n}": data for a in sorted(known) if tree.kind(_join(base, a)) == "dir"
                     for n, data in intake.module_files(tree, _join(base, a)).items()}
            return intake.write_modules(files, dest, known)
        top = intake.module_files(tree, base)
        owners = [a for a, modules in known.items() if {n[:-3] for n in top} & modules]
        if len(owners) > 1:
            raise intake.Refused(f"its modules could belong to {', '.join(sorted(owners))}; "
                                 "grade one assignment at a time (--assignment)")
        if owners:
            return intake.write_modules({f"{owners[0]}/{n}": data for n, data in top.items()}, dest, known)
        inside = [n for n in tree.names(base) if not intake.ignored(n)]
        if len(inside) != 1 or tree.kind(_join(base, inside[0])) != "dir":
            break
        base = _join(base, inside[0])
    # Nothing recognisable: graded as an empty submission, every exercise says which module is missing.
    return intake.write_modules({}, dest, known)


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def _notebooks(tree, base: str, known) -> list[tuple[str, bytes]]:
    """The notebooks of a submission, (path in it, bytes): nbgrader's submitted layout
    (`<student>/<assignment>/*.ipynb`), or notebooks at the submission's top level."""
    def in_folder(folder: str) -> list[str]:
        if tree.kind(folder) != "dir":
            return []
        return [_join(folder, n) for n in tree.names(folder) if n.endswith(".ipynb") and not intake.ignored(n)]

    found = [rel for a in sorted(known) for rel in in_folder(_join(base, a))] or in_folder(base)
    return [(rel, tree.read(rel, intake.MAX_NOTEBOOK_BYTES)) for rel in found]
