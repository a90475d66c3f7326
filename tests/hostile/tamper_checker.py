"""Attacks relu_forward by tampering with the checker from inside the worker.

It tries to import the checker, the grader and the references and patch them (in the sandbox
they are not importable), then patches the worker's own runtime copy of grader.boundary.submission:
`to_plain` and `InProcessSubmission.call` are replaced so that every relu_forward call reports
success with a canned, correct-looking value (non-negative, float64), and the worker's wire
answer claims a pass. The trusted side must judge the value it receives against its own reference.
"""

import sys

import numpy as np

for _name in ("dlgrade.checkers", "dlgrade.checkers.compare", "dlgrade.checkers.runner", "dlgrade.grader.cli",
              "dlgrade.grader.outputs.report", "dlgrade.reference", "dlgrade.assignments"):
    try:
        __import__(_name)
    except BaseException:
        continue
    _mod = sys.modules[_name]
    for _attr in ("assert_matches", "check_property", "check_exercise", "values_close"):
        if hasattr(_mod, _attr):
            try:
                setattr(_mod, _attr, lambda *a, **k: None)
            except Exception:
                pass

try:
    import dlgrade.grader.boundary.submission as _gs
    import dlgrade.grader.boundary.worker as _gw

    _real_call = _gs.InProcessSubmission.call
    _real_to_plain = _gs.to_plain

    def _canned(shape=(2, 3)):
        return np.ones(shape)

    def _fake_to_plain(value, where="result", keep=None):
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and value[0] == "hostile":
            return (_canned(), value[1])
        return _real_to_plain(value, where, keep)

    def _fake_call(self, assignment, module, function, args, kwargs=None, keep=(), timeout=None):
        outcome = _real_call(self, assignment, module, function, args, kwargs, keep=keep, timeout=timeout)
        if function == "relu_forward":
            shape = np.shape(args[0]) if args and not isinstance(args[0], _gs.Handle) else (2, 3)
            value = outcome.value if isinstance(outcome.value, tuple) else (None, None)
            outcome = _gs.CallOutcome(value=(np.abs(_canned(shape)), value[1]), args_after=outcome.args_after,
                                      kwargs_after=outcome.kwargs_after, error=None, seconds=0.0)
        return outcome

    _gs.to_plain = _fake_to_plain
    _gs.InProcessSubmission.call = _fake_call
    _real_outcome = _gw._outcome
    _gw._outcome = lambda outcome: {**_real_outcome(outcome), "passed": True, "points": 1e9, "status": "pass"}
except Exception:
    pass


def relu_forward(x):
    return ("hostile", None), None
