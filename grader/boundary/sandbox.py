"""Student code in separate, confined worker processes, behind the same `Submission` interface.

The trusted process (this one) draws inputs, computes every verdict and writes every result; a
worker (grader/boundary/worker.py) only imports the student's modules and runs calls. There is one worker
per assignment, and one at a time per submission (a1 forbids torch, a7 is written in it: each
worker sees exactly what its assignment allows). A worker:

- gets a copy of that assignment's modules of the submission and of the worker's own modules,
  nothing else of the course (not the solutions, the references, the checker, other
  submissions); the copies are readable only by the worker's own uid, in a folder that is
  removed when the sandbox closes, or at the next start after a grader killed with SIGKILL;
- is confined with bubblewrap where it is installed: a read-only file system holding only the
  Python installation (without the packages its assignment forbids) and the two copies, private
  /tmp and /dev/shm of bounded size, no network, its own PID namespace, and it dies with the
  grader. Without bubblewrap it confines itself with Landlock (grader.boundary.confine): read-only the
  Python installation (forbidden packages left out) and its copies, writable only its private
  temporary folder, no TCP, a private network namespace where the kernel allows one, no signals
  outside. Where neither exists it runs with the limits alone, and says so;
- runs as a uid of its own when the grader is root, so the kernel's process limit is per worker;
- is held to limits per submission, not per process: memory and temporary files of all its
  processes together, the number of its processes (grader.boundary.worker_tree), taken from the course's
  manifest of the assignment graded, never from what the submission ships;
- is charged the CPU time of its whole process tree, read by this process from the kernel
  (cgroup v2 accounting, or /proc), never what the worker reports. A generous wall-clock
  allowance stops sleeps and deadlocks; every wait on the worker counts, status requests too.

A worker that dies (segfault, `os._exit`, a limit, a timeout) costs the call that killed it;
the next call starts a fresh worker, and caches held by the dead one are reported as lost.
"""

from __future__ import annotations

import fcntl
import glob
import os
import resource
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from dlgrade.grader.boundary import confine, intake, wire
from dlgrade.grader.boundary.submission import (DEFAULT_CALL_TIMEOUT, BatchCall, CallOutcome, Handle, StudentError, Submission,
                                                blame_the_machine, forbidden_imports, raw_allowance, run_delay)
from dlgrade.grader.boundary.worker_tree import (Cgroup, Watchdog, WorkerTree, folder_bytes, kill_uid,
                                                 remove_stale_cgroups, unlinked_file_bytes)

#: Workers started by root run as unprivileged user ids from this range, one of their own each,
#: so that no worker can signal another or use up another's process limit.
WORKER_UIDS = range(1 << 28, 1 << 30)
#: CPU seconds a call gets beyond its budget to stop itself (keeping its caches) before the
#: whole worker is stopped.
GRACE = 1.0
#: Seconds between two looks at a worker that is being waited for.
_TICK = 0.02
#: Seconds a worker may take to start (the Python interpreter and numpy; no student code).
START_TIMEOUT = 60.0
#: Seconds a request outside a call (the worker's configuration, a cache to forget) may wait for
#: room in the worker's request pipe.
SEND_TIMEOUT = 5.0
#: The most modules, and bytes per module, copied of one assignment folder of a submission.
MAX_MODULES, MAX_MODULE_BYTES = 200, 4 << 20
_WORKER_MODULES = ("submission.py", "wire.py", "worker.py", "tensor_driver.py", "confine.py")
_PRIVATE_PREFIX = "dlgrade-sandbox-"
#: The kit, hidden from every worker, and each package mapped into it (an editable install finds
#: those where their folders are, apart from one another).
_KIT_PACKAGES = ("dlgrade", "dlgrade.assignments", "dlgrade.reference", "dlgrade.checkers", "dlgrade.grader")
#: Where the worker's modules sit in its runtime folder: their own package path, so that they
#: import one another as they do here.
_WORKER_PACKAGE = ("dlgrade", "grader", "boundary")
_NVIDIA_CONTROL = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")
_notices_given: set[str] = set()
_stale_checked = False


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's worker: memory and processes are for all its
    processes together (and memory includes its temporary files); the others per process."""

    memory_bytes: int = 2 << 30
    file_bytes: int = 16 << 20
    open_files: int = 256
    processes: int = 16
    cpu_seconds: int = 600
    tmp_bytes: int = 256 << 20
    #: Whether the machine's GPUs are passed to the worker (the GPU tier only).
    gpus: bool = False
    #: Whether the worker may use TCP/IP on a loopback of its own (the distributed tier's process
    #: groups); elsewhere it may make no socket at all (sockets hold kernel memory that no limit
    #: on processes sees).
    loopback: bool = False


def _manifest(assignment: str) -> dict:
    """The course's manifest of `assignment` (never a submission's copy); {} if it has none."""
    import tomllib

    from dlgrade.assignments import course_dir

    path = course_dir() / assignment / "manifest.toml"
    if not path.is_file():
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f)


def course_limits(assignment: str) -> Limits:
    """The limits of a worker grading `assignment`: the defaults, changed where the course's
    manifest of that assignment asks in its `[sandbox]` table (processes, memory_mb, tmp_mb,
    gpus, loopback). Nothing a submission contains changes them."""
    table = _manifest(str(assignment)).get("sandbox", {})
    limits = Limits()
    changes: dict[str, Any] = {}
    if "processes" in table:
        changes["processes"] = int(table["processes"])
    if "memory_mb" in table:
        changes["memory_bytes"] = int(table["memory_mb"]) << 20
    if "tmp_mb" in table:
        changes["tmp_bytes"] = int(table["tmp_mb"]) << 20
    if "gpus" in table:
        changes["gpus"] = bool(table["gpus"])
    if "loopback" in table:
        changes["loopback"] = bool(table["loopback"])
    return replace(limits, **changes)


def bwrap_path() -> str | None:
    """The bubblewrap executable, or None where it is not installed (or disabled for testing)."""
    if os.environ.get("DLGRADE_NO_BWRAP"):
        return None
    return shutil.which("bwrap")


def landlock_abi() -> int:
    """The Landlock ABI of this kernel; 0 where it has none (or DLGRADE_NO_LANDLOCK is set, for testing)."""
    if os.environ.get("DLGRADE_NO_LANDLOCK"):
        return 0
    from dlgrade.grader.boundary.confine import landlock_abi as abi

    return abi()


def confinement() -> str:
    """How student code is confined on this machine: "bubblewrap", "landlock" or "none"."""
    if bwrap_path():
        return "bubblewrap"
    return "landlock" if landlock_abi() >= 1 else "none"


def exposure(mode: str | None = None) -> str:
    """What student code can reach on this machine, in the given (default: this machine's) mode."""
    mode = mode or confinement()
    if mode == "bubblewrap":
        return ("student code sees only the Python installation (read-only, without the packages its assignment "
                "forbids) and its own copies, with private /tmp and /dev/shm, no network, and no other processes")
    if mode == "landlock":
        return ("student code can read the Python installation and its own copies only and write only its private "
                "temporary folder; it can still learn whether a path exists (stat)")
    return ("student code can read every file this user can read (the course's solutions and references, other "
            "students' submissions), write wherever this user can, and reach the network")


def _notice(text: str) -> None:
    """Say `text` on stderr, once per process."""
    if text not in _notices_given:
        _notices_given.add(text)
        print(f"dlgrade: {text}", file=sys.stderr)


def _readable_by_others(path: Path) -> bool:
    """Whether an unprivileged user can reach `path` (every folder above it searchable)."""
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        try:
            if not os.stat(folder).st_mode & 0o005:
                return False
        except OSError:
            return False
    return True


def installation_paths() -> list[str]:
    """The folders of the Python installation a worker needs to read: the system's libraries,
    the prefixes and the interpreter's own folder (a virtual environment and its base)."""
    found = [top for top in ("/usr", "/bin", "/lib", "/lib64", "/sbin") if os.path.exists(top)]
    for prefix in (sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent.parent)):
        if not any(prefix == top or prefix.startswith(top + "/") for top in found):
            found.append(prefix)
    return list(dict.fromkeys(found))


def hidden_locations(packages) -> list[str]:
    """Where the named packages (or modules; dotted names too) are installed, in the Python
    installation: folders and single-file modules, as found on sys.path."""
    prefixes = tuple(installation_paths())
    found = []
    for name in sorted(set(packages)):
        locations = set()
        try:
            spec = find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            locations |= set(spec.submodule_search_locations or [])
            if spec.origin and spec.origin not in ("built-in", "frozen") and not spec.submodule_search_locations:
                locations.add(spec.origin)
        relative = name.replace(".", os.sep)
        for entry in sys.path:
            if entry and os.path.isdir(entry):
                locations |= {p for p in glob.glob(os.path.join(glob.escape(entry), relative))
                              + glob.glob(os.path.join(glob.escape(entry), f"{relative}.*")) if not p.endswith(".pth")}
        found += [os.path.realpath(p) for p in locations
                  if os.path.exists(p) and os.path.realpath(p).startswith(prefixes)]
    return sorted(set(found))


def course_locations() -> list[str]:
    """The folders of the course in use (its solutions, its own checks) that lie inside the
    Python installation a worker reads, resolved: never mounted or granted, wherever an
    instructor keeps the course. (A course folder that holds the installation, a virtual
    environment inside the course repository, is outside what the worker reads already.)"""
    from dlgrade.assignments import active_source

    source = active_source()
    prefixes = [os.path.realpath(p).rstrip("/") for p in installation_paths()]
    found = []
    for folder in (source.assignments_dir, source.checks_dir):
        if folder is None:
            continue
        real = os.path.realpath(folder)
        if any(real == p or real.startswith(p + "/") for p in prefixes):
            found.append(real)
    return found


def _split(roots: list[str], denied: list[str]) -> list[str]:
    """Paths that together cover `roots` except `denied` (a Landlock rule grants a whole
    hierarchy, so a folder holding a denied path is granted entry by entry instead). Every path
    is resolved first: a rule follows links, so a link to a folder holding a denied path (a
    virtual environment's lib64 -> lib) must be split as well."""
    denied_set = {os.path.realpath(d) for d in denied}
    out: list[str] = []
    split: set[str] = set()

    def cover(path: str) -> None:
        real = os.path.realpath(path)
        if real in denied_set or real in split:
            return
        if not any(d.startswith(real.rstrip("/") + "/") for d in denied_set):
            out.append(real)
            return
        split.add(real)
        try:
            entries = sorted(os.listdir(real))
        except OSError:
            return
        for entry in entries:
            cover(os.path.join(real, entry))

    for root in roots:
        cover(root)
    return list(dict.fromkeys(out))


def _bind_without(path: str, denied: set[str]) -> list[str]:
    """bubblewrap arguments that mount `path` read-only without the `denied` paths (resolved):
    a folder that holds one is made empty and its other entries are bound one by one, links
    kept as links (their targets are mounted, or not, on their own), so that what is denied is
    not mounted at all."""
    real = os.path.realpath(path)
    if real in denied:
        return []
    if not any(d.startswith(real.rstrip("/") + "/") for d in denied):
        return ["--ro-bind", path, path]
    args = ["--perms", "0755", "--dir", path]
    try:
        entries = sorted(os.listdir(real))
    except OSError:
        return args
    for entry in entries:
        child = os.path.join(path, entry)
        if os.path.islink(child):
            args += ["--symlink", os.readlink(child), child]
        else:
            args += _bind_without(child, denied)
    return args


def gpu_devices() -> list[str]:
    """The NVIDIA device nodes of this machine (none without a GPU)."""
    found = sorted(p for p in glob.glob("/dev/nvidia[0-9]*") if p[len("/dev/nvidia"):].isdigit())
    return found + [p for p in _NVIDIA_CONTROL if os.path.exists(p)] if found else []


def bwrap_arguments(bwrap: str, runtime: str, submission: str, hidden: list[str], tmp_bytes: int,
                    gpu_nodes: list[str] = ()) -> list[str]:
    """The bubblewrap command line of a worker: the Python installation read-only without the
    `hidden` paths (not mounted at all), its two copies at /opt/dlgrade, private /tmp and /dev/shm
    of `tmp_bytes` each, fresh /proc and /dev, no network; `gpu_nodes` (NVIDIA device nodes) bound
    into /dev with what CUDA reads beside them (for the GPU tier only)."""
    denied = {os.path.realpath(h) for h in hidden}
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try"]
    if os.getuid() != 0:
        args.append("--unshare-user")  # needed to sandbox without privileges
    for top in ("/usr", "/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += _bind_without(top, denied)
    # The private /tmp comes before the binds: a Python installation under /tmp (a virtual
    # environment in a CI checkout) is then bound inside it rather than hidden by it.
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
             "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/tmp"}
    for prefix in installation_paths():
        if prefix in ("/usr", "/bin", "/lib", "/lib64", "/sbin"):
            continue
        for parent in reversed(Path(prefix).parents):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += _bind_without(prefix, denied)
    args += ["--perms", "0755", "--dir", "/opt/dlgrade", "--ro-bind", runtime, "/opt/dlgrade/runtime",
             "--ro-bind", submission, "/opt/dlgrade/submission",
             "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/dev/shm"]
    for node in gpu_nodes:
        args += ["--dev-bind", node, node]
    if gpu_nodes:
        for path in ("/sys/bus/pci", "/sys/devices", "/sys/module/nvidia", "/etc/nvidia"):
            args += ["--ro-bind-try", path, path]
    return args + ["--chdir", "/tmp"]


def landlock_rules(runtime: str, submission: str, tmp: str, hidden: list[str], gpu_nodes: list[str] = ()) -> dict:
    """What a worker confined by Landlock may reach: read the Python installation (without the
    `hidden` paths) and its two copies, write `tmp`, use /dev/null (and the GPUs for the GPU tier)."""
    roots = installation_paths()
    read = _split(roots, hidden) + [runtime, submission, "/etc/ld.so.cache", "/etc/localtime",
                                    "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu",
                                    # gloo (the a7 tier) lists the network and PCI devices
                                    "/sys/class/net", "/sys/devices/virtual/net", "/sys/bus/pci/devices",
                                    *glob.glob("/sys/devices/pci*")]
    if gpu_nodes:
        read += ["/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/sys/module/nvidia"]
    return {"read": read, "list": [os.path.realpath(r) for r in roots], "write": [tmp],
            "devices": ["/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random", *gpu_nodes]}


# -- private folders ---------------------------------------------------------------------------------


def _private_root() -> Path:
    return Path(tempfile.gettempdir())


def _lock_is_free(folder: Path) -> bool:
    """Whether the grader that made `folder` is gone: its lock exists and can be taken. A folder
    without one is not taken for ours (another program's, or one being made right now)."""
    try:
        fd = os.open(folder / "owner.lock", os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_stale() -> None:
    """Remove what graders killed with SIGKILL left behind: their sandbox folders (ours only: our
    owner, not a link, holding a lock that nobody holds), the processes of those workers' uids,
    and the workers' cgroups."""
    root = _private_root()
    for folder in root.glob(f"{_PRIVATE_PREFIX}*"):
        try:
            info = os.lstat(folder)
        except OSError:
            continue
        if not os.path.isdir(folder) or os.path.islink(folder) or info.st_uid != os.getuid():
            continue
        if not _lock_is_free(folder):
            continue
        try:
            uids = [int(u) for u in (folder / "uids").read_text().split()]
        except (OSError, ValueError):
            uids = []
        for uid in uids:
            if uid in WORKER_UIDS:
                kill_uid(uid)
        shutil.rmtree(folder, ignore_errors=True)
    # A worker's cgroup is named after its sandbox folder, made (and locked) before the cgroup;
    # a cgroup whose folder is gone is stale too.
    def alive(name: str) -> bool:
        folder = root / f"{_PRIVATE_PREFIX}{name.split('-')[0]}"
        return folder.is_dir() and not _lock_is_free(folder)

    remove_stale_cgroups(alive)


class _PrivateFolder:
    """A sandbox's folder: `owner.lock` is held while this grader lives (so that a later one
    can tell a stale folder), `uids` lists the worker uids it used; the copies sit under it,
    each readable only by its worker's uid."""

    def __init__(self):
        global _stale_checked
        if not _stale_checked:
            _stale_checked = True
            remove_stale()
        self.path = Path(tempfile.mkdtemp(prefix=_PRIVATE_PREFIX, dir=_private_root()))
        self.token = self.path.name[len(_PRIVATE_PREFIX):]
        os.chmod(self.path, 0o711)  # workers may pass through to their own folder, not list this one
        self._lock = os.open(self.path / "owner.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def note_uid(self, uid: int) -> None:
        with open(self.path / "uids", "a") as f:
            f.write(f"{uid}\n")

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)


def _own(path: Path, uid: int | None) -> None:
    """Make `path` and what it holds readable by `uid` alone (the owner's bits only)."""
    for p in [path, *path.rglob("*")]:
        if uid is not None:
            os.chown(p, uid, uid, follow_symlinks=False)
        p.chmod(0o700 if p.is_dir() else 0o400)


def _copy_modules(folder: Path, dest: Path) -> None:
    """Copy the modules of one assignment folder of a submission (regular files named *.py,
    not links, of bounded size and number), nothing else."""
    dest.mkdir(parents=True)
    if not folder.is_dir() or folder.is_symlink():
        return
    copied = 0
    for source in sorted(folder.glob("*.py")):
        if copied >= MAX_MODULES:
            break
        try:
            info = os.lstat(source)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_size < MAX_MODULE_BYTES:
            shutil.copyfile(source, dest / source.name, follow_symlinks=False)
            copied += 1


# -- the submission ----------------------------------------------------------------------------------------


class SandboxedSubmission(Submission):
    """A student's folder, run by confined worker processes (one per assignment, one at a time)."""

    def __init__(self, root: Path | str, call_timeout: float = DEFAULT_CALL_TIMEOUT, limits: Limits | None = None,
                 forbidden: dict[str, list[str]] | None = None, use_bwrap: bool | None = None):
        """limits: the workers' limits; by default those of each assignment's course manifest
        (see `course_limits`). forbidden: per assignment, the packages its worker may not see."""
        self.root = Path(root)
        self.call_timeout = call_timeout
        self.limits = limits
        self.forbidden = forbidden if forbidden is not None else forbidden_imports()
        self.bwrap = bwrap_path() if use_bwrap in (None, True) else None
        if use_bwrap and self.bwrap is None:
            raise RuntimeError("bubblewrap (bwrap) is not installed")
        self.landlock = 0 if self.bwrap else landlock_abi()
        self.mode = "bubblewrap" if self.bwrap else "landlock" if self.landlock else "none"
        if self.mode == "landlock":
            _notice("bubblewrap (bwrap) not found: student code is confined with Landlock instead "
                    f"({exposure('landlock')}); apt-get install bubblewrap for the full sandbox.")
        elif self.mode == "none":
            _notice(f"bubblewrap (bwrap) not found and Landlock unavailable: {exposure('none')}. "
                    "Student code runs in a separate process with resource limits only.")
        self._folder = _PrivateFolder()
        # The submission is read once, through grader.boundary.intake (names checked, links followed only
        # inside it: one that leaves it raises intake.Refused), into a copy only this process
        # reads; each assignment's worker gets its modules from that copy.
        try:
            self.root = intake.copy_modules(self.root, self._folder.path / "staged")
            for path in [self.root, *self.root.rglob("*")]:
                path.chmod(0o700 if path.is_dir() else 0o600)
        except BaseException:
            self._folder.remove()
            raise
        self._runtime = self._folder.path / "runtime"
        package = self._runtime.joinpath(*_WORKER_PACKAGE)
        package.mkdir(parents=True)
        for depth in range(2, len(_WORKER_PACKAGE) + 1):  # dlgrade itself is a namespace package
            self._runtime.joinpath(*_WORKER_PACKAGE[:depth], "__init__.py").write_text("")
        for name in _WORKER_MODULES:
            shutil.copyfile(Path(__file__).parent / name, package / name)
        for p in [self._runtime, *self._runtime.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        self._workers: dict[str, _Worker] = {}
        self._current: _Worker | None = None
        self._cpu_done = 0.0  # CPU seconds of workers that have ended
        self._waited = 0.0
        self._raw_waited = 0.0
        # Start the worker of the first assignment the submission has now: it boots while the
        # checker imports torch and draws its first case.
        first = next((a for a in sorted(self.forbidden) if (self.root / a).is_dir()), None)
        if first is not None:
            self._worker(first).start()

    # -- the interface -----------------------------------------------------------------------

    def function_status(self, assignment: str, module: str, function: str) -> StudentError | None:
        cpu, wall = self.time_left(), self.wall_left()
        if cpu <= 0 or wall <= 0:
            return self.budget_spent()
        answer = self._worker(assignment).ask({"op": "status", "assignment": assignment, "module": module,
                                               "function": function}, cpu, wall, f"importing {module}.py")
        if isinstance(answer, StudentError):
            return answer
        return _student_error(answer.get("error"))

    def call(self, assignment, module, function, args, kwargs=None, keep=(), timeout=None, via=None) -> CallOutcome:
        return self.call_batch([BatchCall(assignment, module, function, tuple(args), dict(kwargs or {}), tuple(keep),
                                          via)], timeout)[0]

    def call_batch(self, calls: list[BatchCall], timeout: float | None = None) -> list[CallOutcome]:
        """The calls in one message to the worker of their assignment, answered one by one;
        the exercise's budget holds for them together and is looked at after each (see
        `_Worker.exchange`). A call given the cache of an earlier call that failed is not made."""
        if not calls:
            return []
        assignment = calls[0].assignment
        if any(c.assignment != assignment for c in calls):  # one worker at a time: one batch per assignment
            return [outcome for c in calls for outcome in self.call_batch([c], timeout)]
        if len(calls) > 1 and (len(calls) > MAX_BATCH or _array_bytes([(c.args, c.kwargs) for c in calls])
                               > wire.MAX_ARRAY_BYTES // 2):
            return Submission.call_batch(self, calls)  # one message each: no request near the wire's bounds
        worker = self._worker(assignment)
        requests, names, ready = [], [], []
        for index, c in enumerate(calls):
            values = [*c.args, *c.kwargs.values()]
            lost = [a for a in _handles(values) if a.id >= 0 and a.id not in worker.live]
            unmade = [a for a in _handles(values) if a.id < 0 and -1 - a.id >= index]
            if lost or unmade:
                why = "its cache was lost when an earlier call crashed the worker" if lost else \
                    "it names the cache of a call that does not come before it"
                ready.append(CallOutcome(error=StudentError("crash", why)))
                continue
            ready.append(None)
            requests.append({"assignment": c.assignment, "module": c.module, "function": c.function,
                             "args": list(c.args), "kwargs": dict(c.kwargs), "keep": list(c.keep),
                             "index": index, **({"via": c.via} if c.via else {}),
                             **({"requires_shapes": [list(shape) for shape in c.requires_shapes]}
                                if c.requires_shapes is not None else {}),
                             **({"chained": [[*link[:3], None if link[3] is None else list(link[3])]
                                             for link in c.chained]} if c.chained else {})})
            names.append(c.function)
        cpu, wall = self.time_left(timeout), self.wall_left(timeout)
        if cpu <= 0 or wall <= 0:
            return [r or CallOutcome(error=self.budget_spent()) for r in ready]
        before = self.student_seconds()
        if requests:
            request = {"op": "call", **requests[0]} if len(requests) == 1 else {"op": "batch", "calls": requests}
            answers = iter(worker.exchange(request, names, cpu, wall))
        seconds = (self.student_seconds() - before) / max(len(requests), 1)
        outcomes = [r if r is not None else self._outcome(next(answers), c.function, seconds, worker)
                    for r, c in zip(ready, calls)]
        return outcomes

    def _outcome(self, answer: dict | StudentError, function: str, seconds: float, worker: "_Worker") -> CallOutcome:
        """A call's outcome from the worker's answer (untrusted data: every part is checked)."""
        if isinstance(answer, StudentError):
            return CallOutcome(error=answer, seconds=seconds)
        try:
            outcome = CallOutcome(value=answer.get("value"), args_after=list(answer.get("args_after") or []),
                                  kwargs_after=dict(answer.get("kwargs_after") or {}),
                                  error=_student_error(answer.get("error")),
                                  aliases=[str(a) for a in answer.get("aliases") or []][:100],
                                  warnings=[str(w) for w in answer.get("warnings") or []][:100],
                                  output=str(answer.get("output", ""))[-2000:], seconds=seconds,
                                  global_random_used=answer.get("global_random_used") is True)
        except (TypeError, ValueError, AttributeError) as e:
            return CallOutcome(error=StudentError("crash", "the worker sent a malformed answer", detail=f"({e})"),
                               seconds=seconds)
        if outcome.error is None:
            worker.live |= {v.id for v in _handles(outcome.value)}
        elif outcome.error.kind == "timeout":
            # The worker stopped its own call: the message is ours, from what we measured.
            outcome.error = self.timed_out(f"{function} did not return within its time budget "
                                           f"({self.budget_words(seconds)})")
        return outcome

    def forget(self, handle: Handle) -> None:
        if self._current is not None:
            self._current.forget(handle)

    def student_seconds(self) -> float:
        return self._cpu_done + sum(w.cpu() for w in self._workers.values())

    def overall_allowance(self, exercises: int, budget: float) -> float:
        # Where the kernel does not say how long the worker waited for a CPU, waits count that
        # time too, and a busy machine must not use the allowance up.
        allowance = super().overall_allowance(exercises, budget)
        return allowance if os.path.exists("/proc/self/schedstat") else raw_allowance(allowance)

    def waited_seconds(self) -> float:
        return self._waited

    def raw_waited_seconds(self) -> float:
        return self._raw_waited

    def gpu_count(self, assignment: str) -> int:
        """The machine's GPUs, as this process sees them, where the worker of `assignment` is
        given them (the GPU tier, in bubblewrap with its device nodes bound); else none."""
        if not (self.limits or course_limits(assignment)).gpus or not gpu_devices():
            return 0
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0

    def close(self) -> None:
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()
        self._current = None
        self._folder.remove()

    # -- workers ------------------------------------------------------------------------------------

    def _worker(self, assignment: str) -> "_Worker":
        """The worker of `assignment`; the worker of another assignment is stopped first, so
        that the submission's limits hold for all its processes together."""
        worker = self._workers.get(assignment)
        if worker is None:
            worker = self._workers[assignment] = _Worker(self, assignment)
        if self._current is not None and self._current is not worker:
            self._current.stop()
        self._current = worker
        return worker


class _Worker:
    """The worker process of one assignment of a submission (restarted after a crash)."""

    def __init__(self, owner: SandboxedSubmission, assignment: str):
        self.owner, self.assignment = owner, assignment
        self.limits = owner.limits or course_limits(assignment)
        self.hidden = hidden_locations([*owner.forbidden.get(assignment, ()), *_KIT_PACKAGES]) + course_locations()
        self.gpus = gpu_devices() if self.limits.gpus else []
        root = os.getuid() == 0
        # Root's workers get a uid of their own. Without bubblewrap, an installation only root
        # can read is kept readable by keeping root's file-system identity, without any
        # capability, which only Landlock may be trusted with.
        readable = self.owner.bwrap is not None or all(_readable_by_others(Path(p)) for p in
                                                       (sys.executable, sys.prefix, sys.base_prefix))
        self.keep_file_access = root and not readable and owner.mode == "landlock"
        self.uid = secrets.choice(WORKER_UIDS) if root and (readable or self.keep_file_access) else None
        if root and self.uid is None:
            _notice("running as root without bubblewrap or Landlock, with a Python installation that an unprivileged "
                    "user cannot read: the worker keeps root's rights.")
        if self.uid is not None:
            owner._folder.note_uid(self.uid)
        # The copies belong to the worker's uid, readable by it alone; a worker that keeps root's
        # file-system identity reads them as root, and Landlock keeps the others out.
        self.file_owner = None if self.keep_file_access else self.uid
        self.home = owner._folder.path / assignment
        self.home.mkdir(mode=0o700)
        _copy_modules(owner.root / assignment, self.home / "submission" / assignment)
        _own(self.home / "submission", self.file_owner)
        if self.file_owner is not None:
            os.chown(self.home, self.file_owner, self.file_owner)
        self.proc: subprocess.Popen | None = None
        self.ready = False
        self.live: set[int] = set()
        self._start_failure: StudentError | None = None
        self._baseline = 0.0
        self.tree: WorkerTree | None = None
        self.watchdog: Watchdog | None = None
        self.cgroup: Cgroup | None = None

    # -- time ----------------------------------------------------------------------------------------

    def cpu(self) -> float:
        """CPU seconds of this worker's tree since it was ready (0 when it is not running)."""
        if self.tree is None or not self.ready:
            return 0.0
        return max(self.tree.cpu_seconds() - self._baseline, 0.0)

    # -- starting and stopping ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker process (it confines itself and says it is ready; see `ask`)."""
        tmp = self.home / "tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o700)
        if self.file_owner is not None:
            os.chown(tmp, self.file_owner, self.file_owner)
        requests_read, self._requests = os.pipe()
        # Written without blocking: a worker that stops reading its requests (one of its threads
        # answering in its place) must not hold the trusted side in a write for ever.
        os.set_blocking(self._requests, False)
        self._answers, answers_write = os.pipe()
        self._unread = bytearray()  # bytes of the worker's next answers, read ahead of their turn
        bwrap = self.owner.bwrap
        runtime = "/opt/dlgrade/runtime" if bwrap else str(self.owner._runtime)
        inside = "/opt/dlgrade/submission" if bwrap else str(self.home / "submission")
        bootstrap = (f"import sys; sys.path.insert(0, {runtime!r}); "
                     f"from dlgrade.grader.boundary.worker import serve; serve({requests_read}, {answers_write})")
        jail = bwrap_arguments(bwrap, str(self.owner._runtime), str(self.home / "submission"), self.hidden,
                               self.limits.tmp_bytes, self.gpus) if bwrap else []
        private_tmp = "/tmp" if bwrap else str(tmp)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": private_tmp, "TMPDIR": private_tmp, "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.cgroup = Cgroup.create(f"{self.owner._folder.token}-{self.assignment}-{secrets.token_hex(3)}")
        enforced = self.cgroup.limit(self.limits.memory_bytes, self.limits.processes) if self.cgroup else (False, False)
        join = self.cgroup.join_file() if self.cgroup else None
        self.proc = subprocess.Popen([*jail, sys.executable, "-I", "-c", bootstrap], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     pass_fds=(requests_read, answers_write),
                                     preexec_fn=lambda: self._in_child(join), cwd=private_tmp if not bwrap else "/")
        os.close(requests_read)
        os.close(answers_write)
        self.live.clear()
        self.tree = WorkerTree(self.proc.pid, self.uid, self.cgroup, self._tmp_usage(tmp), tmp_in_ram=bool(bwrap))
        # The kernel holds the process count where the uid is the worker's own or pids.max is set.
        count = None if (self.uid is not None or enforced[1]) else self.limits.processes
        # A bubblewrap worker's temporary files are in tmpfs mounts of bounded size; a Landlock
        # worker's are in its private folder, bounded by the watchdog.
        self.watchdog = Watchdog(self.tree, self.limits.memory_bytes, count, None if bwrap else self.limits.tmp_bytes)
        config = {"root": inside, "forbidden": self.owner.forbidden, "call_timeout": self.owner.call_timeout,
                  "drop_to_uid": self.uid, "keep_file_access": self.keep_file_access, "no_new_privs": True}
        if confine.seccomp_supported():
            config["seccomp"] = {"private_network": bool(bwrap), "loopback": self.limits.loopback}
        if bwrap and landlock_abi() >= 1:
            # Inside bubblewrap too: what it mounts stays read-only to the worker, /proc included
            # (a process may otherwise lower its own priority through /proc/self/autogroup).
            config["landlock"] = {"read": ["/"], "write": ["/tmp", "/dev/shm"],
                                  "devices": ["/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random",
                                              *self.gpus]}
            config["loopback"] = self.limits.loopback
        if not bwrap:
            config["die_with_parent"] = True
            config["network"] = "private"
            if self.owner.mode == "landlock":
                config["landlock"] = landlock_rules(str(self.owner._runtime), str(self.home / "submission"), str(tmp),
                                                    self.hidden, self.gpus)
        self._wants_landlock = "landlock" in config
        try:
            self._send(config)
        except OSError as e:
            self._start_failure = self._failed_start(e)

    def _tmp_usage(self, tmp: Path):
        """How to measure the bytes of the worker's temporary files from here."""
        if self.owner.bwrap is None:
            device = os.stat(tmp).st_dev

            def in_the_folder() -> int:
                # Files removed while open (or mapped) still take their space.
                held = unlinked_file_bytes(self.tree.pids(), device) if self.tree else 0
                return folder_bytes(tmp) + held
            return in_the_folder

        def in_the_sandbox() -> int:
            # The private /tmp and /dev/shm are tmpfs mounts in the worker's mount namespace,
            # reached through any of its processes' /proc/PID/root.
            # Any process of the tree but bubblewrap's own will do: the last look's are enough.
            for pid in self.tree.last_seen_pids() if self.tree else []:
                if self.proc is None or pid == self.proc.pid:
                    continue
                try:
                    return sum((s.f_blocks - s.f_bfree) * s.f_frsize
                               for s in (os.statvfs(f"/proc/{pid}/root/tmp"), os.statvfs(f"/proc/{pid}/root/dev/shm")))
                except OSError:
                    continue
            return 0
        return in_the_sandbox

    def _in_child(self, cgroup_join: str | None) -> None:
        """In the child, before exec: its cgroup, its own session, and the per-process limits."""
        if cgroup_join:
            with open(cgroup_join, "w") as f:
                f.write("0")
        os.setsid()
        lim = self.limits
        for which, value in ((resource.RLIMIT_AS, lim.memory_bytes), (resource.RLIMIT_FSIZE, lim.file_bytes),
                             (resource.RLIMIT_NOFILE, lim.open_files), (resource.RLIMIT_NPROC, lim.processes),
                             (resource.RLIMIT_CPU, lim.cpu_seconds), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(which, (value, value))

    def _await_ready(self) -> StudentError | None:
        """Wait for the started worker's first message (no student code has run yet)."""
        try:
            ready = self._receive(time.monotonic() + START_TIMEOUT, lambda: None)
            if not ready.get("ready"):
                raise wire.WireError(str(ready.get("error", "no ready message"))[:500])
        except (TimeoutError, EOFError, OSError, wire.WireError) as e:
            return self._failed_start(e)
        if self._wants_landlock and not ready.get("landlock"):
            return self._failed_start(wire.WireError("the worker did not confine itself with Landlock"))
        if confine.seccomp_supported() and not ready.get("seccomp"):
            return self._failed_start(wire.WireError("the worker did not install its seccomp filter"))
        self.ready = True
        self._baseline = self.tree.cpu_seconds()
        return None

    def _failed_start(self, e: Exception) -> StudentError:
        error = ""
        if self.proc is not None and self.proc.poll() is not None and self.proc.stderr:
            error = self.proc.stderr.read(4000).decode(errors="replace")
        self.stop()
        return StudentError("crash", "the sandboxed worker did not start",
                            detail=f"({type(e).__name__}: {e}) {error[-500:]}")

    def stop(self, wait_first: bool = False) -> int | None:
        """Stop the worker and every process it started; its exit status. wait_first: the
        worker closed the channel, so give it a moment to exit by itself and report its status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        self.owner._cpu_done += self.cpu()
        self.ready = False
        self.live.clear()
        if self.watchdog is not None:
            self.watchdog.stop()
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
        self.tree.kill()
        status = proc.wait() if status is None else status
        if proc.stderr:
            proc.stderr.close()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        shutil.rmtree(self.home / "tmp", ignore_errors=True)  # its files go with it
        self.tree.close()
        self.tree = None
        return status

    # -- requests --------------------------------------------------------------------------------------

    def ask(self, request: dict, cpu_limit: float, wait_limit: float, function: str) -> dict | StudentError:
        """Send a request and wait for the answer, within `cpu_limit` CPU seconds of the
        worker's whole tree and `wait_limit` seconds of waiting (not counting the time its
        processes were ready to run without a CPU), and `raw_allowance(wait_limit)` seconds of
        wall-clock time in any case; every way it can go wrong (the worker dies, overruns, is
        stopped by a limit, or answers nonsense) is a StudentError."""
        return self.exchange(request, [function], cpu_limit, wait_limit)[0]

    def exchange(self, request: dict, functions: list[str], cpu_limit: float,
                 wait_limit: float) -> list[dict | StudentError]:
        """`ask` for a request with one answer per name in `functions` (a batch of calls): the
        limits hold for the whole exchange, and are looked at again at the end of every answer,
        so what a call leaves behind is that call's verdict. Where the worker is stopped or
        dies, the call it was on gets that verdict and the calls after it are not made."""
        if self.proc is None:
            self.start()
        if not self.ready:
            failure, self._start_failure = self._start_failure or self._await_ready(), None
            if failure is not None:
                return [failure] * len(functions)
        answers: list[dict | StudentError] = []
        function = functions[0]
        owner = self.owner
        tree = self.tree
        cpu_start, wall_start, stalled_start = owner.student_seconds(), time.monotonic(), tree.stalled_seconds()
        own_stall_start = run_delay() or 0.0
        cpu_end, raw_end = cpu_start + cpu_limit + GRACE, wall_start + raw_allowance(wait_limit)
        if owner.raw_left() is not None:
            raw_end = min(raw_end, wall_start + max(owner.raw_left(), 0.0))

        def waited() -> tuple[float, float]:
            """(seconds waited, of which the machine is to blame): the time the worker was ready
            to run without a CPU, and the time this thread was (an answer that waits to be read
            because the checker has no CPU is not the student's time either)."""
            elapsed = time.monotonic() - wall_start
            stalled = max(tree.stalled_seconds() - stalled_start, 0.0) + max((run_delay() or 0.0) - own_stall_start, 0.0)
            stalled = min(stalled, elapsed)
            return elapsed - stalled, stalled

        def overrun() -> None:
            if self.watchdog.reason:
                raise _Stopped(self.watchdog.reason)
            if owner.student_seconds() > cpu_end:
                raise _Stopped("cpu")
            if waited()[0] > wait_limit:
                raise _Stopped("wait")
            if time.monotonic() > raw_end:
                raise _Stopped("wall")

        try:
            self._send({**request, "timeout": cpu_limit}, raw_end, overrun)
            for function in functions:
                answer = self._receive(raw_end + 1.0, overrun)
                # The limits hold at the end of every call, not only at the watchdog's next look:
                # what a call leaves behind is that call's verdict, never the next exercise's.
                self.watchdog.check()
                if self.watchdog.reason:
                    raise _Stopped(self.watchdog.reason)
                answers.append(answer)
            if self._unread or select.select([self._answers], [], [], 0)[0]:
                # Only answers to requests come from a worker: more is one its submission took over,
                # whose next answers could be anything; its last call gets that verdict.
                self.stop()
                answers[-1] = StudentError("crash", f"{function} crashed the worker process: it sent answers it "
                                                    f"was not asked for")
            return answers
        except _Stopped as stopped:
            return answers + self._not_made(functions[len(answers) + 1:], self._stopped(
                stopped, function, owner, tree, cpu_start, waited, wall_start, cpu_limit))
        except (EOFError, OSError, wire.WireError, TimeoutError) as e:
            reason = self.watchdog.reason if self.watchdog else ""
            status = self.stop(wait_first=isinstance(e, EOFError))
            if reason:
                failure = StudentError("crash", f"{function} was stopped: {reason}")
            else:
                failure = StudentError("crash", f"{function} crashed the worker process{_describe_exit(status)}",
                                       detail="" if isinstance(e, EOFError) else f"({e})")
            return answers + self._not_made(functions[len(answers) + 1:], failure)
        finally:
            owner._waited += waited()[0]
            owner._raw_waited += time.monotonic() - wall_start

    @staticmethod
    def _not_made(after: list[str], failure: StudentError) -> list[StudentError]:
        """The failure of the call the worker was on, then the calls of its batch left unmade."""
        return [failure] + [StudentError("crash", f"{name} was not called: an earlier call of the same batch "
                                                  f"stopped the worker") for name in after]

    def _stopped(self, stopped: "_Stopped", function: str, owner: SandboxedSubmission, tree: Any, cpu_start: float,
                 waited: Any, wall_start: float, cpu_limit: float) -> StudentError:
        """The verdict of a call that the trusted side stopped (see `exchange`)."""
        cpu, (wait, stalled) = owner.student_seconds() - cpu_start, waited()
        wall = time.monotonic() - wall_start
        self.stop()
        if stopped.why == "cpu":
            return owner.timed_out(f"{function} did not return within its time budget ({owner.budget_words(cpu)}; "
                                   f"the worker was stopped)")
        if stopped.why == "wait":
            return owner.timed_out(f"{function} did not return: {owner.wait_words(wait, cpu)} (the worker was "
                                   f"stopped)")
        if stopped.why == "wall":
            if blame_the_machine(cpu, cpu_limit, wall, stalled if tree.tells_stalls() else None):
                owner.load_blamed = True
            overall = owner.raw_left() is not None and owner.raw_left() <= wall
            return owner.timed_out(f"{function} did not return within {wall:.3g} s of wall-clock time, getting "
                                   f"{cpu:.2g} s of CPU time (the worker was stopped"
                                   + ("; that was the rest of the submission's overall time)" if overall else ")"))
        return StudentError("crash", f"{function} was stopped: {stopped.why}")

    def forget(self, handle: Handle) -> None:
        if handle.id in self.live and self.proc is not None:
            self.live.discard(handle.id)
            try:
                self._send({"op": "forget", "handle": handle.id})
            except OSError:
                self.stop()

    def _send(self, message: dict, deadline: float | None = None, overrun=None) -> None:
        """Write one request before `deadline` (default: SEND_TIMEOUT from now); `overrun()` is
        called while the pipe is full, as in `_receive`. Raises TimeoutError past the deadline."""
        data = wire.encode(message, check=False)  # the worker checks what it receives
        view = memoryview(data)
        deadline = time.monotonic() + SEND_TIMEOUT if deadline is None else deadline
        while view:
            try:
                view = view[os.write(self._requests, view):]
                continue
            except BlockingIOError:
                pass
            if overrun is not None:
                overrun()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the worker does not read its requests")
            select.select([], [self._requests], [], min(remaining, _TICK))

    def _receive(self, deadline: float, overrun) -> dict:
        """One message from the worker; `overrun()` is called between waits and raises to stop.

        The pipe is read in large pieces (a message's header and arrays, and the next answers
        of a batch, usually come in one read); what is read past this message waits in
        `_unread` for the next one."""
        answers, unread = self._answers, self._unread

        def readinto(buffer: memoryview) -> int:
            if not unread:
                # The limits are looked at only while nothing arrives: an answer that is there is read.
                while not select.select([answers], [], [], 0)[0]:
                    overrun()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError()
                    if select.select([answers], [], [], min(remaining, _TICK))[0]:
                        break
                unread.extend(os.read(answers, READ_AHEAD))
            taken = min(len(buffer), len(unread))
            buffer[:taken] = unread[:taken]
            del unread[:taken]
            return taken

        return wire.receive(_Reader(readinto))


class _Stopped(Exception):
    """A call stopped by the trusted side: why is "cpu", "wall", or a limit's reason."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class _Reader:
    """A stream-like wrapper whose readinto honours the deadline and the budgets."""

    def __init__(self, readinto):
        self.readinto = readinto


#: The most calls one message to the worker carries.
MAX_BATCH = 64
#: The most bytes of the worker's answers read at once (see `_Worker._receive`).
READ_AHEAD = 1 << 20


def _array_bytes(value: Any) -> int:
    if hasattr(value, "nbytes") and not isinstance(value, (list, tuple, dict)):
        return int(value.nbytes)
    if isinstance(value, (tuple, list)):
        return sum(_array_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_array_bytes(v) for v in value.values())
    return 0


def _handles(value: Any):
    if isinstance(value, Handle):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _handles(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _handles(v)


#: The kinds of error a worker may report about the code it runs. A crash, a stop and the time a
#: call took are facts that only the trusted side measures: a worker that reports one is believed
#: to have failed, in words the checker chooses.
WORKER_KINDS = frozenset({"not_implemented", "exception", "timeout", "bad_return", "missing", "module_error",
                          "forbidden"})


def _student_error(error: Any) -> StudentError | None:
    if error is None:
        return None
    if not isinstance(error, dict):
        return StudentError("crash", "the worker sent a malformed error")
    kind, message = str(error.get("kind", ""))[:40], str(error.get("message", ""))[:2000]
    if kind not in WORKER_KINDS:
        return StudentError("crash", "the worker reported a failure of its own", detail=message,
                            told_by_worker=True)
    return StudentError(kind, message, str(error.get("traceback", ""))[:4000], told_by_worker=True)


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


# -- a sandbox started ahead of its submission -----------------------------------------------------------


class StandbySubmission(SandboxedSubmission):
    """A sandbox opened before its submission exists: its worker of `assignment` boots (Python,
    numpy, its confinement) with nothing of the student's in it, and `stage` later gives it the
    modules as they are then. `dlgrade check --watch` keeps one ready between saves, so that a
    save costs the check alone.

    It is a `SandboxedSubmission` opened on an empty submission, so its workers are confined
    and limited exactly as any other's (same uid rule, hidden paths, limits, bubblewrap or
    Landlock set-up); the modules reach them only through grader.boundary.intake, after they
    were started, and before any request: nothing of the submission was imported or cached by
    then. It must be staged once before it is used."""

    def __init__(self, assignment: str, call_timeout: float = DEFAULT_CALL_TIMEOUT, limits: Limits | None = None,
                 forbidden: dict[str, list[str]] | None = None, use_bwrap: bool | None = None):
        """assignment: the assignment whose worker is started now (others start when used)."""
        with tempfile.TemporaryDirectory(prefix="dlgrade-standby-") as empty:
            super().__init__(empty, call_timeout, limits, forbidden, use_bwrap)
        self.assignment = assignment
        self.staged = False
        try:
            self._worker(assignment).start()
        except BaseException:
            self.close()
            raise

    def stage(self, path: Path | str) -> "StandbySubmission":
        """Copy the submission in `path`, as it is now, into this sandbox (through intake, as a
        new `SandboxedSubmission` would); raises intake.Refused as that would. Returns self."""
        if self.staged:
            raise RuntimeError("a standby sandbox is staged once")
        staged = intake.copy_modules(path, self._folder.path / "staged-submission")
        for p in [staged, *staged.rglob("*")]:
            p.chmod(0o700 if p.is_dir() else 0o600)
        self.root, self.staged = staged, True
        for assignment, worker in self._workers.items():
            # The worker's folder of modules is bound (bubblewrap) or granted (Landlock) as a
            # whole: the assignment's modules are made inside it, as its own.
            modules = worker.home / "submission" / assignment
            modules.rmdir()  # empty: the worker was started on an empty submission
            _copy_modules(staged / assignment, modules)
            _own(worker.home / "submission", worker.file_owner)
            if worker.proc is not None and worker.proc.poll() is not None:
                # It died while waiting (nothing of the student's ran): the first request starts
                # a fresh one, as after any crash.
                worker.stop()
                worker._start_failure = None
        return self

    def function_status(self, assignment, module, function):
        self._require_staged()
        return super().function_status(assignment, module, function)

    def call_batch(self, calls, timeout=None):
        self._require_staged()
        return super().call_batch(calls, timeout)

    def _require_staged(self) -> None:
        if not self.staged:
            raise RuntimeError("a standby sandbox is used before its submission was staged")
