"""Confinement the worker puts on itself, before any student code runs (inside bubblewrap too).

Everything here is called by the worker's start-up code (grader/boundary/worker.py), which the trusted side
wrote and which runs before the first student module is imported; from then on the restrictions
hold for the worker and everything it forks, and nothing the submission does can lift them.

- **Landlock** (Linux 5.13 and later; network rules from ABI 4, signal and abstract-socket scoping
  from ABI 6): read-only access to the Python installation and the worker's own copies, write
  access to its private temporary folder only, no TCP bind or connect, no signals to processes
  outside the sandbox. The kernel's interface is three system calls on small structures (see
  landlock(7)); no Python library for it on PyPI is both maintained and complete (network rules
  are missing from the one most used), so the calls are made here with ctypes.
- **A private network namespace** where the kernel allows one (as root, or in a user namespace):
  only a loopback interface of its own, which the a7 tier's process groups use.
- **An identity of its own**: a uid no other process has (so the kernel's process limit counts
  this worker alone), no capabilities, and PR_SET_NO_NEW_PRIVS.
- **A seccomp filter** against what Landlock does not mediate: changing a file's mode, owner,
  times or extended attributes (a worker that keeps root's file-system identity owns root's
  files), memory the kernel holds outside any process (memfd, System V IPC, message queues,
  keyrings), its own scheduling (a process that makes itself starve looks like the victim of a
  busy machine: scheduling calls, and making itself dumpable again to write /proc/self/autogroup),
  every socket except TCP/IP and routing netlink on a private loopback for the assignments that
  need one (socket buffers hold kernel memory; unix sockets reach the machine's by path and carry
  file descriptors out of sight), fallocate (which outruns any watchdog on disk), io_uring (whose
  operations bypass the filter), the mount, namespace, ptrace and bpf families, and setting what
  SIGCHLD does (ignoring it, or SA_NOCLDWAIT, has the kernel reap children without adding
  their CPU time to their parent's: time no one would be charged). The program is classic BPF, a
  list of system call numbers per architecture; libseccomp's Python binding is not on PyPI, and
  the filter is small enough to read here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import signal
import socket
import struct

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# System call numbers: the Landlock calls have the same numbers on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2

# File-system rights, and the ABI that introduced each of the later ones.
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # execute ... make_sym
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
#: Rights that apply to a file (a rule on a regular file or device may hold only these).
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_KEEPCAPS, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = \
    1, 4, 8, 24, 38, 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_SETUID = 7
_CAPABILITY_VERSION_3 = 0x20080522
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000


class ConfinementError(OSError):
    """A restriction that was asked for could not be put in place."""


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise ConfinementError(code, f"{what}: {os.strerror(code)}")
    return result


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers; 0 where it has none (or it is disabled)."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def _fs_rights(abi: int) -> int:
    rights = _FS_ABI1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class Ruleset:
    """A Landlock ruleset being built: `allow` paths, then `enforce` it on this process."""

    def __init__(self, deny_tcp: bool = True):
        self.abi = landlock_abi()
        if self.abi < 1:
            raise ConfinementError(errno.EOPNOTSUPP, "Landlock is not available in this kernel")
        self.handled_fs = _fs_rights(self.abi)
        self.handled_net = NET_BIND_TCP | NET_CONNECT_TCP if deny_tcp and self.abi >= 4 else 0
        self.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if self.abi >= 6 else 0
        # struct landlock_ruleset_attr grew a field at ABI 4 and another at ABI 6.
        fields = [self.handled_fs] + ([self.handled_net] if self.abi >= 4 else []) + ([self.scoped] if self.abi >= 6 else [])
        attr = ctypes.create_string_buffer(struct.pack(f"={len(fields)}Q", *fields), 8 * len(fields))
        self.fd = _check(_libc.syscall(_SYS_CREATE_RULESET, attr, ctypes.c_size_t(8 * len(fields)), ctypes.c_uint32(0)),
                         "landlock_create_ruleset")

    @property
    def denies_tcp(self) -> bool:
        return bool(self.handled_net)

    def allow(self, path: str, rights: int) -> bool:
        """Allow `rights` on `path` and everything beneath it; False where it does not exist."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            is_dir = os.path.isdir(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else os.path.isdir(path)
            rights &= self.handled_fs if is_dir else (self.handled_fs & _FILE_RIGHTS)
            if not rights:
                return True
            rule = _PathBeneath(rights, fd)
            _check(_libc.syscall(_SYS_ADD_RULE, ctypes.c_int(self.fd), ctypes.c_int(_RULE_PATH_BENEATH),
                                 ctypes.byref(rule), ctypes.c_uint32(0)), f"landlock_add_rule({path})")
        finally:
            os.close(fd)
        return True

    def enforce(self) -> None:
        """Restrict this process (and what it will fork) to the ruleset, for good. The process
        must be single-threaded: Landlock binds the calling thread only."""
        threads = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["?"]
        if len(threads) != 1:
            raise ConfinementError(errno.EBUSY, f"the worker has {len(threads)} threads; Landlock would bind only one")
        no_new_privileges()
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0)), "landlock_restrict_self")
        os.close(self.fd)


def no_new_privileges() -> None:
    """PR_SET_NO_NEW_PRIVS: no exec can grant privileges again (setuid binaries, file capabilities)."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def die_with_parent() -> None:
    """Have the kernel kill this process when the process that started it ends (a grader killed
    with SIGKILL takes its workers with it)."""
    parent = os.getppid()
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # the parent ended before the call
        os._exit(1)


def private_network() -> bool:
    """Move this process into a network namespace of its own, with only a loopback interface
    (brought up); False where the kernel does not allow it."""
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNET if uid == 0 else _CLONE_NEWUSER | _CLONE_NEWNET
    if _libc.unshare(ctypes.c_int(flags)) != 0:
        return False
    if uid != 0:  # map our own ids, so that files keep their owner in the new user namespace
        try:
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        except OSError:
            return False
    _loopback_up()
    return True


def _loopback_up() -> None:
    import fcntl

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s.fileno(), siocgifflags, request))[1]
        fcntl.ioctl(s.fileno(), siocsifflags, struct.pack("16sh22x", b"lo", flags | iff_up))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _set_capabilities(effective: int, permitted: int) -> None:
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)((effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, 0), (effective >> 32, permitted >> 32, 0))
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _capabilities() -> tuple[int, int]:
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    return data[0].effective | data[1].effective << 32, data[0].permitted | data[1].permitted << 32


def drop_identity(uid: int, keep_file_access: bool = False) -> None:
    """Become `uid` (real, effective and saved, group too) with no capabilities at all.

    keep_file_access: keep root's file-system identity (fsuid 0) for the permission checks on
    files, without any capability. It is for a Python installation that only root can read
    (under /root): the worker can still load it, while the kernel counts its processes against
    `uid` (root's are never limited) and it can signal nothing but its own. Landlock must then
    decide which files it reaches, since ownership no longer does."""
    os.setgroups([])
    if not keep_file_access:
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:
        last = int(open("/proc/sys/kernel/cap_last_cap").read()) if os.path.exists("/proc/sys/kernel/cap_last_cap") else 40
        for cap in range(last + 1):
            _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
        _check(_libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        _set_capabilities(1 << _CAP_SETUID, 1 << _CAP_SETUID)
        _libc.setfsuid(0)
        _set_capabilities(0, 0)
        _libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
        if _libc.setfsuid(ctypes.c_int(-1)) != 0:
            raise ConfinementError(errno.EPERM, "the file-system identity could not be kept")
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if os.getresuid() != (uid, uid, uid) or any(_capabilities()):
        raise ConfinementError(errno.EPERM, f"could not become uid {uid} without capabilities")


# ---------------------------------------------------------------------------------------------
# seccomp

#: System calls denied (EPERM), by name; numbers per architecture below. socket is handled apart.
DENIED_SYSCALLS = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "setxattrat",
    "removexattrat", "utime", "utimes", "futimesat", "utimensat",
    "memfd_create", "memfd_secret", "shmget", "semget", "msgget", "mq_open", "add_key", "request_key", "keyctl",
    "sched_setscheduler", "sched_setparam", "sched_setaffinity", "sched_setattr", "setpriority", "ioprio_set",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "unshare", "setns", "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsmount",
    "mount_setattr", "userfaultfd", "bpf", "perf_event_open", "ptrace", "process_vm_readv", "process_vm_writev",
    "name_to_handle_at", "open_by_handle_at", "fanotify_init", "socketpair", "fallocate",
)
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALL_NUMBERS = {
    "x86_64": {
        "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93, "lchown": 94,
        "fchownat": 260, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197,
        "lremovexattr": 198, "fremovexattr": 199, "setxattrat": 463, "removexattrat": 466, "utime": 132,
        "utimes": 235, "futimesat": 261, "utimensat": 280, "memfd_create": 319, "memfd_secret": 447, "shmget": 29,
        "semget": 64, "msgget": 68, "mq_open": 240, "add_key": 248, "request_key": 249, "keyctl": 250,
        "sched_setscheduler": 144, "sched_setparam": 142, "sched_setaffinity": 203, "sched_setattr": 314,
        "setpriority": 141, "ioprio_set": 251, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432, "mount_setattr": 442,
        "userfaultfd": 323, "bpf": 321, "perf_event_open": 298, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "name_to_handle_at": 303, "open_by_handle_at": 304, "fanotify_init": 300,
        "socket": 41, "seccomp": 317, "socketpair": 53, "fallocate": 285, "prctl": 157, "clone": 56, "clone3": 435,
        "rt_sigaction": 13,
    },
    # The generic table: no chmod, chown, utime (only their *at forms).
    "aarch64": {
        "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "fchown": 55, "fchownat": 54, "setxattr": 5,
        "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16,
        "setxattrat": 463, "removexattrat": 466, "utimensat": 88, "memfd_create": 279, "memfd_secret": 447,
        "shmget": 194, "semget": 190, "msgget": 186, "mq_open": 180, "add_key": 217, "request_key": 218,
        "keyctl": 219, "sched_setscheduler": 119, "sched_setparam": 118, "sched_setaffinity": 122,
        "sched_setattr": 274, "setpriority": 140, "ioprio_set": 30, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432, "mount_setattr": 442,
        "userfaultfd": 282, "bpf": 280, "perf_event_open": 241, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "name_to_handle_at": 264, "open_by_handle_at": 265, "fanotify_init": 262,
        "socket": 198, "seccomp": 277, "socketpair": 199, "fallocate": 47, "prctl": 167, "clone": 220,
        "clone3": 435, "rt_sigaction": 134,
    },
}
_X32_SYSCALL_BIT = 0x40000000
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_JSET_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
#: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME.
_CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80
_RET_ALLOW, _RET_KILL_PROCESS, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_OFFSET_NR, _OFFSET_ARCH, _OFFSET_ARG0, _OFFSET_ARG1, _OFFSET_ARG2 = 0, 4, 16, 24, 32
_NETLINK_ROUTE = 0
_SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC = 1, 1


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_supported() -> bool:
    """Whether this machine's architecture has a filter here."""
    return os.uname().machine in _SYSCALL_NUMBERS


def seccomp_program(machine: str, allow_inet: bool) -> list[tuple[int, int, int, int]]:
    """The filter's instructions (code, jt, jf, k): on any other architecture (a 32-bit call on a
    64-bit kernel, x32) the process is killed; each denied call returns EPERM; socket() is allowed
    for AF_INET, AF_INET6 and routing netlink where `allow_inet` (a private loopback), else denied."""
    numbers = _SYSCALL_NUMBERS[machine]
    program = [(_BPF_LD_W_ABS, 0, 0, _OFFSET_ARCH), (_BPF_JEQ_K, 1, 0, _AUDIT_ARCH[machine]),
               (_BPF_RET_K, 0, 0, _RET_KILL_PROCESS), (_BPF_LD_W_ABS, 0, 0, _OFFSET_NR)]
    if machine == "x86_64":
        program += [(_BPF_JGE_K, 0, 1, _X32_SYSCALL_BIT), _DENY]
    for name in DENIED_SYSCALLS:
        if name in numbers:
            program += [(_BPF_JEQ_K, 0, 1, numbers[name]), _DENY]
    # On a private loopback: TCP/IP, and netlink's routing protocol (which reads the interfaces
    # of the worker's own namespace: gloo looks up "lo" with it).
    inet = [(_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG0), (_BPF_JEQ_K, 5, 0, socket.AF_INET),
            (_BPF_JEQ_K, 4, 0, socket.AF_INET6), (_BPF_JEQ_K, 0, 2, socket.AF_NETLINK),
            (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG2), (_BPF_JEQ_K, 1, 0, _NETLINK_ROUTE),
            _DENY, _ALLOW] if allow_inet else [_DENY]
    program += [(_BPF_JEQ_K, 0, len(inet), numbers["socket"]), *inet]
    # prctl(PR_SET_DUMPABLE): a worker that changed its uid is not dumpable, so its /proc files
    # are not its own to write (/proc/self/autogroup, which sets its own priority).
    program += _deny_when_first_argument(numbers["prctl"], _BPF_JEQ_K, _PR_SET_DUMPABLE)
    # clone with a namespace flag (unshare's way round); clone3's flags are behind a pointer the
    # filter cannot read, so it is "not implemented" and the C library falls back to clone.
    program += [(_BPF_JEQ_K, 0, 1, numbers["clone3"]), (_BPF_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    program += _deny_when_first_argument(numbers["clone"], _BPF_JSET_K, _CLONE_NAMESPACES)
    # rt_sigaction(SIGCHLD, act) with an action (reading the action, act NULL, stays allowed).
    program += [(_BPF_JEQ_K, 0, 8, numbers["rt_sigaction"]), (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG0),
                (_BPF_JEQ_K, 0, 5, signal.SIGCHLD), (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG1),
                (_BPF_JEQ_K, 0, 2, 0), (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG1 + 4), (_BPF_JEQ_K, 1, 0, 0), _DENY, _ALLOW]
    return program + [_ALLOW]


_DENY = (_BPF_RET_K, 0, 0, _RET_ERRNO | errno.EPERM)
_ALLOW = (_BPF_RET_K, 0, 0, _RET_ALLOW)


def _deny_when_first_argument(number: int, test: int, value: int) -> list[tuple[int, int, int, int]]:
    """Instructions that deny system call `number` when its first argument passes `test`
    (equal to, or sharing a bit with, `value`) and allow it otherwise; other calls go on."""
    return [(_BPF_JEQ_K, 0, 4, number), (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG0), (test, 0, 1, value), _DENY, _ALLOW]


def deny_syscalls(allow_inet: bool) -> None:
    """Install the seccomp filter (see the module's docstring) on every thread of this process,
    for good; PR_SET_NO_NEW_PRIVS must be set."""
    machine = os.uname().machine
    if machine not in _SYSCALL_NUMBERS:
        raise ConfinementError(errno.EOPNOTSUPP, f"no seccomp filter for {machine}")
    program = seccomp_program(machine, allow_inet)
    instructions = (_SockFilter * len(program))(*[_SockFilter(*i) for i in program])
    prog = _SockFprog(len(program), instructions)
    _check(_libc.syscall(ctypes.c_long(_SYSCALL_NUMBERS[machine]["seccomp"]), ctypes.c_uint(_SECCOMP_SET_MODE_FILTER),
                         ctypes.c_uint(_SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog)), "seccomp")
