"""The sandboxed worker: runs a student's modules and answers calls over a pipe.

It is started by `grader.sandbox.SandboxedSubmission` (inside bubblewrap where available), reads
requests from one inherited pipe and writes answers to another (see grader.wire). Standard output and
error go to /dev/null, so nothing a student prints can corrupt the channel. Everything here runs
next to untrusted code: the trusted side treats every answer as untrusted data.

Requests: {"op": "status", assignment, module, function}, {"op": "call", assignment, module,
function, args, kwargs, keep, timeout}, {"op": "forget", handle}. The first message configures
the worker: {"root", "forbidden", "call_timeout", "drop_to_uid"}.
"""

from __future__ import annotations

import os
import sys

def _drop_privileges(uid: int) -> None:
    """Run as an unprivileged user from here on (before any student code is imported)."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


class _ForbiddenFinder:
    """Refuses imports of forbidden packages, for dynamic imports the static check cannot see."""

    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"importing {fullname} is not allowed in this assignment")
        return None


def serve(requests_fd: int, answers_fd: int) -> None:
    """Answer requests from `requests_fd` on `answers_fd` until the channel closes."""
    # Import what the worker needs before privileges are dropped: afterwards the interpreter's
    # own files may no longer be readable.
    import numpy  # noqa: F401

    from grader import wire
    from grader.submission import CallOutcome, Handle, InProcessSubmission, StudentError

    requests = os.fdopen(requests_fd, "rb")
    answers = os.fdopen(answers_fd, "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    config = wire.receive(requests)
    if config.get("drop_to_uid") is not None and os.getuid() == 0:
        _drop_privileges(int(config["drop_to_uid"]))
    forbidden = {k: list(v) for k, v in config.get("forbidden", {}).items()}
    # The finder refuses what the assignment of the current request forbids (a1 forbids torch,
    # a7 is written in torch); the static import check also runs per assignment.
    finder = _ForbiddenFinder(set())
    sys.meta_path.insert(0, finder)
    submission = InProcessSubmission(config["root"], call_timeout=float(config["call_timeout"]), forbidden=forbidden)
    wire.send(answers, {"ready": True, "uid": os.getuid()})
    me = os.getpid()

    while True:
        if os.getpid() != me:
            os._exit(0)  # a child forked by student code must never answer on the channel
        try:
            request = wire.receive(requests)
        except EOFError:
            return
        op = request.get("op")
        finder.names = set(forbidden.get(request.get("assignment"), ()))
        if op == "status":
            error = submission.function_status(request["assignment"], request["module"], request["function"])
            wire.send(answers, {"error": _error(error)})
        elif op == "call":
            try:
                outcome = submission.call(request["assignment"], request["module"], request["function"],
                                          list(request["args"]), dict(request["kwargs"]),
                                          keep=tuple(request["keep"]), timeout=float(request["timeout"]),
                                          **({"via": str(request["via"])} if request.get("via") else {}))
            except KeyError as e:  # a handle this worker does not hold
                outcome = CallOutcome(error=StudentError("crash", f"lost cache: {e}"))
            if os.getpid() != me:
                os._exit(0)
            try:
                wire.send(answers, _outcome(outcome))
            except wire.WireError as e:
                wire.send(answers, {"error": {"kind": "bad_return", "message": f"returned a value that cannot cross: {e}"}})
        elif op == "forget":
            submission.forget(Handle(int(request["handle"])))
        else:
            return


def _error(error) -> dict | None:
    if error is None:
        return None
    return {"kind": error.kind, "message": error.message, "traceback": error.traceback}


def _outcome(outcome) -> dict:
    return {"value": outcome.value, "args_after": outcome.args_after, "kwargs_after": outcome.kwargs_after,
            "error": _error(outcome.error), "aliases": outcome.aliases, "warnings": outcome.warnings,
            "output": outcome.output, "global_random_used": outcome.global_random_used}


