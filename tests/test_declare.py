"""The facade spec authors import from: every public name exists and is documented, and the
specs import dlgrade's engine through it alone."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from dlgrade.checkers import declare, specs

SPECS = Path(specs.__file__).parent
#: What a spec may import of dlgrade besides the facade: its references, and its own package.
ALLOWED = ("dlgrade.checkers.declare", "dlgrade.reference", "dlgrade.checkers.specs")


def _documented(name: str, obj: object) -> bool:
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__") or ""
        return bool(doc.strip()) and not doc.startswith(f"{obj.__name__}(")  # not a dataclass's generated one
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return bool((obj.__doc__ or "").strip())
    # A constant, a strategy, a table: named in the facade's docstring with what it is.
    return any(name in line.split() or f"{name}," in line.split() for line in declare.__doc__.splitlines())


@pytest.mark.parametrize("name", declare.__all__)
def test_every_public_name_exists_and_is_documented(name):
    assert hasattr(declare, name), f"declare.__all__ names {name}, which it does not define"
    assert _documented(name, getattr(declare, name)), f"{name} has no documentation"


def test_public_names_are_listed_once():
    assert len(declare.__all__) == len(set(declare.__all__))


def _spec_files() -> list[Path]:
    return sorted(p for p in SPECS.rglob("*.py") if p.name != "__init__.py" or p.parent != SPECS)


def _dlgrade_imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return [(m, names) for m, names in found if m == "dlgrade" or m.startswith("dlgrade.")]


def test_specs_import_the_engine_only_through_the_facade():
    assert _spec_files()
    wrong = {f"{p.relative_to(SPECS)}: {m}" for p in _spec_files() for m, _ in _dlgrade_imports(p)
             if not m.startswith(ALLOWED)}
    assert wrong == set()


def test_specs_import_only_public_names_of_the_facade():
    private = {f"{p.relative_to(SPECS)}: {n}" for p in _spec_files() for m, names in _dlgrade_imports(p)
               if m == "dlgrade.checkers.declare" for n in names if n not in declare.__all__}
    assert private == set()


#: The modules of a spec package, each importing of its package only the modules before it.
SPEC_MODULES = ("inputs", "mistakes", "checks", "__init__")


def _packages() -> list[Path]:
    return sorted(p for p in SPECS.iterdir() if (p / "__init__.py").exists())


def test_every_spec_is_a_package_of_known_modules():
    assert _packages()
    assert sorted(p.name for p in SPECS.glob("*.py")) == ["__init__.py"], "a spec outside a package"
    strays = {f"{p.relative_to(SPECS)}" for pkg in _packages() for p in pkg.glob("*.py") if p.stem not in SPEC_MODULES}
    assert strays == set()


def _own_imports(path: Path) -> set[str]:
    """The modules of its own package that a spec module imports."""
    package = f"dlgrade.checkers.specs.{path.parent.name}"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(package):
            found.add(node.module[len(package) + 1:] or "__init__")
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            found.add("..")
    return found


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_spec_modules_import_only_the_modules_before_them(package):
    wrong = {}
    for path in package.glob("*.py"):
        allowed = set(SPEC_MODULES[:SPEC_MODULES.index(path.stem)])
        if _own_imports(path) - allowed:
            wrong[path.name] = sorted(_own_imports(path) - allowed)
    assert wrong == {}


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_spec_init_holds_only_the_declarations(package):
    """Mistakes and checks live in their own modules: __init__ writes no Mistake and no check function."""
    tree = ast.parse((package / "__init__.py").read_text())
    mistakes = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Mistake"]
    nested = [inner.name for outer in tree.body if isinstance(outer, ast.FunctionDef)
              for inner in ast.walk(outer) if isinstance(inner, ast.FunctionDef) and inner is not outer]
    assert (mistakes, nested) == ([], [])
