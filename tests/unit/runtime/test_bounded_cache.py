"""runtime.cache.BoundedTTLCache: bounded in size (least recently used first) and in time."""

from __future__ import annotations

from kxflow_contracts.runtime.cache import BoundedTTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_size_is_bounded_and_least_recently_used_goes_first() -> None:
    cache: BoundedTTLCache[str, int] = BoundedTTLCache(3, ttl=60)
    for i in range(1000):
        cache.put(f"k{i}", i)
    assert len(cache) == 3
    assert cache.get("k999") == 999 and cache.get("k0") is None
    cache.get("k997")  # touched: now the most recent
    cache.put("new", 1)
    assert cache.lookup("k997") == (True, 997)
    assert cache.lookup("k998") == (False, None)


def test_entries_expire_and_a_cached_none_is_a_hit() -> None:
    clock = Clock()
    cache: BoundedTTLCache[str, int | None] = BoundedTTLCache(10, ttl=30, clock=clock)
    cache.put("miss", None)
    assert cache.lookup("miss") == (True, None)
    clock.now = 29.9
    assert cache.lookup("miss") == (True, None)
    clock.now = 30.0
    assert cache.lookup("miss") == (False, None)
    assert len(cache) == 0
