"""The byte format between the checker and the sandboxed worker: JSON for structure, raw bytes for arrays.

No pickle anywhere: an array crosses as its dtype string, its shape and its bytes, and is rebuilt
with `np.frombuffer` only for plain numeric dtypes, so whatever a (possibly tampered-with) worker
sends can only ever decode into arrays, numbers, strings, None, tuples, lists, str-keyed dicts
and Handles.

A message is: 8 bytes (big-endian length of the JSON header), the header (the body, and for each
array its dtype, shape and byte count), then the arrays' bytes back to back.

Everything is bounded before it is allocated or parsed, because the reader is the trusted
process and the writer may be hostile: the header's size, its number of elements and its nesting
depth are checked on the raw bytes before `json.loads` sees them (an 80 MB header of `[],[],...`
would otherwise cost gigabytes of Python objects), shapes are multiplied in Python integers (no
int64 overflow), and the arrays' bytes are read into one buffer of the size the header announced,
which is itself capped. Whatever is wrong with a message is a WireError, never another exception.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

#: The largest JSON header either side accepts. It holds structure and small values (numbers,
#: messages a few kilobytes long); the arrays travel as raw bytes after it.
MAX_HEADER_BYTES = 1 << 20
#: The most values (containers and scalars) a header may hold.
MAX_ELEMENTS = 100_000
#: The deepest nesting of lists and objects a header may have (the encoding adds two levels per
#: tagged value, so this allows values nested about 30 deep).
MAX_DEPTH = 64
#: The most arrays one message may carry, and the most dimensions one array may have.
MAX_ARRAYS = 10_000
MAX_NDIM = 32
#: The most array bytes one message may carry (what a submission can make the checker allocate).
MAX_ARRAY_BYTES = 64 << 20
#: Kept for callers that name the old single limit.
MAX_MESSAGE_BYTES = MAX_HEADER_BYTES + MAX_ARRAY_BYTES
_NUMERIC_KINDS = set("biufc")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


@dataclass(frozen=True)
class Handle:
    """An opaque reference to an object kept on the submission's side (a layer's cache)."""

    id: int


@dataclass(frozen=True)
class SeededGenerator:
    """A numpy random generator sent as its seed: the student's side receives
    `np.random.default_rng(seed)`, a fresh one for every call."""

    seed: int

    def make(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


class WireError(ValueError):
    """A message that is malformed, too large, or holds something that may not cross."""


def _pack(value: Any, arrays: list[np.ndarray]) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is np.ndarray:
        if value.dtype.kind not in _NUMERIC_KINDS or value.dtype.fields is not None:
            raise WireError(f"array of dtype {value.dtype} may not cross")
        arrays.append(value)
        return {"a": len(arrays) - 1}
    if isinstance(value, Handle):
        return {"h": value.id}
    if isinstance(value, SeededGenerator):
        return {"g": value.seed}
    if type(value) is tuple:
        return {"t": [_pack(v, arrays) for v in value]}
    if type(value) is list:
        return [_pack(v, arrays) for v in value]
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            raise WireError("dict keys must be strings")
        return {"d": [[k, _pack(v, arrays)] for k, v in value.items()]}
    raise WireError(f"a {type(value).__name__} may not cross")


def _unpack(value: Any, arrays: list[np.ndarray]) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_unpack(v, arrays) for v in value]
    if type(value) is dict and len(value) == 1:
        (tag, body), = value.items()
        if tag == "a" and type(body) is int and 0 <= body < len(arrays):
            return arrays[body]
        if tag == "h" and type(body) is int:
            return Handle(body)
        if tag == "g" and type(body) is int and 0 <= body < 2**64:
            return SeededGenerator(body)
        if tag == "t" and type(body) is list:
            return tuple(_unpack(v, arrays) for v in body)
        if tag == "d" and type(body) is list and all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in body):
            return {k: _unpack(v, arrays) for k, v in body}
    raise WireError("malformed message")


def encode(message: dict[str, Any], check: bool = True) -> bytes:
    """The bytes of one message (a dict of plain values). Raises WireError for a value that may
    not cross, or (check) a message the other side would refuse as too large or too deep."""
    arrays: list[np.ndarray] = []
    try:
        body = _pack(message, arrays)
    except RecursionError:
        raise WireError("the value is nested too deeply") from None
    blobs = [np.ascontiguousarray(a).tobytes() for a in arrays]
    layout = [[a.dtype.str, list(a.shape), len(b)] for a, b in zip(arrays, blobs)]
    header = json.dumps({"body": body, "arrays": layout}).encode()
    if check:
        check_header(header)
    if len(arrays) > MAX_ARRAYS or sum(len(b) for b in blobs) > MAX_ARRAY_BYTES:
        raise WireError(f"the arrays are larger than {MAX_ARRAY_BYTES >> 20} MB together")
    return struct.pack(">Q", len(header)) + header + b"".join(blobs)


def send(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one message and flush."""
    stream.write(encode(message))
    stream.flush()


def _structure(header: bytes) -> bytes:
    """The header with the contents of its strings taken out, in linear time with no regex (a
    backtracking pattern over hostile bytes is quadratic): escaped backslashes go first, then
    escaped quotes, and what is left between quotes is string content."""
    plain = bytes(header).replace(b"\\\\", b"").replace(b'\\"', b"")
    return b'""'.join(plain.split(b'"')[0::2])


def check_header(header: bytes) -> None:
    """Refuse a header that is too large, holds too many values or nests too deeply, looking only
    at its bytes (linear time; nothing is allocated per value)."""
    if len(header) > MAX_HEADER_BYTES:
        raise WireError(f"a header of {len(header)} bytes (at most {MAX_HEADER_BYTES})")
    structure = _structure(header)
    containers = structure.count(b"[") + structure.count(b"{")
    if containers + structure.count(b",") + structure.count(b":") > MAX_ELEMENTS:
        raise WireError(f"a header with more than {MAX_ELEMENTS} values")
    brackets = np.frombuffer(structure.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    deepest = int(np.cumsum(steps).max()) if steps.size else 0
    if deepest > MAX_DEPTH:
        raise WireError(f"a header nested {deepest} deep (at most {MAX_DEPTH})")


def _read_exactly(stream: BinaryIO, n: int) -> bytearray:
    """n bytes of `stream` in one buffer allocated once (readinto where the stream has it)."""
    buffer = bytearray(n)
    view, filled = memoryview(buffer), 0
    readinto = getattr(stream, "readinto", None)
    while filled < n:
        if readinto is not None:
            got = readinto(view[filled:])
        else:
            chunk = stream.read(n - filled)
            got = len(chunk)
            view[filled:filled + got] = chunk
        if not got:
            raise EOFError("the other side closed the channel")
        filled += got
    return buffer


def _layout(layout: Any) -> list[tuple[np.dtype, list[int], int]]:
    """The arrays a header announces, checked: numeric dtypes, shapes whose size matches the
    byte count (in Python integers), and no more than the limits allow."""
    if type(layout) is not list or len(layout) > MAX_ARRAYS:
        raise WireError("a malformed or too long list of arrays")
    checked, total = [], 0
    for entry in layout:
        if type(entry) is not list or len(entry) != 3:
            raise WireError("a malformed array entry")
        dtype_str, shape, nbytes = entry
        if type(dtype_str) is not str or len(dtype_str) > 16:
            raise WireError("a malformed dtype")
        try:
            dtype = np.dtype(dtype_str)
        except (TypeError, ValueError, SyntaxError) as e:
            raise WireError(f"a malformed dtype: {e}") from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.hasobject or dtype.subdtype:
            raise WireError(f"array of dtype {dtype} may not cross")
        if type(shape) is not list or len(shape) > MAX_NDIM or not all(type(d) is int and d >= 0 for d in shape):
            raise WireError("a malformed array shape")
        if type(nbytes) is not int or math.prod(shape) * dtype.itemsize != nbytes:
            raise WireError("array size does not match its shape")
        total += nbytes
        if total > MAX_ARRAY_BYTES:
            raise WireError(f"arrays larger than {MAX_ARRAY_BYTES >> 20} MB")
        checked.append((dtype, shape, nbytes))
    return checked


def receive(stream: BinaryIO) -> dict[str, Any]:
    """Read one message; raises EOFError when the channel is closed, WireError when it is
    malformed or larger than the limits (checked before anything of that size is allocated)."""
    (size,) = struct.unpack(">Q", bytes(_read_exactly(stream, 8)))
    if size > MAX_HEADER_BYTES:
        raise WireError(f"a header of {size} bytes (at most {MAX_HEADER_BYTES})")
    raw = bytes(_read_exactly(stream, size))
    check_header(raw)
    try:
        header = json.loads(raw)
        if type(header) is not dict:
            raise WireError("the header is not an object")
        layout = _layout(header.get("arrays"))
    except (ValueError, RecursionError, MemoryError, OverflowError, TypeError) as e:
        if isinstance(e, WireError):
            raise
        raise WireError(f"malformed header: {type(e).__name__}") from None
    arrays = [np.frombuffer(_read_exactly(stream, nbytes), dtype=dtype).reshape(shape)
              for dtype, shape, nbytes in layout]
    try:
        message = _unpack(header.get("body"), arrays)
    except RecursionError:
        raise WireError("a message nested too deeply") from None
    if type(message) is not dict:
        raise WireError("a message must be a dict")
    return message
