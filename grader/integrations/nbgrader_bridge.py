"""nbgrader: an assignment as an nbgrader course source, and student notebooks as submissions.

- `generate` writes `OUT/source/<assignment>/<module>.ipynb`, one notebook per module: a locked
  setup cell (the module's imports), then per exercise its function in a solution cell (fenced
  by `### BEGIN SOLUTION` / `### END SOLUTION`, which nbgrader's generate_assignment strips) and
  a locked autograder test cell worth the exercise's points, whose last expression is the points
  earned. nbgrader reads that value as partial credit.
- `module_source` pulls a student's functions out of a notebook's code cells, and
  `notebooks_to_layout` writes notebooks as the release layout (`<assignment>/<module>.py`), so
  `dlgrade check --path NOTEBOOK.ipynb` and `dlgrade grade` on nbgrader's `submitted/` folder
  check notebooks exactly as they check modules.

How a test cell grades: the notebook's code has already run in nbgrader's kernel, unconfined (that
is nbgrader's model). The test cell takes the code of the notebook's cells from the kernel's input
history, writes it as a module, and runs `dlgrade check` at the grading profile in a fresh
process, whose sandboxed worker runs the student code. Its output is captured, so nothing reaches
the cell's stderr (nbgrader gives 0 to a cell that writes to stderr). The kernel itself is not a
sandbox: a notebook can tamper with the test cells' code in it. Grades you must defend come from
`dlgrade grade submitted/`, which checks the same notebooks without running them in a kernel.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

from dlgrade.grader.boundary import intake

#: Notebook metadata key that names the assignment and module a generated notebook holds.
METADATA_KEY = "dlgrade"
#: Packages whose imports are dropped from extracted code (the kit itself, never part of a submission;
#: and the names its packages had before they were one, in notebooks generated then).
_KIT_PACKAGES = {"dlgrade", "grader", "checkers", "reference", "assignments"}
_MAGIC = re.compile(r"^\s*[%!]")


# -- generating the course source ------------------------------------------------------------------

def generate(assignment: str, out: Path | str, only_modules: list[str] | None = None) -> list[Path]:
    """Write the nbgrader course source of `assignment` under `out` (`source/<assignment>/` plus a
    `nbgrader_config.py`): every module's notebook, or those of `only_modules`. Returns the
    notebooks written."""
    import nbformat

    from dlgrade.assignments import ASSIGNMENTS_DIR
    from dlgrade.checkers.registry import all_exercises, read_manifest

    out = Path(out)
    src = ASSIGNMENTS_DIR / assignment
    if not (src / "manifest.toml").is_file():
        raise KeyError(assignment)
    exercises = {e.name: e for e in all_exercises() if e.assignment == assignment}
    modules = sorted({e.module for e in exercises.values()})
    dest = out / "source" / assignment
    dest.mkdir(parents=True, exist_ok=True)
    title = read_manifest(assignment).get("title", assignment)
    written = []
    for module in modules:
        if only_modules and module not in only_modules:
            continue
        source = (src / f"{module}.py").read_text()
        tree = ast.parse(source)
        nb = nbformat.v4.new_notebook()
        nb.metadata[METADATA_KEY] = {"assignment": assignment, "module": module}
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        doc = ast.get_docstring(tree) or ""
        nb.cells.append(_locked(nbformat.v4.new_markdown_cell(f"# {title}: `{module}`\n\n{doc}"), f"{module}_intro"))
        nb.cells.append(_locked(nbformat.v4.new_code_cell(_setup_code(tree, source, modules)), f"{module}_setup"))
        lines = source.splitlines()
        for node, after in zip(tree.body, tree.body[1:] + [None]):
            if not isinstance(node, ast.FunctionDef):
                continue
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            # Up to the next statement, not the function's last one: `### END SOLUTION` is a comment.
            end = len(lines) if after is None else min([after.lineno] + [d.lineno for d in
                                                        getattr(after, "decorator_list", [])]) - 1
            code = "\n".join(lines[start - 1:end]).rstrip()
            cell = nbformat.v4.new_code_cell(code)
            if node.name in exercises:
                cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                             "grade_id": f"{node.name}", "schema_version": 3}
                nb.cells.append(cell)
                points = exercises[node.name].points
                test = nbformat.v4.new_code_cell(
                    f"# Autograder test of {node.name} ({points:g} points): the points it earns.\n"
                    f"from dlgrade.grader.integrations.nbgrader_bridge import points_earned\n"
                    f"points_earned({node.name!r})")
                test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                             "grade_id": f"test_{node.name}", "points": points,
                                             "schema_version": 3}
                nb.cells.append(test)
            else:  # a helper of the instructor's: given, locked
                nb.cells.append(_locked(cell, f"{module}_{node.name}"))
        path = dest / f"{module}.ipynb"
        nbformat.write(nb, path)
        written.append(path)
    config = out / "nbgrader_config.py"
    if not config.exists():
        config.write_text("c = get_config()  # noqa: F821\n"
                          f"c.CourseDirectory.root = {str(out.resolve())!r}\n"
                          # The checker runs a whole module's exercises in the first test cell.
                          "c.Execute.timeout = 600\n")
    return written


def _locked(cell, grade_id: str):
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": grade_id,
                                 "schema_version": 3}
    return cell


def _setup_code(tree: ast.Module, source: str, modules: list[str]) -> str:
    """The module's imports; a relative import of a sibling module becomes an import of the
    sibling notebook (`from layers import ...` loads layers.ipynb from the notebook's folder)."""
    lines, siblings = [], False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in modules:
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
            lines.append(f"from {node.module} import {names}")
            siblings = True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.append(ast.get_source_segment(source, node))
    if siblings:
        lines = ["from dlgrade.grader.integrations.nbgrader_bridge import import_sibling_notebooks",
                 "import_sibling_notebooks()  # lets `from layers import ...` load layers.ipynb from this folder",
                 *lines]
    return "\n".join(lines)


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


# -- inside nbgrader's kernel ----------------------------------------------------------------------

class _NotebookFinder:
    """Imports `name` from `name.ipynb` in the current folder (its functions, as module_source)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        import importlib.util

        notebook = Path.cwd() / f"{name}.ipynb"
        if path is not None or "." in name or not notebook.is_file():
            return None
        return importlib.util.spec_from_loader(name, _NotebookLoader(notebook))


class _NotebookLoader:
    def __init__(self, notebook: Path):
        self.notebook = notebook

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = str(self.notebook)
        exec(compile(module_source(code_cells(self.notebook)), str(self.notebook), "exec"), module.__dict__)


def import_sibling_notebooks() -> None:
    """Let `import layers` in a notebook load `layers.ipynb` from the notebook's folder."""
    if not any(isinstance(f, _NotebookFinder) for f in sys.meta_path):
        sys.meta_path.append(_NotebookFinder())


_checked: dict[str, dict] = {}


def points_earned(exercise: str) -> float:
    """The points `exercise` earns, for an nbgrader test cell: the code of the cells run so far
    in this kernel (its input history) is checked, with the module's other exercises, at the
    grading profile in a fresh process whose sandboxed worker runs it; sibling modules come from
    the notebooks beside it. Prints nothing to stderr; raises RuntimeError when the checker
    itself fails (nbgrader then shows the traceback and gives 0)."""
    from dlgrade.checkers.registry import all_exercises

    chosen = next(e for e in all_exercises() if e.name == exercise)
    cells = [c for c in _history() if "points_earned(" not in c]
    key = json.dumps([chosen.assignment, chosen.module, cells])
    if key not in _checked:
        _checked.clear()
        siblings = {e.module for e in all_exercises() if e.assignment == chosen.assignment}
        names = [e.name for e in all_exercises() if e.assignment == chosen.assignment and e.module == chosen.module]
        with tempfile.TemporaryDirectory(prefix="dlgrade-nb-") as tmp:
            folder = Path(tmp, "submission", chosen.assignment)
            folder.mkdir(parents=True)
            for module in siblings - {chosen.module}:
                if Path(f"{module}.ipynb").is_file():
                    (folder / f"{module}.py").write_text(module_source(code_cells(f"{module}.ipynb"), siblings))
            (folder / f"{chosen.module}.py").write_text(module_source(cells, siblings))
            report = Path(tmp, "verdicts.json")
            # The course seed goes through a pipe, never the command line or an inherited
            # environment (both readable by other processes of the machine).
            env = {k: v for k, v in os.environ.items() if k != "DLGRADE_COURSE_SEED"}
            seed, seed_read = os.environ.get("DLGRADE_COURSE_SEED"), None
            seed_args: list[str] = []
            if seed is not None:
                seed_read, seed_write = os.pipe()
                os.write(seed_write, seed.encode())
                os.close(seed_write)
                seed_args = ["--seed-file", f"/dev/fd/{seed_read}"]
            try:
                run = subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "check", "--path", str(folder.parent),
                                      "--profile", "grading", "--json", str(report), *seed_args, *names],
                                     capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env,
                                     pass_fds=() if seed_read is None else (seed_read,))
            finally:
                if seed_read is not None:
                    os.close(seed_read)
            if not report.is_file():
                raise RuntimeError(f"dlgrade check failed (exit {run.returncode}): {run.stderr[-2000:]}")
            _checked[key] = {e["name"]: e for e in json.loads(report.read_text())["exercises"]}
    verdict = _checked[key][exercise]
    if not verdict["passed"]:
        from dlgrade.grader.outputs.report import failure_lines

        print(f"{exercise}: {verdict['points']:g}/{verdict['max_points']:g}")
        print("\n".join(failure_lines(verdict)))
    return round(min(float(verdict["points"]), float(verdict["max_points"])), 4)


def _history() -> list[str]:
    """The sources of the cells run so far in this IPython kernel (empty outside one)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    return list(shell.user_ns.get("In", [])) if shell is not None else []
