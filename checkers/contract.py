"""The parameter lists of the contract's functions, and cases put in their call order.

A student function is called with a case's arguments in the order of its parameters in the
contract (the instructor's solution module, whose signatures the released stubs keep), never in
the order a strategy happened to build its dict: `{"y": ..., "x": ...}` still calls `f(x, y)`.
The signatures are read from the solution's source (its syntax tree: nothing of it is run), once
per function.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from dlgrade.assignments import ASSIGNMENTS_DIR, active_source
from dlgrade.checkers.exercise import Case


class DeclarationError(Exception):
    """A declaration does not fit the contract (a case's keys are not the function's parameters).
    A checker bug, never the student's: it is raised before any student code runs on the case."""


@dataclass(frozen=True)
class Parameters:
    """A contract function's positional parameters in order, and those with a default."""

    function: str
    names: tuple[str, ...]
    defaulted: frozenset[str]
    #: Keyword-only parameters: the checker calls by position, so a case may not give them.
    keyword_only: tuple[str, ...] = ()

    def order(self, case: Case) -> Case:
        """`case` with its arguments in call order. Raises DeclarationError where a key is not a
        parameter, a parameter without a default is missing, or a given parameter follows one
        left out (it could not be passed by position)."""
        given = set(case.args)
        extra = [k for k in case.args if k not in self.names]
        if extra:
            raise DeclarationError(f"a case for {self.function} has {', '.join(map(repr, extra))}, which "
                                   f"{'is not a parameter' if len(extra) == 1 else 'are not parameters'} of "
                                   f"{self.function}({', '.join(self.names)})")
        missing = [n for n in self.names if n not in given and n not in self.defaulted]
        if missing:
            raise DeclarationError(f"a case for {self.function} lacks {', '.join(map(repr, missing))} "
                                   f"(no default in {self.function}({', '.join(self.names)}))")
        present = [n in given for n in self.names]
        if True in present and False in present[:len(present) - present[::-1].index(True)]:
            raise DeclarationError(f"a case for {self.function} leaves out a defaulted parameter before one it "
                                   f"gives: {sorted(given)} of {self.function}({', '.join(self.names)})")
        if list(case.args) == [n for n in self.names if n in given]:
            return case
        return replace(case, args={n: case.args[n] for n in self.names if n in given})


def contract_parameters(assignment: str, function: str, root: Path | None = None) -> Parameters:
    """The parameters of `function` as the contract declares it in one of `assignment`'s modules:
    those of `root`, by default the course in use (an instructor's course folder adds functions)
    and then the bundled curriculum. Raises DeclarationError where no module of the assignment
    defines it."""
    roots = [root] if root is not None else [Path(active_source().assignments_dir), ASSIGNMENTS_DIR]
    found = next((s[function] for s in (_signatures(assignment, r) for r in roots) if function in s), None)
    if found is None:
        raise DeclarationError(f"no module of {assignment} defines {function}: a declaration names a function "
                               "that is not in the contract")
    return found


@cache
def _signatures(assignment: str, root: Path) -> dict[str, Parameters]:
    """Every top-level function of the assignment's modules, by name (read once per assignment)."""
    found = {}
    for path in sorted((root / assignment).glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name not in found:
                found[node.name] = _parameters(node)
    return found


def _parameters(node: ast.FunctionDef) -> Parameters:
    positional = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
    defaulted = positional[len(positional) - len(node.args.defaults):] if node.args.defaults else []
    return Parameters(node.name, tuple(positional), frozenset(defaulted),
                      tuple(a.arg for a in node.args.kwonlyargs))


def in_call_order(assignment: str, function: str, case: Case) -> Case:
    """`case` with its arguments in the order of `function`'s parameters in the contract."""
    return contract_parameters(assignment, function).order(case)
