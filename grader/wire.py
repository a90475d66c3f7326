"""The byte format between the checker and the sandboxed worker: JSON for structure, raw bytes for arrays.

No pickle anywhere: an array crosses as its dtype string, its shape and its bytes, and is rebuilt
with `np.frombuffer` only for plain numeric dtypes, so whatever a (possibly tampered-with) worker
sends can only ever decode into arrays, numbers, strings, None, tuples, lists, str-keyed dicts
and Handles.

A message is: 8 bytes (big-endian length of the JSON header), the header (the body, and for each
array its dtype, shape and byte count), then the arrays' bytes back to back.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

import numpy as np

from grader.submission import Handle, SeededGenerator

#: The largest message either side accepts (a submission cannot make the checker allocate more).
MAX_MESSAGE_BYTES = 1 << 30
_NUMERIC_KINDS = set("biufc")


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


def encode(message: dict[str, Any]) -> bytes:
    """The bytes of one message (a dict of plain values)."""
    arrays: list[np.ndarray] = []
    body = _pack(message, arrays)
    blobs = [np.ascontiguousarray(a).tobytes() for a in arrays]
    layout = [[a.dtype.str, list(a.shape), len(b)] for a, b in zip(arrays, blobs)]
    header = json.dumps({"body": body, "arrays": layout}).encode()
    return struct.pack(">Q", len(header)) + header + b"".join(blobs)


def send(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one message and flush."""
    stream.write(encode(message))
    stream.flush()


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _array(entry: Any, stream: BinaryIO) -> np.ndarray:
    """Rebuild one array from its [dtype, shape, nbytes] entry and the bytes that follow."""
    try:
        dtype_str, shape, nbytes = entry
        dtype = np.dtype(str(dtype_str))
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.hasobject:
            raise WireError(f"array of dtype {dtype} may not cross")
        if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape) or type(nbytes) is not int:
            raise WireError("bad array shape")
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != nbytes:
            raise WireError("array size does not match its shape")
    except (TypeError, ValueError) as e:
        raise WireError(f"malformed array entry: {e}") from None
    return np.frombuffer(_read_exactly(stream, nbytes), dtype=dtype).reshape(shape).copy()


def receive(stream: BinaryIO) -> dict[str, Any]:
    """Read one message; raises EOFError when the channel is closed, WireError when malformed."""
    (size,) = struct.unpack(">Q", _read_exactly(stream, 8))
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"message header of {size} bytes")
    try:
        header = json.loads(_read_exactly(stream, size))
        layout = header["arrays"]
        if type(layout) is not list or sum(int(entry[2]) for entry in layout) > MAX_MESSAGE_BYTES:
            raise WireError("arrays too large")
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise WireError(f"malformed header: {e}") from None
    arrays = [_array(entry, stream) for entry in layout]
    message = _unpack(header.get("body"), arrays)
    if type(message) is not dict:
        raise WireError("a message must be a dict")
    return message
