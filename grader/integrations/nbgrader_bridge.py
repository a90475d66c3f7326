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
history, writes it as a module, and checks it at the grading profile in a fresh process, whose
sandboxed worker runs the student code. The first test cell of a notebook checks, in that one
process, what every test cell of the notebook will ask for (see `points_earned`), so an autograde
imports the checker once per notebook, not once per cell. Its output is captured, so nothing reaches
the cell's stderr (nbgrader gives 0 to a cell that writes to stderr).

Checked ahead: the course's `nbgrader_config.py` (as `generate` writes it) makes `autograde_hook`
nbgrader's pre-convert hook of autograde. It runs in nbgrader's own process before the kernels of
a submission start, and checks there what every test cell of the submission's notebooks will ask
for, on the code each cell will have run as the notebook files say, with the checker (and torch)
loaded once for the whole autograde and the reference's evaluations shared by its submissions, as
`dlgrade grade` does. A test cell uses such a verdict only when the code it has run, the sibling
notebooks beside it and the seed are exactly those it was checked on; otherwise it checks what it
has run, as above. Either way student code runs in the sandboxed worker only. The kernel itself is not a
sandbox: a notebook can tamper with the test cells' code in it. Grades you must defend come from
`dlgrade grade submitted/`, which checks the same notebooks without running them in a kernel.
"""

from __future__ import annotations

import ast
import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dlgrade.grader.grading.notebooks import METADATA_KEY, code_cells, module_source

#: This module's import name, as the generated test cells and nbgrader's config name it.
_BRIDGE = "dlgrade.grader.integrations.nbgrader_bridge"


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
                    f"from {_BRIDGE} import points_earned\n"
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
                          "c.Execute.timeout = 600\n"
                          # Each submission checked ahead, in nbgrader's process (see the module's doc).
                          f"c.Autograde.pre_convert_hook = {_BRIDGE + '.autograde_hook'!r}\n"
                          f"c.Autograde.post_convert_hook = {_BRIDGE + '.autograde_done_hook'!r}\n")
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
        lines = [f"from {_BRIDGE} import import_sibling_notebooks",
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


#: Verdicts by exercise and the module source its test cell ran after (of the notebook being
#: autograded).
_checked: dict[tuple[str, str], dict] = {}
#: CPU seconds each exercise may spend in student code (as `dlgrade check`'s default).
EXERCISE_TIMEOUT = 10.0
#: The largest module source on which the verdicts of earlier test cells are shared.
MAX_SHARED_SOURCE = 1 << 20
#: Names through which code can reach definitions it does not name: an exercise whose code uses
#: one is checked on exactly the code before its test cell, never on a longer one.
_INTROSPECTION = frozenset({"globals", "vars", "dir", "locals", "eval", "exec", "compile", "__import__", "getattr",
                            "hasattr", "setattr", "delattr", "sys", "inspect", "importlib", "__dict__", "__module__",
                            "__file__", "__name__", "__builtins__"})


def points_earned(exercise: str) -> float:
    """The points `exercise` earns, for an nbgrader test cell: the code of the cells run so far
    in this kernel (its input history) is checked, at the grading profile in a fresh process
    whose sandboxed worker runs it; sibling modules come from the notebooks beside it. Prints
    nothing to stderr; raises RuntimeError when the checker itself fails (nbgrader then shows
    the traceback and gives 0).

    Where `autograde_hook` checked this very code ahead (the same code before the cell, the
    same sibling notebooks, the same seed), its verdict is the cell's, and this kernel imports
    no checker. Else the module is checked once per autograde, not once per test cell: the
    first test cell reads the notebook being run (`<module>.ipynb` in the current folder, as
    nbgrader runs it) and checks, in one process, each test cell's exercise on the code of the
    cells before that cell, which is what that cell would have checked (see `_shared_runs` for
    when the code of a later cell stands in for it). A later cell uses that verdict when the
    code it has run is the code planned for it; otherwise (a notebook run out of order, or not
    from this file) it checks what it has run, as before."""
    verdict = _verdict_checked_ahead(exercise)
    if verdict is None:
        verdict = _verdict_checked_here(exercise)
    if not verdict["passed"]:
        from dlgrade.grader.outputs.report import failure_lines

        print(f"{exercise}: {verdict['points']:g}/{verdict['max_points']:g}")
        print("\n".join(failure_lines(verdict)))
    return round(min(float(verdict["points"]), float(verdict["max_points"])), 4)


def _verdict_checked_here(exercise: str) -> dict:
    """The verdict on `exercise` from a checker process this kernel starts (see points_earned)."""
    from dlgrade.checkers.registry import all_exercises

    chosen = next(e for e in all_exercises() if e.name == exercise)
    siblings = {e.module for e in all_exercises() if e.assignment == chosen.assignment}
    ran = [c for c in _history() if not _is_test_cell(c)]
    source = module_source(ran, siblings)
    if (source, exercise) not in _checked:
        planned = _planned_checks(chosen, siblings)
        if (exercise, source) not in {(name, module_source(cells, siblings)) for name, cells in planned}:
            # The notebook on disk is not what ran: check what ran, every exercise of the module.
            planned = [(e.name, ran) for e in all_exercises()
                       if e.assignment == chosen.assignment and e.module == chosen.module]
        runs = _shared_runs(planned, siblings)
        verdicts = _run_checker(chosen.assignment, chosen.module, siblings,
                                {run: [name for name, _ in cells] for run, cells in runs.items()})
        _checked.clear()
        _checked.update(((cell_source, name), verdicts[run][name])
                        for run, cells in runs.items() for name, cell_source in cells if name in verdicts[run])
    verdict = _checked.get((source, exercise))
    if verdict is None:
        raise RuntimeError(f"dlgrade check gave no verdict on {exercise}")
    return verdict


# -- checked ahead, in nbgrader's process ----------------------------------------------------------

#: Names the file of the verdicts `autograde_hook` checked ahead for the submission being autograded
#: (set in nbgrader's environment, which the kernels it starts inherit).
AHEAD_ENV = "DLGRADE_NBGRADER_AHEAD"
#: The verdicts file read in this kernel: (its path, its contents).
_ahead: tuple[str, dict] | None = None
#: The folder `autograde_hook` wrote its verdicts in, removed by the next hook or at the end.
_ahead_folder: str | None = None


def _check_key(assignment: str, exercise: str, modules: dict[str, str], seed: str | None) -> str:
    """What identifies a check: the exercise, the module sources of the submission it runs on
    (the exercise's own module and its siblings), and the seed."""
    text = json.dumps([assignment, exercise, sorted(modules.items()), seed])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _verdict_checked_ahead(exercise: str) -> dict | None:
    """The verdict `autograde_hook` found for `exercise` on exactly the code this kernel has run
    and the sibling notebooks beside it, with this kernel's seed; None when there is none."""
    global _ahead
    path = os.environ.get(AHEAD_ENV)
    if not path:
        return None
    if _ahead is None or _ahead[0] != path:
        try:
            _ahead = (path, json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None
    known = _ahead[1].get("exercises", {}).get(exercise)
    if not isinstance(known, dict):
        return None
    from dlgrade.grader.boundary.intake import Refused

    siblings = set(known["siblings"])
    ran = [c for c in _history() if not _is_test_cell(c)]
    try:
        modules = {**_sibling_sources(known["module"], siblings), known["module"]: module_source(ran, siblings)}
    except (OSError, Refused):
        return None
    key = _check_key(known["assignment"], exercise, modules, os.environ.get("DLGRADE_COURSE_SEED"))
    return _ahead[1].get("verdicts", {}).get(key)


def autograde_hook(notebooks=(), **_) -> None:
    """nbgrader's pre-convert hook of autograde (`c.Autograde.pre_convert_hook`): before the kernels
    of a submission start, check what each test cell of its `notebooks` (nbgrader's list, in the
    order it runs them) will ask for, and name the verdicts' file in AHEAD_ENV for those kernels.
    A failure here costs only time: each test cell then checks what it has run."""
    autograde_done_hook()
    try:
        verdicts = check_ahead([Path(n) for n in notebooks], os.environ.get("DLGRADE_COURSE_SEED"))
    except Exception as e:  # noqa: BLE001 - never stop an autograde: the kernels check for themselves
        print(f"dlgrade: the submission was not checked ahead ({type(e).__name__}: {e}); "
              "each notebook checks itself", file=sys.stderr)
        return
    global _ahead_folder
    _ahead_folder = tempfile.mkdtemp(prefix="dlgrade-nbgrader-")
    atexit.unregister(autograde_done_hook)
    atexit.register(autograde_done_hook)  # should nbgrader stop before its post-convert hook
    path = Path(_ahead_folder, "verdicts.json")
    path.write_text(json.dumps(verdicts), encoding="utf-8")
    os.environ[AHEAD_ENV] = str(path)


def autograde_done_hook(**_) -> None:
    """nbgrader's post-convert hook of autograde: the verdicts checked ahead are forgotten."""
    global _ahead_folder
    os.environ.pop(AHEAD_ENV, None)
    if _ahead_folder is not None:
        shutil.rmtree(_ahead_folder, ignore_errors=True)
        _ahead_folder = None


def check_ahead(notebooks: list[Path], seed: str | None) -> dict:
    """Check, in this process (the checker loaded once for every submission it is given), what the
    test cells of `notebooks` will ask for when nbgrader runs them in this order: each notebook
    planned as its first test cell plans it (`_plan`, `_shared_runs`), beside the notebooks run
    before it (those are the siblings its kernel will find). Returns {"exercises": {exercise:
    where its test cells look up verdicts}, "verdicts": {key of a check: verdict as JSON}}."""
    from dlgrade.checkers.registry import all_exercises
    from dlgrade.grader.boundary.intake import MAX_NOTEBOOK_BYTES, Refused, SubmissionTree
    from dlgrade.grader.grading.notebooks import cell_sources, notebook_module, parse_notebook

    exercises = list(all_exercises())
    checked_seed = _seed_number(seed)
    ran_before: dict[str, str] = {}
    found: dict[str, dict] = {}
    runs: dict[str, tuple[str, dict[str, str], list[str]]] = {}  # key of the folder: (assignment, folder, names)
    wanted: list[tuple[str, str, str]] = []  # (key of a check, key of the folder that answers it, exercise)
    for notebook in notebooks:
        try:
            # Read as `dlgrade grade` reads it: bounded, and never through a link out of its folder.
            nb = parse_notebook(SubmissionTree(notebook.parent).read(notebook.name, MAX_NOTEBOOK_BYTES), notebook.name)
            assignment, modules = notebook_module(nb, notebook.name)
        except (OSError, Refused):
            continue
        module = notebook.stem
        siblings = {e.module for e in exercises if e.assignment == assignment}
        if modules != [module]:  # its test cells read `<module>.ipynb`: a notebook named otherwise is not theirs
            continue
        cells = cell_sources(nb)
        own = {e.name for e in exercises if e.assignment == assignment and e.module == module}
        given = {m: text for m, text in ran_before.items() if m in siblings and m != module}
        for run, shares in _shared_runs(_plan(cells, own), siblings).items():
            folder = {**given, module: run}
            folder_key = _check_key(assignment, "", folder, seed)
            runs.setdefault(folder_key, (assignment, folder, []))[2].extend(name for name, _ in shares)
            for name, cell_source in shares:
                wanted.append((_check_key(assignment, name, {**given, module: cell_source}, seed), folder_key, name))
                found[name] = {"assignment": assignment, "module": module, "siblings": sorted(siblings)}
        if module in siblings:
            ran_before[module] = module_source(cells, siblings)
    verdicts = _check_folders(runs, checked_seed)
    return {"exercises": found,
            "verdicts": {key: verdicts[folder_key][name] for key, folder_key, name in wanted
                         if name in verdicts.get(folder_key, {})}}


def _seed_number(seed: str | None) -> int | None:
    """The seed a test cell's checker process reads from DLGRADE_COURSE_SEED (see `_main`)."""
    if seed is None:
        return None
    if not seed.strip().isdigit():
        raise ValueError("DLGRADE_COURSE_SEED: expected one non-negative integer")
    return int(seed.strip())


def _check_folders(runs: dict[str, tuple[str, dict[str, str], list[str]]], seed: int | None) -> dict[str, dict]:
    """Check each submission of `runs` ({key: (assignment, {module: source}, exercise names)}) at the
    grading profile, sandboxed, in this process: {key: {exercise: verdict as JSON}}."""
    from dlgrade.grader.grading.session import exercise_json, run_checks
    from dlgrade.grader.outputs.escape import json_ready

    _one_thread()
    found = {}
    with tempfile.TemporaryDirectory(prefix="dlgrade-nb-") as tmp:
        for i, (key, (assignment, folder, names)) in enumerate(runs.items()):
            root = Path(tmp, f"submission{i}")
            (root / assignment).mkdir(parents=True)
            try:
                for module, text in folder.items():
                    (root / assignment / f"{module}.py").write_text(text)
            except UnicodeEncodeError:  # as in `_run_checker`: the test cells that ask say so themselves
                continue
            _, results = run_checks(names, root, "grading", seed, sandbox=True, exercise_timeout=EXERCISE_TIMEOUT)
            found[key] = {r.name: json_ready(exercise_json(r)) for r in results}
    return found


def _one_thread() -> None:
    """torch keeps to one thread in a checker process, as in `dlgrade grade`'s pool: a check is one
    job among others on the machine's cores (nbgrader's kernel, its worker)."""
    import torch

    torch.set_num_threads(1)


def _is_test_cell(source: str) -> bool:
    return "points_earned(" in source


def _tested_exercise(source: str) -> str | None:
    """The exercise a test cell grades (the string given to points_earned), if it says plainly."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "points_earned" and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            return node.args[0].value
    return None


def _planned_checks(chosen, siblings: set[str]) -> list[tuple[str, list[str]]]:
    """(exercise, the code cells before its test cell) for the first test cell of each of the
    module's exercises in the notebook being run. Empty when the notebook is not here, or cannot
    be read. (What the file says decides only what is checked ahead: a verdict is used only by a
    cell whose own code is the one planned.)"""
    from dlgrade.checkers.registry import all_exercises
    from dlgrade.grader.boundary.intake import Refused

    module_exercises = {e.name for e in all_exercises() if e.assignment == chosen.assignment
                        and e.module == chosen.module}
    try:
        cells = code_cells(f"{chosen.module}.ipynb")
    except (OSError, Refused):
        return []
    return _plan(cells, module_exercises)


def _plan(cells: list[str], module_exercises: set[str]) -> list[tuple[str, list[str]]]:
    """(exercise, the code cells before its test cell) for the first test cell of each exercise
    of `module_exercises` among a notebook's code `cells`."""
    module_exercises = set(module_exercises)
    planned, before = [], []
    for cell in cells:
        if not _is_test_cell(cell):
            before.append(cell)
            continue
        tested = _tested_exercise(cell)
        if tested in module_exercises:
            module_exercises.discard(tested)
            planned.append((tested, list(before)))
    return planned


def _shared_runs(planned: list[tuple[str, list[str]]], siblings: set[str]) -> dict[str, list[tuple[str, str]]]:
    """{module source to check: [(exercise, the source its test cell ran after)]}: the planned
    checks, each exercise on the code before its test cell or, where that cannot change its
    verdict, on the code before the last test cell, so that one worker checks most of them.

    The longer code stands in only when what the cells in between add is plain new functions
    (no decorator, no annotation, constant defaults, no import anywhere in them) whose names the
    code before the exercise's test cell never mentions (as a name, an attribute or a string),
    and that code uses none of Python's ways of reaching a definition it does not name
    (globals(), getattr, sys.modules...): importing the longer module then runs exactly the
    shorter one's statements and defines functions that nothing of the exercise can reach."""
    from dlgrade.checkers.registry import all_exercises

    needs = {e.name: {e.name, *e.needs} for e in all_exercises()}
    last = max(planned, key=lambda p: len(p[1]), default=None)
    runs: dict[str, list[tuple[str, str]]] = {}
    for name, cells in planned:
        source = module_source(cells, siblings)
        run = source
        if last is not None and last[1][:len(cells)] == cells:
            longer = module_source(last[1], siblings)
            if len(longer) <= MAX_SHARED_SOURCE and _adds_nothing_reachable(
                    source, module_source(last[1][len(cells):], siblings), needs.get(name, {name})):
                run = longer
        runs.setdefault(run, []).append((name, source))
    return runs


def _adds_nothing_reachable(before: str, added: str, names: set[str]) -> bool:
    """Whether the module `before` followed by `added` behaves, for the functions `names`, as
    `before` alone (see `_shared_runs`)."""
    try:
        before_tree, added_tree = ast.parse(before), ast.parse(added)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    used = set(names)
    for node in ast.walk(before_tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            used.add(node.name)
        elif isinstance(node, ast.arg):
            used.add(node.arg)
        elif isinstance(node, ast.alias):
            used |= {node.name.split(".")[0], node.asname or ""}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.add(node.value)
    if used & _INTROSPECTION:
        return False
    for node in added_tree.body:
        # A dunder (a module-level __getattr__ or __dir__) is how Python itself finds names that
        # are not defined: it can supply any function, so it changes what the module holds.
        if not isinstance(node, ast.FunctionDef) or node.decorator_list or node.returns or node.name in used \
                or node.name.startswith("__"):
            return False
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        if any(a is not None and a.annotation is not None for a in every):
            return False
        if not all(isinstance(d, ast.Constant) for d in [*arguments.defaults, *arguments.kw_defaults] if d is not None):
            return False
        # An import anywhere in a module is judged for the whole module (a forbidden package).
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) or getattr(n, "id", None) == "__import__"
               or getattr(n, "attr", None) == "import_module" for n in ast.walk(node)):
            return False
    return True


def _run_checker(assignment: str, module: str, siblings: set[str], plan: dict[str, list[str]]) -> dict[str, dict]:
    """Check, in one fresh process (`python -m dlgrade.grader.integrations.nbgrader_bridge`),
    each module source of `plan` with its exercises: {source: {exercise: verdict as JSON}}."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-nb-") as tmp:
        given = _sibling_sources(module, siblings)
        runs = []
        for i, (source, names) in enumerate(plan.items()):
            folder = Path(tmp, f"submission{i}", assignment)
            folder.mkdir(parents=True)
            for other, text in given.items():
                (folder / f"{other}.py").write_text(text)
            (folder / f"{module}.py").write_text(source)
            runs.append({"path": str(folder.parent), "names": names, "json": str(Path(tmp, f"verdicts{i}.json"))})
        plan_file = Path(tmp, "plan.json")
        plan_file.write_text(json.dumps(runs))
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
            run = subprocess.run([sys.executable, "-m", _BRIDGE, str(plan_file),
                                  *seed_args], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env,
                                 pass_fds=() if seed_read is None else (seed_read,))
        finally:
            if seed_read is not None:
                os.close(seed_read)
        found = {}
        for source, entry in zip(plan, runs):
            report = Path(entry["json"])
            if not report.is_file():
                raise RuntimeError(f"dlgrade check failed (exit {run.returncode}): {run.stderr[-2000:]}")
            found[source] = {e["name"]: e for e in json.loads(report.read_text())["exercises"]}
    return found


def _sibling_sources(module: str, siblings: set[str]) -> dict[str, str]:
    """The modules that the notebooks of the other modules of the assignment beside this one hold
    (in the current folder: those nbgrader has autograded so far), by module."""
    return {m: module_source(code_cells(f"{m}.ipynb"), siblings)
            for m in sorted(siblings - {module}) if Path(f"{m}.ipynb").is_file()}


def check_plan(plan_file: Path, seed: int | None) -> None:
    """What the process `_run_checker` starts does: for each entry of the plan (a submission
    folder, exercise names, a JSON file), check them at the grading profile, sandboxed, and
    write their verdicts as `dlgrade check --json` does. The checker is imported once for all."""
    from dlgrade.grader.grading.session import run_checks
    from dlgrade.grader.outputs.report import write_json

    _one_thread()
    for entry in json.loads(Path(plan_file).read_text()):
        profile, results = run_checks(list(entry["names"]), Path(entry["path"]), "grading", seed, sandbox=True,
                                      exercise_timeout=EXERCISE_TIMEOUT)
        write_json(results, profile, Path(entry["json"]))


def _history() -> list[str]:
    """The sources of the cells run so far in this IPython kernel (empty outside one)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    return list(shell.user_ns.get("In", [])) if shell is not None else []


def _main(argv: list[str]) -> int:
    """python -m dlgrade.grader.integrations.nbgrader_bridge PLAN.json [--seed-file FILE]"""
    from dlgrade.grader.boundary.intake import Refused

    seed = None
    if argv[1:2] == ["--seed-file"] and len(argv) == 3:
        text = Path(argv[2]).read_text().strip()
        if not text.isdigit():
            print("--seed-file: expected one non-negative integer", file=sys.stderr)
            return 2
        seed = int(text)
    elif len(argv) != 1:
        print(_main.__doc__, file=sys.stderr)
        return 2
    try:
        check_plan(Path(argv[0]), seed)
    except Refused as e:
        print(f"dlgrade: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
