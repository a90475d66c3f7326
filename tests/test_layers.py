"""The kit's layers, and its one import name.

Every module of the kit is read (ast; imports inside functions and under TYPE_CHECKING count
too), and each import is checked against LAYERS: a module imports its own layer or the layers
below it, never one above, and no import cycle exists. The modules are found through
pyproject.toml's package mapping (`dlgrade.grader` is the folder grader/, and so on), which is
checked to list every package of the checkout.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import copy_solutions

REPO = Path(__file__).resolve().parents[1]

#: The layers, lowest first: a module may import modules of its own layer and of those below.
#: A module belongs to the layer of the longest prefix that names it.
LAYERS = [
    ("course", ["dlgrade.assignments"]),  # the instructor's source and manifests: data
    ("call boundary", ["dlgrade.grader.boundary"]),  # what touches a submission; runs in the worker
    ("references", ["dlgrade.reference"]),  # the torch oracles
    ("engine", ["dlgrade.checkers"]),  # exercises, properties, strategies, runner, registry, specs
    ("grading", ["dlgrade.grader.grading"]),  # a check run, notebooks, batches, the gradebook
    ("outputs", ["dlgrade.grader.outputs"]),  # the console, JSON, export formats, the class report
    ("integrations", ["dlgrade.grader.integrations"]),  # nbgrader, pytest
    ("tools", ["dlgrade.grader.release", "dlgrade.grader.demo"]),
    ("command line", ["dlgrade.grader.cli", "dlgrade.grader"]),  # nothing imports it
]
#: Layers that import nothing of the kit outside themselves: the course is data, and the torch
#: references are oracles that stand on their own.
SELF_CONTAINED = ["course", "references"]
#: The names the kit's packages had before they were all under dlgrade.
OLD_NAMES = {"assignments", "checkers", "grader", "reference"}


def _setuptools() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]


def kit_modules() -> dict[str, Path]:
    """Every module of the kit by its dotted name: the .py files of each mapped package (the
    course's student modules, assignments/<name>/*.py, are package data)."""
    config = _setuptools()
    found = {}
    for package in config["packages"]:
        root = next(p for p in sorted(config["package-dir"], key=len, reverse=True)
                    if package == p or package.startswith(p + "."))
        folder = REPO / config["package-dir"][root] / package[len(root) + 1:].replace(".", "/")
        for path in folder.glob("*.py"):
            found[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return found


def imports_of(name: str, path: Path, modules: set[str]) -> list[tuple[str, int]]:
    """(kit module imported, line) for every import statement of the module `name`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in OLD_NAMES:
                found.append((target, node.lineno))  # an old name: reported by its own test
            elif target.startswith("dlgrade."):
                module = max((m for m in modules if target == m or target.startswith(m + ".")), key=len, default=target)
                found.append((module, node.lineno))
    return found


def layer_of(module: str) -> int:
    matches = [(len(prefix), i) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no layer of LAYERS"
    return max(matches)[1]


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[str, int]]]:
    modules = kit_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in sorted(modules.items())}


def test_every_package_of_the_checkout_is_mapped_and_listed():
    config = _setuptools()
    assert set(config["package-dir"]) == {f"dlgrade.{folder}" for folder in OLD_NAMES}
    on_disk = set()
    for root, folder in config["package-dir"].items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            on_disk.add(".".join([root, *relative.parts]))
    assert on_disk == set(config["packages"])
    assert not (REPO / "dlgrade").exists()  # it would shadow the mapping from the checkout's root


def test_the_kit_imports_itself_by_its_one_name_only(graph):
    old = [f"{name}:{line} imports {target}" for name, imports in graph.items() for target, line in imports
           if target.split(".")[0] in OLD_NAMES]
    assert not old, old


def test_every_import_goes_down_the_layers(graph):
    assert len(graph) > 50 and all(layer_of(m) is not None for m in graph)
    upward = [f"{name}:{line} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for name, imports in graph.items() for target, line in imports
              if target in graph and layer_of(target) > layer_of(name)]
    assert not upward, "\n".join(upward)
    unknown = [f"{name}:{line} imports {target}" for name, imports in graph.items() for target, line in imports
               if target not in graph and target.split(".")[0] not in OLD_NAMES]
    assert not unknown, unknown  # an import of a module the kit does not have


def test_the_course_and_the_references_import_nothing_else_of_the_kit(graph):
    own = [i for i, (name, _) in enumerate(LAYERS) if name in SELF_CONTAINED]
    outside = [f"{name}:{line} imports {target}" for name, imports in graph.items() for target, line in imports
               if layer_of(name) in own and target in graph and layer_of(target) != layer_of(name)]
    assert not outside, outside


def import_cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """The import cycles of a graph (module -> modules it imports): its strongly connected
    components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle(graph):
    edges = {name: sorted({t for t, _ in imports if t in graph and t != name}) for name, imports in graph.items()}
    assert not import_cycles(edges), import_cycles(edges)


def test_the_checks_of_this_test_fail_on_an_upward_import_and_a_cycle(tmp_path):
    """The reading above catches lazy imports and relative ones (what it exists for)."""
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from dlgrade.grader.cli import main\n    from .session import run_checks\n")
    modules = {"dlgrade.grader.cli", "dlgrade.grader.grading.session", "dlgrade.grader.grading.lazy"}
    found = imports_of("dlgrade.grader.grading.lazy", lazy, modules)
    assert found == [("dlgrade.grader.cli", 2), ("dlgrade.grader.grading.session", 3)]
    assert layer_of("dlgrade.grader.cli") > layer_of("dlgrade.grader.grading.lazy")
    assert layer_of("dlgrade.grader.boundary.sandbox") < layer_of("dlgrade.checkers.runner")
    # the cycle this change broke: submission -> tensor_driver -> wire -> submission
    assert import_cycles({"submission": ["tensor_driver"], "tensor_driver": ["wire"], "wire": ["submission"],
                          "sandbox": ["submission"]}) == [["submission", "tensor_driver", "wire"]]
    assert import_cycles({"submission": ["wire"], "tensor_driver": ["wire"], "wire": []}) == []


def test_the_course_modules_are_those_the_registry_checks():
    """The call boundary reads which modules a submission may hold from the course's folders;
    every one of them has exercises in the registry, and the other way round."""
    from dlgrade.checkers.registry import all_exercises
    from dlgrade.grader.boundary.intake import known_modules

    registry: dict[str, set[str]] = {}
    for e in all_exercises():
        registry.setdefault(e.assignment, set()).add(e.module)
    assert known_modules() == {a: frozenset(m) for a, m in registry.items()}


def test_a_students_module_named_like_a_package_of_the_kit_shadows_nothing(tmp_path):
    """A student's grader.py, checkers.py, reference.py or assignments.py on the path (beside the
    submission, where `python -m` and pytest put the current folder) leaves the kit alone."""
    copy_solutions(tmp_path)
    for name in OLD_NAMES:
        (tmp_path / f"{name}.py").write_text(f"raise SystemExit('the student\\'s {name}.py ran')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    shadowed = subprocess.run([sys.executable, "-c", "import grader"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert "the student's grader.py ran" in shadowed.stderr  # what the old names could not avoid
    run = subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "check", "relu_forward", "svm_loss",
                          "--path", ".", "--no-sandbox"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and "ran" not in run.stdout + run.stderr, run.stdout + run.stderr
