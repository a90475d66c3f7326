"""Intake: what a submission names, checked before it touches a path.

A submission controls the names in it (folder and file names, zip member names, a notebook's
dlgrade metadata) and what its entries are (links, fifos, huge files). The trusted side reads a
submission only through this module and writes what it takes from it only into a fresh folder:

- The only names that become paths of the graded copy are an assignment of the course and a
  module file name that is a plain ASCII identifier (`is_identifier`); a notebook's metadata
  must name a module the course has (`checked_module`). Nothing else of a submission is copied.
- A submission is read through `SubmissionTree`, which follows a symbolic link only where it
  stays inside the submission; a link that leaves it refuses the submission (`Refused`:
  "… is a link outside the submission: not graded"), as do a hard link to another user's file,
  a fifo or device where a module should be, and files or a submission over the size limits.
- A zip is unpacked member by member (`unpack_zip`): no absolute, `..`, drive or control-character
  names, no links, within member-count and byte limits counted as written.
- Files are created with O_EXCL in a folder the trusted side has just made, so names that collide
  (case folding, a repeated zip member) refuse the submission rather than overwrite each other.

Everything here raises `Refused` (a ValueError) with a message meant for the gradebook.
"""

from __future__ import annotations

import hashlib
import keyword
import os
import re
import stat
import struct
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping

#: A module file may be at most this large (the sandbox copy refuses larger ones too).
MAX_FILE_BYTES = 4 << 20
#: A notebook may be at most this large, with at most MAX_NOTEBOOK_ITEMS JSON values in it
#: (a bound on the memory its parse takes in the trusted process).
MAX_NOTEBOOK_BYTES = 16 << 20
MAX_NOTEBOOK_ITEMS = 1_000_000
#: A submission (what is copied of it, or what a zip unpacks to) may be at most this large.
MAX_SUBMISSION_BYTES = 50 << 20
#: A zip may hold at most this many members, nested at most this deep.
MAX_MEMBERS = 2000
MAX_DEPTH = 16
#: A folder of a submission may hold at most this many entries.
MAX_ENTRIES = 10_000
#: Longest module or assignment name accepted, and longest submission name kept.
MAX_IDENTIFIER = 64
MAX_DISPLAY_NAME = 200

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Names Windows reserves for devices (whatever the extension): never a file we create.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class Refused(ValueError):
    """A submission, or a part of it, that is not graded; the message says why."""


# -- names --------------------------------------------------------------------------------------

def is_identifier(name: object) -> bool:
    """Whether `name` may name an assignment or module file: an ASCII Python identifier of at
    most MAX_IDENTIFIER characters, not a keyword, not a dunder (`__init__`) and not a name
    Windows reserves for a device."""
    return (isinstance(name, str) and len(name) <= MAX_IDENTIFIER and _IDENTIFIER.fullmatch(name) is not None
            and not keyword.iskeyword(name) and not name.startswith("__") and name.lower() not in _RESERVED)


def shown(value: object, limit: int = 80) -> str:
    """`value` for a message: as it is when it is short printable text, else its repr, shortened."""
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, str) and text.isprintable() and len(text) <= limit and "'" not in text:
        return text
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def known_modules(assignments: Iterable[str] | None = None) -> dict[str, frozenset[str]]:
    """The course's assignments (all, or those of `assignments`) and the modules of each, as the
    course's folders hold them (tests/test_layers.py checks they are the registry's): the only
    assignment folders a graded copy may hold."""
    from dlgrade.assignments import course_modules

    wanted = None if assignments is None else set(assignments)
    return {a: m for a, m in course_modules().items() if wanted is None or a in wanted}


def checked_module(assignment: object, module: object, known: Mapping[str, frozenset[str]]) -> tuple[str, str]:
    """(assignment, module) when both are names the course has (`known`); else Refused."""
    if not (is_identifier(assignment) and assignment in known):
        raise Refused(f"names the assignment {shown(assignment)}, which this course does not have")
    if not (is_identifier(module) and module in known[assignment]):
        raise Refused(f"names the module {shown(module)}, which {assignment} does not have")
    return assignment, module


def display_name(raw: str) -> str:
    """A submission's name for the gradebook from a folder or file name. A name that is not UTF-8
    (a file name may hold any bytes) gets U+FFFD in place of those bytes and a digest of the
    bytes, so that two such names stay apart whatever else the folder holds; a name longer than
    MAX_DISPLAY_NAME is shortened, with a digest of the whole. Escaping for each output is
    grader.outputs.escape's job."""
    raw_bytes = os.fsencode(raw)
    text = raw_bytes.decode("utf-8", "replace")
    if text.encode("utf-8") != raw_bytes:
        text = f"{text} [{hashlib.sha256(raw_bytes).hexdigest()[:8]}]"
    if len(text) > MAX_DISPLAY_NAME:
        text = text[:MAX_DISPLAY_NAME - 12] + "…" + _digest(text)
    return text


def unique(names: list[str]) -> list[str]:
    """`names` with repeats told apart (`name (2)`, `name (3)`, ...), in order: a last guard that
    no two submissions share a gradebook row."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate)
        out.append(candidate)
    return out


def file_names(names: Iterable[str]) -> dict[str, str]:
    """A file name for each submission name, for the exports that write one file per submission:
    only ASCII letters, digits, `.`, `_` and `-`, no leading dot, at most 80 characters, and a
    digest of the name appended wherever it had to be changed or would collide with another when
    case is folded. `submission_12345` stays `submission_12345`."""
    names = list(dict.fromkeys(names))
    slugs = {}
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".-")[:80]
        changed = slug != name or not slug or slug.split(".")[0].lower() in _RESERVED
        slugs[name] = (slug or "submission", changed)
    folded: dict[str, int] = {}
    for slug, _ in slugs.values():
        folded[slug.casefold()] = folded.get(slug.casefold(), 0) + 1
    result = {}
    for name, (slug, changed) in slugs.items():
        result[name] = f"{slug}-{_digest(name)}" if changed or folded[slug.casefold()] > 1 else slug
    return result


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


# -- reading a submission -----------------------------------------------------------------------

class SubmissionTree:
    """A submission's folder, read without leaving it.

    Paths are relative to the folder, as `/`-separated text. A symbolic link is followed where
    its target stays inside the folder; one that leaves it raises Refused. Reads open each path
    component with O_NOFOLLOW from the folder down, so a link swapped in after the check cannot
    be followed either."""

    def __init__(self, root: Path | str):
        self.root = Path(os.path.realpath(root))
        self.owner = os.stat(self.root).st_uid
        self.bytes_read = 0  # by every read: a submission is bounded as a whole, not file by file

    def _real(self, rel: str) -> Path:
        real = Path(os.path.realpath(self.root / rel))
        if real != self.root and self.root not in real.parents:
            raise Refused(f"{shown(rel)} is a link outside the submission: not graded")
        return real

    def kind(self, rel: str) -> str | None:
        """"dir", "file", "other" (fifo, socket, device), or None where nothing is there."""
        try:
            mode = os.stat(self._real(rel)).st_mode
        except FileNotFoundError:
            return None
        return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"

    def names(self, rel: str = "") -> list[str]:
        """The names in folder `rel`, sorted (at most MAX_ENTRIES)."""
        with os.scandir(self._real(rel)) as entries:
            found = []
            for entry in entries:
                found.append(entry.name)
                if len(found) > MAX_ENTRIES:
                    raise Refused(f"{shown(rel or '.')} holds more than {MAX_ENTRIES} entries: not graded")
        return sorted(found)

    def read(self, rel: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """The bytes of regular file `rel`, at most `limit` of them; Refused for anything else."""
        real = self._real(rel)
        if self.kind(rel) != "file":  # told before opening it: opening a device can do things
            raise Refused(f"{shown(rel)} is not a regular file: not graded")
        fd = _open_beneath(self.root, real.relative_to(self.root).parts)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"{shown(rel)} is not a regular file: not graded")
            if info.st_nlink > 1 and info.st_uid != self.owner:
                raise Refused(f"{shown(rel)} is a hard link to another user's file: not graded")
            if info.st_size > limit:
                raise Refused(f"{shown(rel)} is larger than {_size(limit)}: not graded")
            data = os.read(fd, limit + 1)
            while len(data) <= limit and (chunk := os.read(fd, limit + 1 - len(data))):
                data += chunk
        finally:
            os.close(fd)
        if len(data) > limit:
            raise Refused(f"{shown(rel)} is larger than {_size(limit)}: not graded")
        self.bytes_read += len(data)
        if self.bytes_read > MAX_SUBMISSION_BYTES:
            raise Refused(f"the submission is larger than {_size(MAX_SUBMISSION_BYTES)}: not graded")
        return data


def _open_beneath(root: Path, parts: tuple[str, ...]) -> int:
    """A read-only descriptor of root/parts, opened one component at a time without following
    links (a fifo is opened without blocking, so that its kind can be told)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if os.open not in os.supports_dir_fd or not nofollow:  # no openat: the resolved path, checked
        return os.open(root.joinpath(*parts), flags | nofollow | getattr(os, "O_NONBLOCK", 0))
    fd = os.open(root, flags | getattr(os, "O_DIRECTORY", 0))
    try:
        for part in parts[:-1]:
            inner = os.open(part, flags | nofollow | getattr(os, "O_DIRECTORY", 0), dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], flags | nofollow | os.O_NONBLOCK, dir_fd=fd)
    except OSError as e:  # a component became a link (or vanished) after it was checked
        raise Refused(f"{shown('/'.join(parts))} changed while it was read: not graded") from e
    finally:
        os.close(fd)


def _size(limit: int) -> str:
    return f"{round(limit / 2**20, 2):g} MB"


def ignored(name: str) -> bool:
    """Entries that are never part of a submission: hidden files, macOS archive debris, caches."""
    return name.startswith(".") or name in ("__MACOSX", "__pycache__")


def module_files(tree: SubmissionTree, folder: str) -> dict[str, bytes]:
    """The modules (`<identifier>.py`, regular files) directly in `folder` of `tree`, by file name."""
    found: dict[str, bytes] = {}
    for name in tree.names(folder):
        if not (name.endswith(".py") and is_identifier(name[:-3])):
            continue
        rel = f"{folder}/{name}" if folder else name
        if tree.kind(rel) is None:  # a dangling link inside the submission: nothing to grade
            continue
        found[name] = tree.read(rel)
    return found


def collect_modules(root: Path | str, known: Mapping[str, frozenset[str]]) -> dict[str, bytes]:
    """The modules of a submission in the release layout (`<assignment>/<module>.py` for the
    assignments of `known`), by relative path: what a graded copy holds, and nothing else
    (nothing at all where `root` does not exist). Raises Refused (a link outside, too large, ...)."""
    if not os.path.lexists(root):
        return {}
    tree = SubmissionTree(root)
    files: dict[str, bytes] = {}
    for assignment in sorted(known):
        kind = tree.kind(assignment)
        if kind == "dir":
            files.update({f"{assignment}/{n}": data for n, data in module_files(tree, assignment).items()})
        elif kind is not None:
            raise Refused(f"{assignment} is not a folder: not graded")
    check_total(files)
    return files


def check_total(files: Mapping[str, bytes]) -> None:
    """Refused when the files of one submission add up to more than MAX_SUBMISSION_BYTES."""
    if sum(len(data) for data in files.values()) > MAX_SUBMISSION_BYTES:
        raise Refused(f"the submission is larger than {_size(MAX_SUBMISSION_BYTES)}: not graded")


def write_modules(files: Mapping[str, bytes], dest: Path | str, known: Mapping[str, frozenset[str]]) -> Path:
    """Write `files` (`<assignment>/<module>.py` -> bytes) under `dest`, after checking every
    path against `known` and the identifier rule; each file is created, never overwritten (two
    names that are one on this file system refuse the submission). Returns `dest`."""
    dest = Path(dest)
    check_total(files)
    checked = []
    for rel, data in files.items():
        parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
        if not (len(parts) == 2 and parts[0] in known and is_identifier(parts[0])
                and parts[1].endswith(".py") and is_identifier(parts[1][:-3]) and isinstance(data, bytes)):
            raise Refused(f"{shown(rel)} is not a module of this course's layout: not graded")
        checked.append((parts, data))
    dest.mkdir(parents=True, exist_ok=True)
    for (assignment, name), data in checked:
        (dest / assignment).mkdir(exist_ok=True)
        _create(dest / assignment / name, data, f"{assignment}/{name}")
    return dest


def copy_modules(root: Path | str, dest: Path | str, known: Mapping[str, frozenset[str]] | None = None) -> Path:
    """Copy the modules of the submission in `root` (release layout) into the fresh folder
    `dest`: `collect_modules` then `write_modules`. known: default every assignment."""
    known = known_modules() if known is None else known
    return write_modules(collect_modules(root, known), dest, known)


def _create(path: Path, data: bytes, shown_as: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except FileExistsError:
        raise Refused(f"{shown(shown_as)} appears twice (names that are the same file here): not graded") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# -- zips ---------------------------------------------------------------------------------------

def member_parts(name: str) -> tuple[str, ...]:
    """The path components of zip member `name`; Refused for a name that could land outside the
    folder it is unpacked into, or that no file system here should be asked to create."""
    raw = name.replace("\\", "/")
    parts = tuple(p for p in raw.split("/") if p not in ("", "."))
    if (raw.startswith("/") or ".." in parts or (parts and ":" in parts[0]) or len(parts) > MAX_DEPTH
            or any(not p.isprintable() or len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts)
            or any(0xD800 <= ord(c) <= 0xDFFF for c in raw)):
        raise Refused(f"member {shown(name)} would be written outside the submission, or has a name "
                      "that cannot be unpacked safely")
    return parts


#: The most bytes a zip's central directory may take: MAX_MEMBERS entries of names of honest length.
MAX_ZIP_DIRECTORY = MAX_MEMBERS << 10
_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")


def _check_zip_directory(archive: Path) -> None:
    """Refuse an archive from its size and its end-of-directory record alone, before zipfile
    reads the central directory (every entry of which it turns into an object, whatever their
    number: a million entries pointing at one empty member take 47 MB and hundreds of MB)."""
    size = archive.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise Refused(f"the archive takes {_size(size)} (at most {_size(MAX_SUBMISSION_BYTES)})")
    with open(archive, "rb") as f:
        f.seek(max(0, size - (_END_OF_DIRECTORY.size + 0xFFFF)))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END_OF_DIRECTORY.size:
        return  # not a zip: zipfile says so
    _, _, _, here, total, directory, _, _ = _END_OF_DIRECTORY.unpack_from(tail, at)
    if 0xFFFF in (here, total) or directory == 0xFFFFFFFF:
        raise Refused("it is a zip64 archive (more members or bytes than a submission may have)")
    if max(here, total) > MAX_MEMBERS:
        raise Refused(f"it has {max(here, total)} members (at most {MAX_MEMBERS})")
    if directory > MAX_ZIP_DIRECTORY:
        raise Refused(f"its list of members takes {_size(directory)} (at most {_size(MAX_ZIP_DIRECTORY)})")


def unpack_zip(archive: Path | str, dest: Path | str) -> None:
    """Unpack `archive` into the fresh folder `dest`: every member name checked (`member_parts`),
    no links, at most MAX_MEMBERS members and MAX_SUBMISSION_BYTES (counting the bytes actually
    written, not the sizes declared), no member twice. Hidden files and archive debris are left out.
    Raises Refused, or zipfile's own errors for a broken archive."""
    dest = Path(dest)
    _check_zip_directory(Path(archive))
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise Refused(f"it has {len(members)} members (at most {MAX_MEMBERS})")
        if sum(m.file_size for m in members) > MAX_SUBMISSION_BYTES:
            raise Refused(f"it unpacks to more than {_size(MAX_SUBMISSION_BYTES)}")
        planned, seen = [], set()
        for member in members:
            parts = member_parts(member.filename)
            if not parts or any(ignored(p) for p in parts):
                continue
            mode = member.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise Refused(f"member {shown(member.filename)} is a link: not graded")
            key = tuple(unicodedata.normalize("NFC", p).casefold() for p in parts)
            if key in seen and not member.is_dir():
                raise Refused(f"member {shown(member.filename)} appears twice: not graded")
            seen.add(key)
            planned.append((member, parts))
        dest.mkdir(parents=True, exist_ok=True)
        written = 0
        for member, parts in planned:
            target = dest.joinpath(*parts)
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except (FileExistsError, IsADirectoryError):
                raise Refused(f"member {shown(member.filename)} appears twice: not graded") from None
            with zf.open(member) as src, os.fdopen(fd, "wb") as out:
                while chunk := src.read(1 << 16):
                    written += len(chunk)
                    if written > MAX_SUBMISSION_BYTES:
                        raise Refused(f"it unpacks to more than {_size(MAX_SUBMISSION_BYTES)}")
                    out.write(chunk)
