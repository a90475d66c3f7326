"""`dlgrade check --watch`: the checker stays loaded (torch, the references, hypothesis imported
once) and, on every save, re-checks the exercises that the changed modules can affect.

Which exercises a change affects: those whose module changed, whose functions it needs (a
backward needs its forward) live in a changed module, or whose module imports a changed module
of its assignment (`from .layers import affine_forward`), directly or through another. An
exercise whose last verdict was not a plain check (a function missing, a stub, a module that did
not import) or that was found in another module than the contract's is re-checked on any change
to its assignment, since the search for its function reaches every module of it.

A round never grades code from an earlier import: each round opens the submission afresh. A
sandboxed round copies the modules as they are now into a new worker (see
grader.boundary.sandbox); an in-process round imports a fresh copy of them under a new package
name, so neither a module imported earlier nor a bytecode cache written beside the student's
files can stand in for what was saved.

What a sandboxed round need not wait for is done while the student edits: after each round its
sandbox is closed and the next rounds' are started (STANDBYS of them), their workers booting
(Python, numpy, their confinement) with nothing of the student's in them
(grader.boundary.sandbox.StandbySubmission). The save that starts a round copies the modules, as
they are then, into the oldest; one that has not booted yet is waited for, as a fresh sandbox
would be.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from dlgrade.checkers.exercise import Exercise, ExerciseResult

#: The most bytes of a module read to find what it imports; a larger one counts as importing
#: every module of its assignment.
MAX_SOURCE_BYTES = 4 << 20
#: Sandboxes kept started between rounds of `check --watch`: a round takes the oldest, so a save
#: made right after a verdict finds one that has had a whole round to boot.
STANDBYS = 2

#: check(names) -> the verdicts of those exercises on the submission as it is now.
Check = Callable[[list[str]], list["ExerciseResult"]]
#: show(verdicts of this round, modules that changed (None on the first round), every latest verdict).
Show = Callable[[list["ExerciseResult"], "set[tuple[str, str]] | None", list["ExerciseResult"]], None]


def file_changes(path: Path, stop_event=None) -> Iterator[set[Path]]:
    """The sets of Python files under `path` that changed, one set per burst of saves, until
    `stop_event` (a threading.Event) is set or the iteration is closed. Watching starts when
    this is called, not when the iteration first asks, so that a save made during the first
    check is seen."""
    import queue
    import threading

    import watchfiles

    stop = stop_event or threading.Event()
    found: queue.Queue = queue.Queue()

    def watcher() -> None:
        try:
            for changes in watchfiles.watch(path, watch_filter=watchfiles.PythonFilter(), stop_event=stop,
                                            raise_interrupt=False):
                found.put({Path(changed) for _, changed in changes})
        finally:
            found.put(None)

    threading.Thread(target=watcher, name="dlgrade-watch", daemon=True).start()

    def changes() -> Iterator[set[Path]]:
        try:
            while (batch := found.get()) is not None:
                yield batch
        finally:  # Ctrl-C in the wait, or the loop is done: the watcher stops too
            stop.set()

    return changes()


def changed_modules(paths: Iterable[Path], root: Path) -> set[tuple[str, str]]:
    """(assignment, module) for each path that is a module of the release layout under `root`
    (root/<assignment>/<module>.py), and every module of an assignment whose folder itself
    changed (moved or deleted)."""
    from dlgrade.checkers.registry import contract_modules

    roots = {root.absolute(), root.resolve()}
    found = set()
    for path in paths:
        # As named (a module that is a link stays the submission's), else with links resolved
        # (a watcher may report real paths).
        parts = next((p.relative_to(r).parts for p in (Path(path).absolute(), Path(path).resolve()) for r in roots
                      if p.is_relative_to(r)), None)
        if parts is None:
            continue
        if len(parts) == 2 and parts[1].endswith(".py"):
            found.add((parts[0], parts[1][:-3]))
        elif len(parts) == 1:
            found |= {(parts[0], module) for module in contract_modules(parts[0])}
    return found


#: Names through which a module can load another's code without an import statement.
DYNAMIC_LOADING = frozenset({"__import__", "import_module", "importlib", "runpy", "exec", "eval", "compile", "open",
                             "read_text", "read_bytes", "__file__", "__spec__", "__loader__", "spec_from_file_location"})


def sibling_imports(source_file: Path, siblings: set[str]) -> set[str]:
    """The modules of `siblings` that the module in `source_file` imports (relatively, or by
    their plain name). A file that cannot be read or parsed, or that can load code by other
    means (importlib, exec of a file's text: DYNAMIC_LOADING), counts as importing them all."""
    try:
        if source_file.stat().st_size > MAX_SOURCE_BYTES:
            return set(siblings)
        tree = ast.parse(source_file.read_bytes())
    except FileNotFoundError:
        return set()
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return set(siblings)
    found = set()
    for node in ast.walk(tree):
        if (getattr(node, "id", None) or getattr(node, "attr", None)) in DYNAMIC_LOADING:
            return set(siblings)  # it can reach any file of its folder without an import statement
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.module:
                found.add(node.module.split(".")[0])
            if node.level and not node.module:  # from . import layers
                found |= {a.name for a in node.names}
    return found & siblings


def affected(exercise: Exercise, changed: set[tuple[str, str]], root: Path, last: ExerciseResult | None) -> bool:
    """Whether a change to the modules `changed` can change the verdict on `exercise` (see the
    module's docstring). last: its latest verdict (None: never checked)."""
    from dlgrade.checkers.registry import contract_module, contract_modules

    touched = {module for assignment, module in changed if assignment == exercise.assignment}
    if not touched:
        return False
    if last is None or last.status != "checked" or last.note:
        return True
    folder = root / exercise.assignment
    siblings = set(contract_modules(exercise.assignment)) | {p.stem for p in folder.glob("*.py")}
    reached = set()
    todo = {exercise.module} | {contract_module(exercise.assignment, name) or exercise.module for name in exercise.needs}
    while todo:
        module = todo.pop()
        reached.add(module)
        todo |= sibling_imports(folder / f"{module}.py", siblings) - reached
    return bool(reached & touched)


def watch(names: list[str], check: Check, show: Show, root: Path, changes: Iterable[set[Path]],
          between: Callable[[], None] | None = None) -> list[ExerciseResult]:
    """Check the exercises `names` (exercises or assignments; none: all), then, for each set of
    changed files `changes` yields, re-check those the change affects. `between()` is called
    after each round's verdicts are shown, before the wait for the next change (see
    FreshChecks.between).
    Returns the latest verdict of every exercise when `changes` ends. Raises KeyError for
    unknown names."""
    from dlgrade.checkers.registry import select

    exercises = select(names)
    latest = {r.name: r for r in check([e.name for e in exercises])}
    show(list(latest.values()), None, list(latest.values()))
    if between is not None:
        between()
    for paths in changes:
        changed = changed_modules(paths, root)
        due = [e.name for e in exercises if affected(e, changed, root, latest.get(e.name))]
        if not due:
            continue
        fresh = check(due)
        latest.update((r.name, r) for r in fresh)
        show(fresh, changed, [latest[e.name] for e in exercises if e.name in latest])
        if between is not None:
            between()
    return [latest[e.name] for e in exercises if e.name in latest]


def fresh_checks(path: Path, sandbox: bool, **options) -> "FreshChecks":
    """A `Check` that runs `run_checks` on the submission in `path` as it is at each call (the
    options are run_checks's); see FreshChecks."""
    return FreshChecks(path, sandbox, **options)


class FreshChecks:
    """Checks of the submission in `path` as it is at each call (a `Check`), with what need not
    wait for a save done between rounds (`between`).

    Sandboxed, each round gets a new sandbox: the oldest of the STANDBYS started after earlier
    rounds (its worker booted and confined, nothing of the student's in it, see
    grader.boundary.sandbox.StandbySubmission), given the modules as they are when the round
    starts; the first round, or one without a standby, opens one as `run_checks` does.
    In-process, the modules are first copied into a new folder, so that no bytecode cache beside
    them (written in the same second as a save of the same size) is imported in place of the
    saved source. `close` (or leaving its `with`) stops the standbys left waiting."""

    def __init__(self, path: Path, sandbox: bool, **options):
        self.path, self.sandbox = Path(path), sandbox
        self.replay_path = options.pop("replay_path", None) or self.path
        self.options = options
        self._standbys: list = []  # the next rounds' sandboxes, booting or ready, oldest first
        self._used = None  # the last round's sandbox, closed between rounds
        self._assignment: str | None = None  # the assignment the last round checked first

    def __call__(self, names: list[str]) -> list[ExerciseResult]:
        from dlgrade.checkers.registry import select
        from dlgrade.grader.grading.session import check_opened

        self._close_used()
        self._assignment = next((e.assignment for e in select(names)), None)
        if not self.sandbox:
            from dlgrade.grader.boundary import intake
            from dlgrade.grader.boundary.submission import InProcessSubmission

            with tempfile.TemporaryDirectory(prefix="dlgrade-watch-") as tmp:
                snapshot = intake.copy_modules(self.path, Path(tmp, "submission"))
                with InProcessSubmission(snapshot) as submission:
                    return check_opened(names, submission, self.replay_path, **self.options)[1]
        submission = self._open_sandbox()
        try:
            results = check_opened(names, submission, self.replay_path, **self.options)[1]
        except BaseException:
            submission.close()
            raise
        self._used = submission  # closed after the verdicts are shown
        return results

    def between(self) -> None:
        """While waiting for the next save: close the last round's sandbox, and start standbys
        for the assignment the round checked first, up to STANDBYS (sandboxed only)."""
        self._close_used()
        if not self.sandbox or self._assignment is None:
            return
        from dlgrade.grader.boundary.sandbox import StandbySubmission

        for standby in [s for s in self._standbys if s.assignment != self._assignment]:
            self._standbys.remove(standby)
            standby.close()
        while len(self._standbys) < STANDBYS:
            self._standbys.append(StandbySubmission(self._assignment))

    def close(self) -> None:
        """Stop and remove the sandboxes still held (the standbys, the last round's)."""
        self._close_used()
        while self._standbys:
            self._standbys.pop().close()

    def __enter__(self) -> "FreshChecks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open_sandbox(self):
        """The oldest standby given the submission as it is now, or else a new sandbox on it."""
        from dlgrade.grader.boundary.sandbox import SandboxedSubmission

        if not self._standbys:
            return SandboxedSubmission(self.path)
        standby = self._standbys.pop(0)
        try:
            return standby.stage(self.path)
        except BaseException:
            standby.close()
            raise

    def _close_used(self) -> None:
        used, self._used = self._used, None
        if used is not None:
            used.close()
