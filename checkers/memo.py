"""Remembering what was already computed on a case: the bytes that identify a value, and the
cache of reference evaluations.

Every submission of a batch is checked on the same cases at the grading profile (the cases depend
on the course seed and the exercise only), so the reference's outputs and vector-Jacobian products
on a case are the same for all of them: the process that grades a batch computes each once. The
cache lives in the trusted process only; the student's worker never sees it, and nothing the
student returns is ever part of a key or a value.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections import OrderedDict
from dataclasses import fields, is_dataclass, replace
from typing import Any, Callable

import numpy as np

from dlgrade.grader.boundary.wire import Handle


class Unkeyable(TypeError):
    """A value whose bytes do not identify it (an object the checker does not know)."""


def fingerprint(value: Any) -> bytes:
    """A digest of `value` that two values share exactly when they are the same data: arrays by
    dtype, shape and bytes, containers by their items, in order, with the type of every part (a
    float 1.0 and an int 1 differ, a tuple and a list differ). Raises Unkeyable for anything
    else (a cache handle: what it stands for is not in its bytes)."""
    digest = hashlib.blake2b(digest_size=20)
    _feed(digest, value)
    return digest.digest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise Unkeyable("an array of objects")
        digest.update(b"A%s%r" % (value.dtype.str.encode(), value.shape))
        digest.update(value.tobytes() if not value.flags.c_contiguous else value.data)
    elif value is None or isinstance(value, _SCALARS):
        text = repr(value).encode()
        digest.update(b"S%s:%d:%s" % (type(value).__name__.encode(), len(text), text))
    elif isinstance(value, (tuple, list)):
        digest.update(b"L%s:%d" % (type(value).__name__.encode(), len(value)))
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(b"D%d" % len(value))
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, Handle):
        raise Unkeyable("a cache handle")
    elif is_dataclass(value) and not isinstance(value, type):
        # Case, SeededGenerator: their type and fields say everything they are.
        digest.update(b"C" + type(value).__qualname__.encode())
        for f in fields(value):
            _feed(digest, f.name)
            _feed(digest, getattr(value, f.name))
    else:
        raise Unkeyable(type(value).__name__)


_SCALARS = (bool, int, float, complex, str, bytes, np.generic)


#: The reference cache's size in MiB of the arrays it holds (DLGRADE_REFERENCE_CACHE_MB; 0 turns it off).
DEFAULT_CACHE_MB = 256


class ReferenceCache:
    """Reference evaluations by (oracle, differentiable inputs, the case's arguments), least
    recently used first out once the arrays they hold pass `limit_bytes`."""

    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self._entries: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, oracle: Callable, args: dict[str, Any], differentiable: tuple[str, ...],
                       compute: Callable[[], Any]) -> Any:
        """The cached evaluation of `oracle` on `args`, or `compute()`'s, remembered. Arguments
        that cannot be keyed are computed every time."""
        if self.limit_bytes <= 0:
            return compute()
        try:
            key = (oracle_key(oracle), differentiable, fingerprint(args))
        except Unkeyable:
            return compute()
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]
        self.misses += 1
        value = compute()
        size = _size(args) + _size(getattr(value, "output", None))
        # The autograd graph kept for the vector-Jacobian products is of the inputs' order too.
        size *= 3
        if size <= self.limit_bytes:
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.limit_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def oracle_key(oracle: Callable) -> bytes:
    """What identifies a reference function by what it computes, never by where it lives in
    memory (a lambda made per call gets the address of the last one): its module and name, and,
    for a function made inside another (a closure), the values it closes over and its defaults,
    a function among them by its own key. Raises Unkeyable where that cannot be told."""
    if not callable(oracle) or not hasattr(oracle, "__code__"):
        raise Unkeyable("a reference that is not a plain function")
    cells = [c.cell_contents for c in (oracle.__closure__ or ())]
    parts = [oracle.__module__, oracle.__qualname__, oracle.__code__.co_code,
             [oracle_key(v) if callable(v) else v for v in cells],
             [oracle_key(v) if callable(v) else v for v in (oracle.__defaults__ or ())]]
    return fingerprint(parts)


def _size(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes + 96
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values()) + 64
    if isinstance(value, (tuple, list)):
        return sum(_size(v) for v in value) + 64
    return 32


def _limit_from_environment() -> int:
    try:
        return int(float(os.environ.get("DLGRADE_REFERENCE_CACHE_MB", DEFAULT_CACHE_MB)) * (1 << 20))
    except ValueError:
        return DEFAULT_CACHE_MB << 20


#: The process's cache: every check in this (trusted) process shares it.
references = ReferenceCache(_limit_from_environment())


def copied(value: Any) -> Any:
    """A copy of what a cache hands out (its arrays, lists and dicts new, the rest shared:
    the rest is immutable), so that no reader changes what the next one gets."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(copied(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type) and not value.__dataclass_params__.frozen:
        return replace(value, **{f.name: copied(getattr(value, f.name)) for f in fields(value) if f.init})
    return value
