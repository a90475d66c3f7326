"""nbgrader: an assignment as an nbgrader course source, and student notebooks as submissions.

- `generate` writes `OUT/source/<assignment>/<module>.ipynb`, one notebook per module: a locked
  setup cell (the module's imports), then per exercise its function in a solution cell (fenced
  by `### BEGIN SOLUTION` / `### END SOLUTION`, which nbgrader's generate_assignment strips) and
  a locked autograder test cell worth the exercise's points, whose last expression is the points
  earned. nbgrader reads that value as partial credit.
- student notebooks are read as submissions by grader.grading.notebooks (`module_source` pulls a
  student's functions out of a notebook's code cells, `notebooks_to_layout` writes notebooks as
  the release layout), so `dlgrade check --path NOTEBOOK.ipynb` and `dlgrade grade` on nbgrader's
  `submitted/` folder check notebooks exactly as they check modules.

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
import subprocess
import sys
import tempfile
from pathlib import Path

from dlgrade.grader.grading.notebooks import METADATA_KEY, code_cells, module_source


# -- generating the course source ------------------------------------------------------------------

def generate(assignment: str, out: Path | str, only_modules: list[str] | None = None) -> list[Path]:
    """Write the nbgrader course source of `assignment` under `out` (`source/<assignment>/` plus a
    `nbgrader_config.py`): every module's notebook, or those of `only_modules`. Returns the
    notebooks written."""
    import nbformat

    from dlgrade.assignments import course_dir
    from dlgrade.checkers.registry import all_exercises, read_manifest

    out = Path(out)
    src = course_dir() / assignment
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
