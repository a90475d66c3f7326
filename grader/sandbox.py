"""Student code in a separate, confined worker process, behind the same `Submission` interface.

The trusted process (this one) draws inputs, computes every verdict and writes every result; the
worker (grader/worker.py) only imports the student's modules and runs calls. The worker:

- gets a copy of the submission's modules and of the three worker modules, nothing else of the
  course: not the solutions, not the references, not the checker, not other submissions;
- runs under resource limits (address space, file size, open files, processes, CPU time), in a
  process group of its own that is killed whole when a call overruns its wall-clock time;
- drops to an unprivileged user when started as root;
- where bubblewrap (`bwrap`) is installed, runs in a minimal read-only file system (the Python
  installation and the two copies above) with a private /tmp, no network, its own PID
  namespace, and dies with its parent; forbidden packages are hidden from it. Where bwrap is
  missing it says so once, on stderr, and runs with the limits alone.

A worker that dies (segfault, `os._exit`, memory limit, timeout) costs the call that killed it;
the next call starts a fresh worker, and caches held by the dead one are reported as lost.
"""

from __future__ import annotations

import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from grader import wire
from grader.submission import (DEFAULT_CALL_TIMEOUT, CallOutcome, Handle, StudentError, Submission,
                               forbidden_imports)

#: Workers started by root run as unprivileged user ids from this range, one of their own each,
#: so that no worker can signal another or use up another's process limit.
WORKER_UIDS = range(1 << 28, 1 << 30)
#: Seconds the worker gets beyond a call's timeout to stop it itself (keeping its caches).
GRACE = 2.0
_WORKER_MODULES = ("submission.py", "wire.py", "worker.py", "tensor_driver.py")
_notices_given: set[str] = set()


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker."""

    memory_bytes: int = 2 << 30
    file_bytes: int = 16 << 20
    open_files: int = 256
    processes: int = 16
    cpu_seconds: int = 600


def course_limits(assignments) -> Limits:
    """The default limits, raised to what the manifests of `assignments` ask for in a `[sandbox]`
    table (a7_distributed runs one process per rank, each with a few threads, which counts
    against the process limit)."""
    import tomllib

    from assignments import ASSIGNMENTS_DIR

    processes = Limits.processes
    for name in assignments:
        manifest = ASSIGNMENTS_DIR / str(name) / "manifest.toml"
        if manifest.is_file():
            with open(manifest, "rb") as f:
                processes = max(processes, int(tomllib.load(f).get("sandbox", {}).get("processes", 0)))
    return Limits(processes=processes)


def bwrap_path() -> str | None:
    """The bubblewrap executable, or None where it is not installed (or disabled for testing)."""
    if os.environ.get("DLGRADE_NO_BWRAP"):
        return None
    return shutil.which("bwrap")


def _notice(text: str) -> None:
    """Say `text` on stderr, once per process."""
    if text not in _notices_given:
        _notices_given.add(text)
        print(f"dlgrade: {text}", file=sys.stderr)


def _world_readable(path: Path) -> bool:
    """Whether an unprivileged user can reach `path` (every folder above it searchable)."""
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        try:
            if not os.stat(folder).st_mode & 0o005:
                return False
        except OSError:
            return False
    return True


class SandboxedSubmission(Submission):
    """A student's folder, run by a confined worker process."""

    def __init__(self, root: Path | str, call_timeout: float = DEFAULT_CALL_TIMEOUT, limits: Limits | None = None,
                 forbidden: dict[str, list[str]] | None = None, use_bwrap: bool | None = None):
        """limits: the worker's resource limits; by default `Limits()`, raised where a manifest of
        an assignment in the submission asks for more (see `course_limits`)."""
        self.call_timeout = call_timeout
        self.limits = limits if limits is not None else course_limits(p.name for p in Path(root).glob("*/"))
        self.forbidden = forbidden if forbidden is not None else forbidden_imports()
        self.bwrap = bwrap_path() if use_bwrap in (None, True) else None
        if use_bwrap and self.bwrap is None:
            raise RuntimeError("bubblewrap (bwrap) is not installed")
        if self.bwrap is None:
            _notice("bubblewrap (bwrap) not found: student code runs in a separate process with resource limits, "
                    "but can read this machine's files and reach the network (apt-get install bubblewrap).")
        self._private = Path(tempfile.mkdtemp(prefix="dlgrade-sandbox-"))
        self._submission = self._private / "submission"
        self._runtime = self._private / "runtime"
        _copy_modules(Path(root), self._submission)
        (self._runtime / "grader").mkdir(parents=True)
        (self._runtime / "grader" / "__init__.py").write_text("")
        for name in _WORKER_MODULES:
            shutil.copyfile(Path(__file__).parent / name, self._runtime / "grader" / name)
        for path in [self._private, *self._private.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self._live: set[int] = set()
        self._student_seconds = 0.0
        # Start the worker now: it boots while the checker imports torch and draws its first case.
        self._start_failure = self._start()

    # -- the interface -----------------------------------------------------------------------

    def function_status(self, assignment: str, module: str, function: str) -> StudentError | None:
        answer = self._ask({"op": "status", "assignment": assignment, "module": module, "function": function},
                           self.call_timeout)
        if isinstance(answer, StudentError):
            return answer
        return _student_error(answer.get("error"))

    def call(self, assignment, module, function, args, kwargs=None, keep=(), timeout=None, via=None) -> CallOutcome:
        lost = [a for a in [*args, *(kwargs or {}).values()] if isinstance(a, Handle) and a.id not in self._live]
        if lost:
            return CallOutcome(error=StudentError("crash", "its cache was lost when an earlier call crashed the worker"))
        timeout = self.time_left(timeout or self.call_timeout)
        if timeout <= 0:
            return CallOutcome(error=self.budget_spent())
        start = time.perf_counter()
        answer = self._ask({"op": "call", "assignment": assignment, "module": module, "function": function,
                            "args": list(args), "kwargs": dict(kwargs or {}), "keep": list(keep), "timeout": timeout,
                            **({"via": via} if via else {})},
                           timeout + GRACE, function)
        seconds = time.perf_counter() - start
        self._student_seconds += seconds
        if isinstance(answer, StudentError):
            return CallOutcome(error=answer, seconds=seconds)
        try:
            outcome = CallOutcome(value=answer.get("value"), args_after=list(answer.get("args_after") or []),
                                  kwargs_after=dict(answer.get("kwargs_after") or {}),
                                  error=_student_error(answer.get("error")),
                                  aliases=[str(a) for a in answer.get("aliases") or []],
                                  warnings=[str(w) for w in answer.get("warnings") or []],
                                  output=str(answer.get("output", ""))[-2000:], seconds=seconds,
                                  global_random_used=answer.get("global_random_used") is True)
        except (TypeError, ValueError) as e:
            return CallOutcome(error=StudentError("crash", f"the worker sent a malformed answer ({e})"), seconds=seconds)
        if outcome.error is None:
            self._live |= {v.id for v in _handles(outcome.value)}
        elif outcome.error.kind == "timeout":
            self.timed_out(outcome.error.message)
        return outcome

    def forget(self, handle: Handle) -> None:
        if handle.id in self._live and self._proc is not None:
            self._live.discard(handle.id)
            try:
                self._send({"op": "forget", "handle": handle.id})
            except OSError:
                self._stop()

    def student_seconds(self) -> float:
        return self._student_seconds

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self._private, ignore_errors=True)

    # -- the worker ----------------------------------------------------------------------------

    def _ask(self, request: dict, wait: float, function: str = "") -> dict | StudentError:
        """Send a request and wait for the answer; a worker that dies or overruns is a StudentError."""
        if self._proc is None:
            self._start_failure = self._start()
        if not self._ready:
            failure, self._start_failure = self._start_failure or self._await_ready(), None
            if failure is not None:
                return failure
        try:
            self._send(request)
            return self._receive(time.monotonic() + wait)
        except TimeoutError:
            self._stop()
            return self.timed_out(f"{function or 'the submission'} did not return within {wait - GRACE:.3g} s "
                                  f"(the worker was stopped)")
        except (EOFError, OSError, wire.WireError) as e:
            status = self._stop(wait_first=isinstance(e, EOFError))
            return StudentError("crash", f"{function or 'the submission'} crashed the worker process{_describe_exit(status)}"
                                + ("" if isinstance(e, EOFError) else f" ({e})"))

    def _start(self) -> StudentError | None:
        requests_read, self._requests = os.pipe()
        self._answers, answers_write = os.pipe()
        bootstrap = (f"import sys; sys.path.insert(0, {str(self._worker_runtime())!r}); "
                     f"from grader.worker import serve; serve({requests_read}, {answers_write})")
        command = [*self._jail(), sys.executable, "-I", "-c", bootstrap]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        self._proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, pass_fds=(requests_read, answers_write),
                                      preexec_fn=self._limit, cwd=str(self._private))
        os.close(requests_read)
        os.close(answers_write)
        self._live.clear()
        can_drop = os.getuid() == 0 and (self.bwrap or _world_readable(Path(sys.executable)))
        drop = secrets.choice(WORKER_UIDS) if can_drop else None
        if os.getuid() == 0 and drop is None:
            _notice("running as root without bubblewrap and with a Python installation that an unprivileged "
                    "user cannot read: the worker keeps root's rights.")
        try:
            self._send({"root": self._inside(self._submission), "forbidden": self.forbidden,
                        "call_timeout": self.call_timeout, "drop_to_uid": drop})
        except OSError as e:
            return self._failed_start(e)
        return None

    def _await_ready(self) -> StudentError | None:
        """Wait for the started worker's first message."""
        try:
            ready = self._receive(time.monotonic() + 30)
            if not ready.get("ready"):
                raise wire.WireError("no ready message")
        except (TimeoutError, EOFError, OSError, wire.WireError) as e:
            return self._failed_start(e)
        self._ready = True
        return None

    def _failed_start(self, e: Exception) -> StudentError:
        error = self._proc.stderr.read(4000).decode(errors="replace") if self._proc.poll() is not None else ""
        self._stop()
        return StudentError("crash", f"the sandboxed worker did not start ({type(e).__name__}) {error[-500:]}")

    def _limit(self) -> None:
        """In the child, before exec: its own process group, and the resource limits."""
        os.setsid()
        lim = self.limits
        for which, value in ((resource.RLIMIT_AS, lim.memory_bytes), (resource.RLIMIT_FSIZE, lim.file_bytes),
                             (resource.RLIMIT_NOFILE, lim.open_files), (resource.RLIMIT_NPROC, lim.processes),
                             (resource.RLIMIT_CPU, lim.cpu_seconds), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(which, (value, value))

    def _jail(self) -> list[str]:
        """The bubblewrap command line, or nothing where bwrap is missing."""
        if not self.bwrap:
            return []
        args = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
                "--unshare-uts", "--unshare-cgroup-try"]
        if os.getuid() != 0:
            args.append("--unshare-user")  # needed to sandbox without privileges
        for top in ("/usr", "/bin", "/lib", "/lib64", "/sbin"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        # The private /tmp comes before the binds: a Python installation under /tmp (a virtual
        # environment in a CI checkout) is then bound inside it rather than hidden by it.
        args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--perms", "1777", "--tmpfs", "/tmp"]
        made: set[str] = {"/", "/tmp"}
        for prefix in dict.fromkeys([sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent.parent)]):
            if any(prefix == top or prefix.startswith(top + "/") for top in ("/usr", "/bin", "/lib", "/lib64")):
                continue
            for parent in reversed(Path(prefix).parents):
                if str(parent) not in made:
                    made.add(str(parent))
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", prefix, prefix]
        for hidden in self._hidden_packages():
            args += ["--tmpfs", hidden]
        args += ["--perms", "0755", "--dir", "/opt/dlgrade", "--ro-bind", str(self._runtime), "/opt/dlgrade/runtime",
                 "--ro-bind", str(self._submission), "/opt/dlgrade/submission",
                 "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
        return args

    def _hidden_packages(self) -> list[str]:
        """Installed folders the worker must not see: the course (solutions, references,
        checker) when installed into site-packages, and the forbidden packages."""
        # A package is hidden where every assignment forbids it: one that some assignment is
        # written in (torch for a7) stays visible, and the per-assignment checks refuse it elsewhere.
        forbidden_everywhere = set.intersection(*map(set, self.forbidden.values())) if self.forbidden else set()
        names = {"assignments", "reference", "checkers", "grader"} | forbidden_everywhere
        prefixes = (sys.prefix, sys.base_prefix)
        hidden = []
        for name in sorted(names):
            try:
                spec = find_spec(name)
            except (ImportError, ValueError):
                continue
            for location in (spec.submodule_search_locations or []) if spec else []:
                if location.startswith(prefixes) and os.path.isdir(location):
                    hidden.append(location)
        return hidden

    def _worker_runtime(self) -> Path:
        return Path("/opt/dlgrade/runtime") if self.bwrap else self._runtime

    def _inside(self, path: Path) -> str:
        return "/opt/dlgrade/submission" if self.bwrap and path == self._submission else str(path)

    def _send(self, message: dict) -> None:
        data = wire.encode(message)
        view = memoryview(data)
        while view:
            written = os.write(self._requests, view)
            view = view[written:]

    def _receive(self, deadline: float) -> dict:
        def read(n: int) -> bytes:
            chunks, left = [], n
            while left:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self._answers], [], [], remaining)[0]:
                    raise TimeoutError()
                chunk = os.read(self._answers, min(left, 1 << 20))
                if not chunk:
                    raise EOFError()
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        return wire.receive(_Reader(read))

    def _stop(self, wait_first: bool = False) -> int | None:
        """Stop the worker and its whole process group; its exit status. wait_first: the worker
        closed the channel, so give it a moment to exit by itself and report its own status."""
        proc, self._proc = self._proc, None
        self._ready = False
        self._live.clear()
        if proc is None:
            return None
        for fd in (self._requests, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass
        status = None
        if wait_first:
            try:
                status = proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        status = proc.wait() if status is None else status
        if proc.stderr:
            proc.stderr.close()
        return status


class _Reader:
    """A stream-like wrapper whose read(n) honours a deadline."""

    def __init__(self, read):
        self.read = read


def _copy_modules(root: Path, dest: Path) -> None:
    """Copy the submission's modules (ASSIGNMENT/*.py of the course's assignments), nothing else,
    through grader.intake: names checked, links followed only inside the submission (one that
    leaves it raises intake.Refused), sizes bounded."""
    from grader import intake

    try:
        intake.copy_modules(root, dest)
    except BaseException:
        shutil.rmtree(dest.parent, ignore_errors=True)  # the private folder made for this worker alone
        raise


def _handles(value: Any):
    if isinstance(value, Handle):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _handles(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _handles(v)


def _student_error(error: Any) -> StudentError | None:
    if error is None:
        return None
    if not isinstance(error, dict):
        return StudentError("crash", "the worker sent a malformed error")
    return StudentError(str(error.get("kind", "crash")), str(error.get("message", ""))[:2000],
                        str(error.get("traceback", ""))[:4000])


def _describe_exit(status: int | None) -> str:
    if status is None:
        return ""
    if status > 128:  # bubblewrap exits with 128 + the signal that killed the sandboxed process
        status = 128 - status
    if status < 0:
        try:
            return f" (killed by {signal.Signals(-status).name})"
        except ValueError:
            return f" (killed by signal {-status})"
    return f" (exit status {status})"
