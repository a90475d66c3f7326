"""How an error in a student's code is told: in full at the student profile, in the checker's own
words at the grading profile; and the hints for what numpy 2 no longer accepts.

At the grading profile the examples are hidden, but everything a submission writes (an exception's
message, the name of an exception class it defines, what it prints, the text a sandboxed worker
sends back) could carry the hidden inputs' values. So there the checker writes every word itself,
from the kind of error and from what cannot carry more than a few bits: the name of a built-in
exception class (chosen from a fixed list, like a verdict) and a line number in one of the
assignment's files. The full text is shown at the student profile, on examples that are not secret.
"""

from __future__ import annotations

import builtins
import re
from typing import Iterable

import numpy as np

from dlgrade.grader.boundary.submission import StudentError

#: Exception classes whose name may be shown at the grading profile: Python's own and numpy's.
#: A class that a submission defines (its name is the submission's to choose) is not named.
KNOWN_EXCEPTIONS = frozenset(
    {name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)}
    | {"LinAlgError", "AxisError", "DTypePromotionError", "UFuncTypeError", "_UFuncNoLoopError",
       "_UFuncBinaryResolutionError", "_UFuncInputCastingError", "_UFuncOutputCastingError", "_ArrayMemoryError",
       "ComplexWarning", "CallTimeout"})

WITHHELD = "withheld at the grading profile: it could carry the hidden input's values"


def student_error_text(error: StudentError, reveal: bool, function: str = "", module: str = "",
                       module_files: Iterable[str] = (), forbidden: Iterable[str] = ()) -> str:
    """The error as a student reads it: `error.describe()` where examples may be revealed, else
    words of the checker's own (see the module's docstring). function and module: what the
    checker called or imported (`a1_backprop/layers.py`); module_files: the file names
    (`layers.py`) whose line numbers may be shown; forbidden: the packages the assignment forbids
    (the only package names that may be repeated)."""
    if reveal:
        return error.describe()
    who = function or "your code"
    where = module or "the module"
    kind = error.kind
    banned = sorted(name for name in set(forbidden) if re.search(rf"\b{re.escape(name)}\b", error.message))
    if kind == "not_implemented":
        return "not implemented (raises NotImplementedError)"
    if kind == "exception":
        name = _exception_name(error.message)
        if banned and name in ("ImportError", "ModuleNotFoundError"):
            return (f"{who} raised {name}{_where(error.traceback, module_files)}: it imports {', '.join(banned)}, "
                    f"which is not allowed in this assignment: write it with numpy")
        return f"{who} raised {name}{_where(error.traceback, module_files)}; its message is {WITHHELD}"
    if kind == "timeout":
        if error.told_by_worker:
            return f"{who} did not return"
        # The trusted side measured the time and wrote every word of this message.
        return error.message
    if kind == "bad_return":
        return f"{who} returned a value the checker cannot use{_unusable(error.message)}"
    if kind == "missing":
        if "defines no function" in error.message:
            return f"{where.rsplit('/', 1)[-1]} defines no function {who}"
        return f"{where} not found (no such file), or it defines no function {who}"
    if kind == "forbidden" or (kind == "module_error" and banned and re.search(r"Import|not allowed", error.message)):
        names = ", ".join(banned) or "a package"
        return f"{where} imports {names}, which is not allowed in this assignment: write it with numpy"
    if kind == "module_error":
        if "syntax error" in error.message:
            line = re.search(r"syntax error at line (\d{1,6})\b", error.message)
            return f"{where} (or a module it imports) has a syntax error" + (
                f" at line {line.group(1)}" if line else "") + f"; the parser's message is {WITHHELD}"
        if "took longer than" in error.message:
            return f"importing {where} took too long"
        return f"importing {where} raised {_exception_name(error.message)}; its message is {WITHHELD}"
    if error.told_by_worker:
        return f"{who} crashed the worker process that runs it"
    # A crash or a stop: the checker's own words (a worker's stderr is in `detail`, never shown here).
    return error.message


#: Why a returned value cannot cross the boundary, in the checker's words (the worker's
#: description names the submission's own classes and keys).
_UNUSABLE = [(re.compile(r"numpy subclass"), " (a numpy subclass: return a plain np.ndarray)"),
             (re.compile(r"array of dtype (object|void|complex\d{0,3}|str\d{0,4}|bytes\d{0,4}|datetime64|timedelta64)\b"),
              " (an array of dtype {0}: return numbers)"),
             (re.compile(r"key .* that is not a string"), " (a dict key that is not a string)"),
             (re.compile(r"result should be a tuple"), " (not the tuple the contract returns)")]


def _unusable(message: str) -> str:
    for pattern, text in _UNUSABLE:
        match = pattern.search(message)
        if match:
            return text.format(*match.groups())
    return f" (its description is {WITHHELD})"


def _exception_name(message: str) -> str:
    """The exception class named in 'f raised NAME: ...' when it is a known class."""
    match = re.search(r"raised ([A-Za-z_][A-Za-z0-9_]*)(?::|$|\s)", message)
    if match and match.group(1) in KNOWN_EXCEPTIONS:
        return match.group(1)
    return "an exception of a class defined in the submission" if match else "an exception"


def _where(traceback: str, module_files: Iterable[str]) -> str:
    """' at line N of FILE' for the last frame in one of the assignment's files, if any."""
    files = set(module_files)
    found = ""
    for path, line in re.findall(r'File "([^"\n]*)", line (\d{1,6})\b', traceback or ""):
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        if name in files:
            found = f" at line {int(line)} of {name}"
    return found


# ---------------------------------------------------------------------------------------------
# numpy 2


#: Names that numpy removed, what to write instead, and when they went (CS231n code of 2016-2020
#: uses several of them).
_ALIASES = {"int": "int (or np.int64)", "float": "float (or np.float64)", "bool": "bool (or np.bool_)",
            "object": "object", "str": "str", "complex": "complex", "long": "int", "unicode": "str"}
_GONE_IN_2 = {
    "float_": "np.float64", "complex_": "np.complex128", "string_": "np.bytes_", "unicode_": "np.str_",
    "int0": "np.intp", "uint0": "np.uintp", "bool8": "np.bool_", "object0": "np.object_",
    "NaN": "np.nan", "NAN": "np.nan", "Inf": "np.inf", "Infinity": "np.inf", "infty": "np.inf",
    "PINF": "np.inf", "NINF": "-np.inf", "PZERO": "0.0", "NZERO": "-0.0",
    "product": "np.prod", "cumproduct": "np.cumprod", "alltrue": "np.all", "sometrue": "np.any",
    "round_": "np.round", "asfarray": "np.asarray(a, dtype=float)", "mat": "np.asmatrix",
    "cast": "np.asarray(a, dtype=...)", "find_common_type": "np.result_type", "msort": "np.sort(a, axis=0)",
}
_DEPRECATED_IN_2 = {"in1d": "np.isin", "row_stack": "np.vstack", "trapz": "np.trapezoid"}
REMOVED = {
    **{name: (use, "removed in NumPy 1.24, after a deprecation in 1.20") for name, use in _ALIASES.items()},
    "asscalar": ("a.item()", "removed in NumPy 1.23"),
    **{name: (use, "removed in NumPy 2.0") for name, use in _GONE_IN_2.items()},
    **{name: (use, "deprecated in NumPy 2.0 and removed since") for name, use in _DEPRECATED_IN_2.items()},
}

_REMOVED_NAME = re.compile(r"module 'numpy' has no attribute '(\w+)'|`np\.(\w+)` was removed in the NumPy 2")

#: Other errors that numpy 2 gives code written for numpy 1, and the hint for each.
_NUMPY2_ERRORS = [
    (re.compile(r"unexpected keyword argument 'newshape'"),
     "NumPy 2 removed the newshape= argument of np.reshape (deprecated in 2.1): write np.reshape(a, shape) "
     "or a.reshape(shape)."),
    (re.compile(r"only (?:0-dimensional|length-1|size-1) arrays can be converted to Python scalars"),
     "NumPy 2 converts only 0-d arrays with int() or float() (an array of shape (1,) or (1, 1) was deprecated in "
     "NumPy 1.25 and is now an error): reduce to a scalar first (np.sum(...) with no axis), or take the element "
     "with a.item()."),
    (re.compile(r"Unable to avoid copy while creating an array"),
     "In NumPy 2, np.array(x, copy=False) raises where a copy is needed: write np.asarray(x)."),
    (re.compile(r"Calling np\.sum\(generator\)"),
     "NumPy 2 no longer sums a generator with np.sum: use Python's sum(...) or np.sum(np.fromiter(...))."),
]


def numpy2_hints(text: str) -> list[str]:
    """Hints for an error message that numpy 2 gives code written for numpy 1. Only the names in
    `REMOVED` are ever repeated back (the text is the submission's)."""
    hints = []
    for match in _REMOVED_NAME.finditer(text or ""):
        name = match.group(1) or match.group(2)
        if name in REMOVED:
            use, when = REMOVED[name]
            hints.append(f"np.{name} no longer exists: it was {when} (this is numpy {np.__version__}). Use {use} instead.")
    hints += [hint for pattern, hint in _NUMPY2_ERRORS if pattern.search(text or "")]
    return list(dict.fromkeys(hints))
