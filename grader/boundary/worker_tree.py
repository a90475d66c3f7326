"""The processes of one sandboxed worker as the trusted side sees them: which they are, how much
CPU time and memory they use together, and how to stop every one of them.

Nothing here asks the worker anything: every number is read by the trusted process from the
kernel, so a submission cannot under-report its time or its memory.

- **cgroup v2**, where the grader may create one (a child of its own cgroup in a writable
  unified hierarchy, or of a delegated one named by DLGRADE_CGROUP): a process cannot leave it,
  `cpu.stat` counts the CPU time of every process that ever ran in it, `cpu.pressure` the time
  they waited for a CPU, `cgroup.kill` stops them all at once, and `memory.max` / `pids.max`
  are set where those controllers are enabled for it.
- **/proc** otherwise: the worker's processes are its descendants and, when the grader runs as
  root, every process of the worker's own uid (setsid and double forks cannot leave that); CPU
  time is the sum of their user and system times, including the children they reaped, and of
  those that ended; they are stopped by a kill(-1) sent as that uid, and one by one.

Memory is bounded per worker, not per process: where the kernel does not enforce `memory.max`,
a watchdog thread adds up the proportional set size (PSS, so pages shared between forks count
once) of every process of the tree, plus the files in the worker's private temporary folders,
and kills the whole tree past the limit. The same thread bounds the number of processes where
the kernel's process limit does not apply.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

#: Seconds between the watchdog's looks at the tree.
WATCH_PERIOD = 0.05
#: The most entries of a private temporary folder the watchdog adds up; more is over the limit.
MAX_TMP_ENTRIES = 20_000
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PREFIX = "dlgrade-"


# -- cgroup v2 --------------------------------------------------------------------------------------


def _own_cgroup_dir() -> Path | None:
    """The folder of this process's cgroup in the unified (v2) hierarchy, where one is mounted."""
    try:
        line = next(l for l in Path("/proc/self/cgroup").read_text().splitlines() if l.startswith("0::"))
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except (OSError, StopIteration):
        return None
    own = line[3:]
    for mount in mounts:
        fields = mount.split()
        dash = fields.index("-")
        if fields[dash + 1] != "cgroup2":
            continue
        root, point = fields[3], fields[4]
        if own == root or own.startswith(root.rstrip("/") + "/"):
            return Path(point) / own[len(root):].lstrip("/")
    return None


def cgroup_parent() -> Path | None:
    """Where the worker cgroups are made: DLGRADE_CGROUP, else this process's own cgroup; None
    where it is not writable, or cgroups are switched off (DLGRADE_NO_CGROUP, for tests)."""
    if os.environ.get("DLGRADE_NO_CGROUP"):
        return None
    named = os.environ.get("DLGRADE_CGROUP")
    parent = Path(named) if named else _own_cgroup_dir()
    if parent is None or not (parent / "cgroup.procs").is_file() or not os.access(parent, os.W_OK):
        return None
    return parent


class Cgroup:
    """One worker's cgroup v2."""

    def __init__(self, path: Path):
        self.path = path
        self._files: dict[str, int] = {}

    def _read(self, name: str) -> str | None:
        """A file of the cgroup, read through a descriptor kept open (they are read very often)."""
        fd = self._files.get(name)
        if fd is None:
            try:
                fd = self._files[name] = os.open(self.path / name, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        try:
            return os.pread(fd, 4096, 0).decode()
        except OSError:
            return None

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()

    @classmethod
    def create(cls, token: str) -> "Cgroup | None":
        """A fresh cgroup named after `token`, or None where none can be made here."""
        parent = cgroup_parent()
        if parent is None:
            return None
        path = parent / f"{_PREFIX}{token}"
        try:
            path.mkdir()
        except OSError:
            return None
        group = cls(path)
        if not (path / "cgroup.procs").is_file():
            group.remove()
            return None
        return group

    def limit(self, memory_bytes: int, processes: int) -> tuple[bool, bool]:
        """Set memory.max and pids.max where those controllers are enabled; which ones were."""
        done = []
        for name, value in (("memory.max", memory_bytes), ("pids.max", processes)):
            try:
                (self.path / name).write_text(str(value))
                done.append(True)
            except OSError:
                done.append(False)
        if done[0]:
            for name, value in (("memory.swap.max", 0), ("memory.oom.group", 1)):
                try:
                    (self.path / name).write_text(str(value))
                except OSError:
                    pass
        return done[0], done[1]

    def join_file(self) -> str:
        """The file a process writes "0" into to join this cgroup (done in the child before exec)."""
        return str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self._read("cgroup.procs") or "").split()]
        except ValueError:
            return []

    def cpu_seconds(self) -> float | None:
        text = self._read("cpu.stat")
        if text and text.startswith("usage_usec "):
            return int(text.split(None, 2)[1]) / 1e6
        return None

    def stalled_seconds(self) -> float | None:
        """Time during which some process of the cgroup was ready to run but had no CPU."""
        text = self._read("cpu.pressure")
        try:
            return int(text.split("\n", 1)[0].rsplit("total=", 1)[1]) / 1e6 if text else None
        except (ValueError, IndexError):
            return None

    def memory_bytes(self) -> int | None:
        """memory.current where the memory controller is enabled (tmpfs pages included)."""
        text = self._read("memory.current")
        try:
            return int(text) if text else None
        except ValueError:
            return None

    def kill(self) -> bool:
        """SIGKILL every process in the cgroup at once; False where cgroup.kill is missing."""
        try:
            (self.path / "cgroup.kill").write_text("1")
            return True
        except OSError:
            return False

    def remove(self, wait: float = 2.0) -> None:
        """Remove the cgroup (killing what is left in it); waits a little for the processes to go."""
        self.close()
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                if not self.kill():
                    for pid in self.pids():
                        _kill(pid)
                time.sleep(0.02)


def remove_stale_cgroups(is_alive: Callable[[str], bool]) -> None:
    """Remove the worker cgroups (and their processes) whose grader is gone: `is_alive(token)`
    says whether the grader that made the cgroup of that token still runs."""
    parent = cgroup_parent()
    if parent is None:
        return
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(_PREFIX) and entry.is_dir() and not entry.is_symlink() \
                and not is_alive(entry.name[len(_PREFIX):]):
            Cgroup(entry).remove(wait=0.5)


# -- the tree -------------------------------------------------------------------------------------------


@dataclass
class _Seen:
    """What was last read of one process of the tree."""

    ppid: int
    own: float  # user + system seconds of the process itself
    reaped: float  # of the children it waited for
    rss: int  # bytes
    stalled: float = 0.0  # seconds ready to run without a CPU


class _ProcFiles:
    """Files of /proc/PID/ read through descriptors kept open for the processes named by the
    caller (the tree's, read after every call). A descriptor stays with the process it was
    opened for: once that process is gone it reads nothing, and the file is opened again, so a
    reused pid is read as the new process it is. At most `MAX_KEPT` are kept: past that, files
    are opened for each read, so that no number of processes a submission starts can use up the
    descriptors of the trusted process (and hide a process from the count)."""

    MAX_KEPT = 64

    def __init__(self):
        self._fds: dict[tuple[int, str], int] = {}

    def read(self, pid: int, name: str, keep: bool) -> bytes | None:
        """The contents of /proc/PID/NAME (None where it cannot be read); keep: keep its
        descriptor open for the next read."""
        fd = self._fds.pop((pid, name), None)
        for attempt in range(2):
            if fd is None:
                try:
                    fd = os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    return None
            try:
                data = os.pread(fd, 4096, 0)
            except OSError:
                data = b""
            if data:
                if keep and len(self._fds) < self.MAX_KEPT:
                    self._fds[(pid, name)] = fd
                else:
                    os.close(fd)
                return data
            os.close(fd)
            fd = None
        return None

    def keep_only(self, pids: set[int]) -> None:
        """Close the descriptors of every process not in `pids`."""
        for key in [k for k in self._fds if k[0] not in pids]:
            os.close(self._fds.pop(key))

    def close(self) -> None:
        self.keep_only(set())


def _stat(pid: int, files: _ProcFiles | None = None, keep: bool = False) -> tuple[int, int, float, float, int] | None:
    """(ppid, start time, own seconds, reaped children's seconds, RSS bytes) from /proc/PID/stat
    (read through `files` where given)."""
    if files is not None:
        data = files.read(pid, "stat", keep)
    else:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
        except OSError:
            return None
    if not data:
        return None
    try:
        fields = data[data.rindex(b")") + 2:].split()
        state = fields[0]
        if state in (b"X", b"x"):
            return None
        ppid, utime, stime, cutime, cstime = (int(fields[i]) for i in (1, 11, 12, 13, 14))
        start, rss = int(fields[19]), int(fields[21])
    except (ValueError, IndexError):
        return None
    return ppid, start, (utime + stime) / _CLOCK_TICKS, (cutime + cstime) / _CLOCK_TICKS, rss * _PAGE


def _real_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _pss(pid: int) -> int:
    """The proportional set size of a process (pages shared with others counted by share)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _run_delay(pid: int, files: _ProcFiles | None = None) -> float:
    """Seconds the process has waited, runnable, for a CPU (/proc/PID/schedstat)."""
    try:
        if files is not None:
            return int((files.read(pid, "schedstat", True) or b"").split()[1]) / 1e9
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (as that uid, so nothing else can be hit): kill(-1)
    signals, in one pass that forks cannot outrun, every process the sender may signal."""
    if os.getuid() != 0 or uid == 0:
        return
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only signals and exits
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def folder_bytes(folder: Path, max_entries: int = MAX_TMP_ENTRIES) -> int:
    """The bytes of the files under `folder` (links not followed); past `max_entries` entries,
    an amount over any limit."""
    total, entries = 0, 0
    stack = [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    entries += 1
                    if entries > max_entries:
                        return 1 << 62
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def unlinked_file_bytes(pids: Iterable[int], device: int) -> int:
    """The bytes of files on `device` that processes `pids` hold open or mapped after removing
    them: gone from every folder (so `folder_bytes` cannot see them), they still take their space
    until the last holder lets go. A mapping counts its whole length (the kernel does not say how
    much of it is written)."""
    sizes: dict[int, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            fds = []
        for fd in fds:
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and st.st_dev == device:
                sizes[st.st_ino] = max(sizes.get(st.st_ino, 0), st.st_blocks * 512)
        try:
            with open(f"/proc/{pid}/maps", "rb") as f:
                maps = f.read().splitlines()
        except OSError:
            maps = []
        for line in maps:
            if not line.endswith(b" (deleted)"):
                continue
            fields = line.split(None, 5)
            try:
                start, end = (int(x, 16) for x in fields[0].split(b"-"))
                major, minor = (int(x, 16) for x in fields[3].split(b":"))
                inode = int(fields[4])
            except (ValueError, IndexError):
                continue
            if os.makedev(major, minor) == device:
                sizes[inode] = max(sizes.get(inode, 0), end - start)
    return sum(sizes.values())


class WorkerTree:
    """One worker's processes: `root` (the process the trusted side started), its descendants,
    every process of `uid` (a uid of the worker's own; None where it has none), and every
    process of `cgroup` (where there is one)."""

    def __init__(self, root: int, uid: int | None, cgroup: Cgroup | None, tmp_usage: Callable[[], int] | None = None,
                 tmp_in_ram: bool = True):
        """tmp_usage: the bytes of the worker's temporary files; tmp_in_ram: whether they are in
        memory (tmpfs, which a cgroup's memory.current already counts)."""
        self.root, self.uid, self.cgroup = root, uid, cgroup
        self.tmp_usage = tmp_usage or (lambda: 0)
        self.tmp_in_ram = tmp_in_ram
        self._lock = threading.Lock()
        self._members: dict[tuple[int, int], _Seen] = {}
        self._others: set[tuple[int, int]] = set()  # processes found not to be the worker's
        self._ended = 0.0  # CPU seconds of processes of the tree that ended unreaped by it
        self._ended_stalled = 0.0
        self._cpu_floor = 0.0
        self._files = _ProcFiles()  # the members' /proc files, kept open between looks

    def close(self) -> None:
        """Close the files kept open on the tree's processes."""
        with self._lock:
            self._files.close()

    # -- membership and CPU time -----------------------------------------------------------------

    def _scan(self) -> None:
        """Bring the members up to date from /proc (the lock is held)."""
        if self.cgroup is not None:
            # Nothing leaves a cgroup: its list is the whole tree.
            candidates, in_cgroup = self.cgroup.pids(), True
        else:
            try:
                candidates, in_cgroup = [int(e) for e in os.listdir("/proc") if e.isdigit()], False
            except OSError:
                return
        alive: dict[tuple[int, int], _Seen] = {}
        fresh: dict[tuple[int, int], _Seen] = {}
        known = {key[0] for key in self._members} | {self.root}
        for pid in candidates:
            stat = _stat(pid, self._files, keep=in_cgroup or pid in known)
            if stat is None:
                continue
            ppid, start, own, reaped, rss = stat
            key = (pid, start)
            seen = _Seen(ppid, own, reaped, rss)
            if in_cgroup or key in self._members or pid == self.root:
                alive[key] = seen
            elif key not in self._others:
                fresh[key] = seen
        # New processes: of the worker's uid, or descendants of the tree (to any depth: a
        # parent may be new as well).
        if self.uid is not None:
            for key in [k for k in fresh if _real_uid(k[0]) == self.uid]:
                alive[key] = fresh.pop(key)
        member_pids = {key[0] for key in alive}
        grown = True
        while grown and fresh:
            grown = False
            for key in [k for k, s in fresh.items() if s.ppid in member_pids]:
                alive[key] = fresh.pop(key)
                member_pids.add(key[0])
                grown = True
        self._others.update(fresh)
        for key, seen in alive.items():
            seen.stalled = _run_delay(key[0], self._files)
        owed: dict[int, float] = {}  # by parent in the tree: what its children that ended last used
        for key, last in self._members.items():
            if key not in alive:
                self._ended_stalled += last.stalled
                if last.ppid not in member_pids:
                    # Ended, and not reaped by a process of the tree (whose own count then holds it).
                    self._ended += last.own + last.reaped
                else:
                    owed[last.ppid] = owed.get(last.ppid, 0.0) + last.own + last.reaped
        # A parent's count of its reaped children grows only where it waited for them: children
        # the kernel reaped by itself (SIGCHLD ignored) are charged what they were last seen using.
        before = {key[0]: seen.reaped for key, seen in self._members.items()}
        for key, seen in alive.items():
            if key[0] in owed:
                self._ended += max(owed[key[0]] - (seen.reaped - before.get(key[0], 0.0)), 0.0)
        self._members = alive
        self._files.keep_only(member_pids)

    def pids(self) -> list[int]:
        """The processes of the tree now."""
        with self._lock:
            self._scan()
            return [key[0] for key in self._members]

    def last_seen_pids(self) -> list[int]:
        """The processes of the tree at its last look, or now where it has not looked yet (for
        what needs any one process of it, such as a way into its mount namespace)."""
        with self._lock:
            if not self._members:
                self._scan()
            return [key[0] for key in self._members]

    def cpu_seconds(self) -> float:
        """CPU seconds used by the tree since it started (never decreasing)."""
        if self.cgroup is not None:
            used = self.cgroup.cpu_seconds()
            if used is not None:
                return used
        with self._lock:
            self._scan()
            used = self._ended + sum(s.own + s.reaped for s in self._members.values())
            self._cpu_floor = max(self._cpu_floor, used)
            return self._cpu_floor

    def tells_stalls(self) -> bool:
        """Whether this kernel says how long the tree's processes waited for a CPU."""
        if self.cgroup is not None and self.cgroup.stalled_seconds() is not None:
            return True
        return os.path.exists("/proc/self/schedstat")

    def stalled_seconds(self) -> float:
        """Seconds during which the tree had a process ready to run but without a CPU (how busy
        the machine is, as far as this worker is concerned; never decreasing)."""
        if self.cgroup is not None:
            stalled = self.cgroup.stalled_seconds()
            if stalled is not None:
                return stalled
        with self._lock:
            self._scan()
            return self._ended_stalled + sum(s.stalled for s in self._members.values())

    # -- memory ------------------------------------------------------------------------------------

    def memory_bytes(self) -> int:
        """The memory the tree holds: memory.current where the kernel counts it, else the PSS
        of its processes plus its temporary files."""
        return self.census()[0]

    def census(self) -> tuple[int, int]:
        """(the memory the tree holds, as `memory_bytes`; its number of processes), from one
        look at /proc."""
        if self.cgroup is not None:
            current = self.cgroup.memory_bytes()
            if current is not None:
                return current + (0 if self.tmp_in_ram else self.tmp_usage()), len(self.pids())
        with self._lock:
            self._scan()
            members = list(self._members.items())
        held = self.tmp_usage()
        rss = sum(s.rss for _, s in members)
        # RSS counts shared pages in every process that maps them, so it is an upper bound
        # that is cheap to read; PSS, exact but dearer, only when the bound is not enough.
        return held + (rss if rss < self._pss_threshold else sum(_pss(key[0]) for key, _ in members)), len(members)

    _pss_threshold = 1 << 30

    # -- stopping ----------------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL every process of the tree, including those that left its process group."""
        if self.cgroup is not None and self.cgroup.kill():
            return
        if self.uid is not None:
            kill_uid(self.uid)
        for _ in range(5):
            pids = [p for p in self.pids() if p != os.getpid()]
            if not pids:
                return
            for pid in pids:
                _kill(pid)
            time.sleep(0.01)


class Watchdog:
    """A thread that keeps a tree within `memory_bytes` (its temporary files included), its
    temporary files within `tmp_bytes`, and its processes within `processes` (where the kernel
    does not), and kills the whole tree past any; `reason` then says why."""

    def __init__(self, tree: WorkerTree, memory_bytes: int | None, processes: int | None,
                 tmp_bytes: int | None = None, period: float = WATCH_PERIOD):
        self.tree, self.memory_bytes, self.processes, self.period = tree, memory_bytes, processes, period
        self.tmp_bytes = tmp_bytes
        tree._pss_threshold = memory_bytes or tree._pss_threshold
        self.reason = ""
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dlgrade-watchdog-{uuid.uuid4().hex[:6]}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a process that vanished mid-read; look again next time
                continue

    def check(self) -> None:
        """One look at the tree: kill it if it is over a limit."""
        if self.tmp_bytes is not None:
            files = self.tree.tmp_usage()
            if files > self.tmp_bytes:
                self.reason = (f"its temporary files took {files / 2**20:.0f} MiB, more than the "
                               f"{self.tmp_bytes / 2**20:.0f} MiB a submission may write")
                self.tree.kill()
                return
        if self.memory_bytes is None and self.processes is None:
            return
        held, count = self.tree.census()
        if self.memory_bytes is not None:
            self.peak_bytes = max(self.peak_bytes, held)
            if held > self.memory_bytes:
                self.reason = (f"its processes held {held / 2**30:.2f} GiB together (memory and temporary "
                               f"files), more than the {self.memory_bytes / 2**30:.2g} GiB a submission may use")
                self.tree.kill()
                return
        if self.processes is not None and count > self.processes:
            self.reason = f"it ran {count} processes at once, more than the {self.processes} a submission may"
            self.tree.kill()

    def stop(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2)
