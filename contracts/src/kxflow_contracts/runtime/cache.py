"""A bounded cache with a time-to-live: the only kind of cache a service keeps (issue 11).

Anything an unauthenticated caller can make a service remember (a connection-id miss, a redactor
entry) must be bounded in size and in time, or a loop of junk requests grows memory until the pod
is killed. Least recently used entries go first; an expired entry is a miss.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_MISSING = object()


class BoundedTTLCache(Generic[K, V]):
    """At most ``maxsize`` entries, each kept at most ``ttl`` seconds of ``clock``."""

    def __init__(self, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def lookup(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` for a live entry, ``(False, None)`` for a miss (an expired one is dropped)."""
        hit = self._data.get(key)
        if hit is None:
            return False, None
        if hit[0] <= self._clock():
            del self._data[key]
            return False, None
        self._data.move_to_end(key)
        return True, hit[1]

    def get(self, key: K, default: V | None = None) -> V | None:
        found, value = self.lookup(key)
        return value if found else default

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        self._data[key] = (self._clock() + (self.ttl if ttl is None else ttl), value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()
