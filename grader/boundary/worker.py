"""The sandboxed worker: runs a student's modules and answers calls over a pipe.

It is started by `grader.boundary.sandbox.SandboxedSubmission` (inside bubblewrap where available), reads
requests from one inherited pipe and writes answers to another (see grader.boundary.wire). Standard output and
error go to /dev/null, so nothing a student prints can corrupt the channel. Everything here runs
next to untrusted code: the trusted side treats every answer as untrusted data.

The first message configures the worker: {"root", "forbidden", "call_timeout", "drop_to_uid",
"keep_file_access", "network", "landlock"}. Before any student code runs, the worker confines
itself as told (grader.boundary.confine: a private network, Landlock, an unprivileged uid of its own) and
answers {"ready", "uid", "network", "landlock", "seccomp"}, saying what it put in place.

Requests: {"op": "status", assignment, module, function, timeout}, {"op": "call", assignment,
module, function, args, kwargs, keep, timeout}, {"op": "batch", calls: [call, ...], timeout} (one
answer per call, in order; a call's "index" is its place in the batch, and a Handle with the
negative id -1-i stands for the cache call i keeps), {"op": "forget", handle}. A timeout is seconds of
CPU time: the worker stops its own call past it (keeping its caches), and the trusted side stops
the whole worker a little later, counting the CPU time of every process the worker started.
"""

from __future__ import annotations

import os
import sys


class _ForbiddenFinder:
    """A friendly message for a dynamic import of a forbidden package. It is no boundary (a
    submission can remove it): the packages themselves are absent from what the worker sees."""

    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"importing {fullname} is not allowed in this assignment")
        return None


def _confine(config: dict) -> dict:
    """Put in place the restrictions `config` asks for; what was put in place."""
    from dlgrade.grader.boundary import confine

    done = {"network": "", "landlock": 0}
    if config.get("die_with_parent"):
        confine.die_with_parent()
    if config.get("network") == "private":
        done["network"] = "private" if confine.private_network() else ""
    rules = config.get("landlock")
    ruleset = None
    if rules:
        # Built while the installation is still readable (before the uid changes); TCP is
        # denied unless the worker has a network of its own, where the a7 tier needs loopback.
        ruleset = confine.Ruleset(deny_tcp=done["network"] != "private" and not config.get("loopback"))
        for path in rules.get("read", []):
            ruleset.allow(path, confine.READ_ONLY)
        for path in rules.get("list", []):
            ruleset.allow(path, confine.FS_READ_DIR)
        for path in rules.get("devices", []):
            ruleset.allow(path, confine.FS_READ_FILE | confine.FS_WRITE_FILE | confine.FS_TRUNCATE | confine.FS_IOCTL_DEV)
        for path in rules.get("write", []):
            ruleset.allow(path, ruleset.handled_fs)
        if ruleset.denies_tcp:
            done["network"] = "no tcp"
    uid = config.get("drop_to_uid")
    if uid is not None and os.getuid() == 0:
        confine.drop_identity(int(uid), keep_file_access=bool(config.get("keep_file_access")))
    if ruleset is not None:
        ruleset.enforce()
        done["landlock"] = ruleset.abi
    elif config.get("no_new_privs"):
        confine.no_new_privileges()
    filter_ = config.get("seccomp")
    if filter_ is not None:
        # TCP only on a loopback of the worker's own (bubblewrap's, or the one made above), for
        # the assignments that need one.
        private = bool(filter_.get("private_network")) or done["network"] == "private"
        confine.deny_syscalls(allow_inet=private and bool(filter_.get("loopback")))
        done["seccomp"] = True
    return done


def serve(requests_fd: int, answers_fd: int) -> None:
    """Answer requests from `requests_fd` on `answers_fd` until the channel closes."""
    # Import what the worker needs before confining itself: afterwards the interpreter's own
    # files may no longer all be readable.
    import numpy  # noqa: F401

    from dlgrade.grader.boundary import wire
    from dlgrade.grader.boundary.submission import (CallOutcome, Handle, InProcessSubmission, StudentError,
                                                    resolve_earlier)

    requests = os.fdopen(requests_fd, "rb")
    answers = os.fdopen(answers_fd, "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    config = wire.receive(requests)
    # Children are reaped by waiting for them, so their CPU time adds up in their parent's (an
    # ignored SIGCHLD inherited from whoever started the grader would lose it); the filter then
    # keeps it so.
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        done = _confine(config)
    except OSError as e:
        wire.send(answers, {"ready": False, "error": f"{type(e).__name__}: {e}"})
        return
    forbidden = {k: list(v) for k, v in config.get("forbidden", {}).items()}
    # The finder refuses what the assignment of the current request forbids; the static import
    # check also runs per assignment.
    finder = _ForbiddenFinder(set())
    sys.meta_path.insert(0, finder)
    submission = InProcessSubmission(config["root"], call_timeout=float(config["call_timeout"]), forbidden=forbidden,
                                     only_student_code=True)
    wire.send(answers, {"ready": True, "uid": os.getuid(), **done})
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
        # The trusted side says how much CPU time each request may take (what is left of the
        # exercise's budget); it also stops the whole worker a little after.
        submission.call_timeout = float(request.get("timeout") or submission.call_timeout)
        if op == "status":
            error = submission.function_status(request["assignment"], request["module"], request["function"])
            if os.getpid() != me:
                os._exit(0)
            wire.send(answers, {"error": _error(error)})
        elif op in ("call", "batch"):
            # A batch is several calls, answered one by one as they finish; each may name the
            # cache an earlier call of the batch kept (`earlier(i)`), and gets what is left of
            # the batch's CPU time.
            calls = [request] if op == "call" else list(request["calls"])
            budget, start, made = float(request["timeout"]), submission.student_seconds(), {}
            for call in calls:
                args, kwargs, lost = resolve_earlier(_batch_call(call), [made.get(i, CallOutcome(error=StudentError(
                    "crash", "not made"))) for i in range(int(call.get("index", 0)))], crossed=_crossed)
                try:
                    outcome = lost or submission.call(
                        call["assignment"], call["module"], call["function"], args, kwargs, keep=tuple(call["keep"]),
                        timeout=max(budget - (submission.student_seconds() - start), 0.0),
                        **({"via": str(call["via"])} if call.get("via") else {}))
                except KeyError as e:  # a handle this worker does not hold
                    outcome = CallOutcome(error=StudentError("crash", f"lost cache: {e}"))
                if os.getpid() != me:
                    os._exit(0)
                made[int(call.get("index", 0))] = outcome
                try:
                    wire.send(answers, _outcome(outcome))
                except wire.WireError as e:
                    made[int(call.get("index", 0))] = CallOutcome(error=StudentError("bad_return", str(e)))
                    wire.send(answers, {"error": {"kind": "bad_return",
                                                  "message": f"returned a value that cannot cross: {e}"}})
        elif op == "forget":
            submission.forget(Handle(int(request["handle"])))
        else:
            return


def _crossed(value):
    """`value` as it would be after crossing to the checker and back (a chained argument gets
    what it would get from the checker)."""
    import io

    from dlgrade.grader.boundary import wire

    return wire.receive(io.BytesIO(wire.encode({"value": value})))["value"]


def _batch_call(request: dict):
    from dlgrade.grader.boundary.submission import BatchCall

    shapes = request.get("requires_shapes")
    return BatchCall(request["assignment"], request["module"], request["function"], tuple(request["args"]),
                     dict(request["kwargs"]), tuple(request["keep"]), request.get("via"),
                     None if shapes is None else tuple(tuple(int(d) for d in shape) for shape in shapes),
                     tuple((int(position), int(index), int(item), None if shape is None else tuple(int(d) for d in shape))
                           for position, index, item, shape in request.get("chained", ())))


def _error(error) -> dict | None:
    if error is None:
        return None
    return {"kind": error.kind, "message": error.message, "traceback": error.traceback}


def _outcome(outcome) -> dict:
    return {"value": outcome.value, "args_after": outcome.args_after, "kwargs_after": outcome.kwargs_after,
            "error": _error(outcome.error), "aliases": outcome.aliases, "warnings": outcome.warnings,
            "output": outcome.output, "global_random_used": outcome.global_random_used}
