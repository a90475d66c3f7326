"""Notebooks as submissions: the student's code pulled out of a notebook's cells, and notebook
files written as the release layout (`<assignment>/<module>.py`), so that `dlgrade check --path
NOTEBOOK.ipynb` and `dlgrade grade` on nbgrader's `submitted/` folder check notebooks exactly as
they check modules. Every byte of a notebook is the submission's: it is read with bounds, and
what it names decides no path (see grader.boundary.intake)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path, PurePosixPath

from dlgrade.grader.boundary import intake

#: Notebook metadata key that names the assignment and module a generated notebook holds.
METADATA_KEY = "dlgrade"
#: Packages whose imports are dropped from extracted code (the kit itself, never part of a submission;
#: and the names its packages had before they were one, in notebooks generated then).
_KIT_PACKAGES = {"dlgrade", "grader", "checkers", "reference", "assignments"}
_MAGIC = re.compile(r"^\s*[%!]")


# -- the student's code out of a notebook ----------------------------------------------------------

def parse_notebook(data: bytes, name: str = "the notebook") -> dict:
    """A notebook's JSON from its bytes, checked to be a notebook as far as this bridge reads
    one (a dict whose cells are dicts with text sources; metadata a dict). Bounded: at most
    intake.MAX_NOTEBOOK_ITEMS JSON values, so a crafted file cannot take the trusted process's
    memory. Raises intake.Refused, saying what is wrong, for anything else."""
    if sum(data.count(c) for c in b"[{,:") > intake.MAX_NOTEBOOK_ITEMS:
        raise intake.Refused(f"{intake.shown(name)} holds more than {intake.MAX_NOTEBOOK_ITEMS} JSON values: not graded")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise intake.Refused(f"{intake.shown(name)} is not UTF-8 text: not graded") from None
    except (ValueError, RecursionError) as e:
        raise intake.Refused(f"{intake.shown(name)} is not a notebook (not valid JSON: {e}): not graded") from None
    problem = _notebook_problem(nb)
    if problem:
        raise intake.Refused(f"{intake.shown(name)} is not a notebook ({problem}): not graded")
    return nb


def _notebook_problem(nb) -> str | None:
    if not isinstance(nb, dict):
        return "not a JSON object"
    if not isinstance(nb.get("metadata", {}), dict):
        return "its metadata is not an object"
    cells = nb.get("cells", [])
    if not isinstance(cells, list):
        return "its cells are not a list"
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type", ""), str):
            return f"cell {i} is not a cell"
        source = cell.get("source", "")
        if not (isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)):
            return f"the source of cell {i} is not text"
    return None


def cell_sources(nb: dict) -> list[str]:
    """The sources of the code cells of a notebook checked by `parse_notebook`."""
    return ["".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code"]


def code_cells(notebook: Path | str) -> list[str]:
    """The sources of a notebook file's code cells (read as plain JSON: no nbformat warnings)."""
    return cell_sources(parse_notebook(Path(notebook).read_bytes(), Path(notebook).name))


def module_source(cells: list[str], siblings: set[str] = frozenset()) -> str:
    """A module made of the cells' imports, function and class definitions and assignments that
    call nothing (constants): experiments at a cell's top level are left out, so they neither
    run nor break the module. IPython magics are dropped, a cell that does not parse is left out,
    imports of the kit are dropped, and `from <sibling> import` becomes a relative import."""
    parts = []
    for cell in cells:
        text = "\n".join("" if _MAGIC.match(line) else line for line in cell.splitlines())
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting: left out
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in siblings:
                node.level = 1
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                roots = [a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import) \
                    else [(node.module or "").split(".")[0]]
                if getattr(node, "level", 0) == 0 and any(r in _KIT_PACKAGES for r in roots):
                    continue
                parts.append(ast.unparse(node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                parts.append(ast.get_source_segment(text, node, padded=True)
                             if not getattr(node, "decorator_list", None) else ast.unparse(node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
                    isinstance(n, ast.Call) for n in ast.walk(node)):
                parts.append(ast.unparse(node))
    return "\n\n".join(parts) + "\n"


def notebook_module(nb: dict, name: str, assignment: str | None = None) -> tuple[str, list[str]]:
    """(assignment, modules) that the notebook `nb` (file `name`) holds: from its dlgrade
    metadata, which must name a module of the course (else intake.Refused: nothing a submission
    names decides a path); else the assignment (`assignment`, or the one whose exercises it
    defines most) and the module named like the file, else every module of that assignment
    whose exercises it defines."""
    from dlgrade.checkers.registry import all_exercises

    meta = nb.get("metadata", {}).get(METADATA_KEY)
    if meta is not None:
        if not isinstance(meta, dict):
            raise intake.Refused(f"{intake.shown(name)}: its {METADATA_KEY} metadata is not an object: not graded")
        try:
            owner, module = intake.checked_module(meta.get("assignment"), meta.get("module"), intake.known_modules())
        except intake.Refused as e:
            raise intake.Refused(f"{intake.shown(name)}: its {METADATA_KEY} metadata {e}: not graded") from None
        return owner, [module]
    defined = {n.name for cell in cell_sources(nb) for n in _safe_body(cell) if isinstance(n, ast.FunctionDef)}
    exercises = list(all_exercises())
    if assignment is None:
        counts: dict[str, int] = {}
        for e in exercises:
            counts[e.assignment] = counts.get(e.assignment, 0) + (e.name in defined)
        assignment = max(counts, key=counts.get)
    own = [e for e in exercises if e.assignment == assignment]
    stem = PurePosixPath(name).stem
    if stem in {e.module for e in own}:
        return assignment, [stem]
    return assignment, sorted({e.module for e in own if e.name in defined}) or sorted({e.module for e in own})


def _safe_body(cell: str) -> list[ast.stmt]:
    try:
        return ast.parse("\n".join("" if _MAGIC.match(line) else line for line in cell.splitlines())).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting: no code
        return []


def notebook_modules(notebooks: list[tuple[str, bytes]], known: dict[str, frozenset[str]],
                     assignment: str | None = None) -> dict[str, bytes]:
    """The modules that notebooks (their path in the submission, their bytes) hold, for the
    assignments of `known`, by relative path (`<assignment>/<module>.py`), ready for
    intake.write_modules; notebooks of the same module are joined, in path order. Raises
    intake.Refused for a file that is not a notebook or whose metadata names what the course lacks."""
    from dlgrade.checkers.registry import all_exercises

    chunks: dict[tuple[str, str], list[str]] = {}
    for name, data in sorted(notebooks):
        nb = parse_notebook(data, name)
        owner, modules = notebook_module(nb, name, assignment)
        if owner not in known:
            continue  # a notebook of another assignment than those graded
        siblings = {e.module for e in all_exercises() if e.assignment == owner}
        source = module_source(cell_sources(nb), siblings)
        for module in modules:
            chunks.setdefault((owner, module), []).append(source)
    # surrogatepass: a lone surrogate planted in the JSON stays invalid UTF-8, so importing the
    # module is the student's own module error rather than the grader's encoding error.
    return {f"{owner}/{module}.py": "\n\n".join(sources).encode("utf-8", "surrogatepass")
            for (owner, module), sources in chunks.items()}


def notebooks_to_layout(notebooks: list[Path], dest: Path | str, assignment: str | None = None) -> Path:
    """Write notebook files as a submission in the release layout under the fresh folder `dest`
    (`dest/<assignment>/<module>.py`, see notebook_modules); each notebook is read where it is
    (a link leaving its folder refuses it). Returns `dest`; raises intake.Refused."""
    files = [(Path(nb).name, intake.SubmissionTree(Path(nb).parent).read(Path(nb).name, intake.MAX_NOTEBOOK_BYTES))
             for nb in notebooks]
    known = intake.known_modules()
    return intake.write_modules(notebook_modules(files, known, assignment), dest, known)
