"""Rate limits shared by every replica: at most ``limit`` calls for a key in any ``window`` seconds.

A gateway's own budget (Kartra's call schedule, Xero's scheduler) counts only its own calls, and
Kubernetes runs two or more replicas; Kartra's 20 calls/s per App and Xero's 60/min and 5,000/day
per organisation and 10,000/min per app are limits on all of them together. This module makes
the replicas agree through MongoDB with the one operation FerretDB performs atomically, a unique
insert (its find-and-modify let two writers through; see ``service_layer/tokens`` of the Xero
gateway):

* the calls of a key are numbered 0, 1, 2, … — a caller claims number ``n`` by inserting the
  document ``{key}#{n}``; a duplicate-key error means another replica got it, so it tries ``n + 1``;
* call ``n`` is *planned* for ``at[n] = max(now, at[n - limit] + window)``, read from the already
  final document ``n - limit``, and the caller waits until then.

So call ``n + limit`` never goes out less than ``window`` after call ``n``: no window holds more
than ``limit`` calls, whichever replicas made them, and a lone replica is never slowed by it.
A call leaves a little after its planned time (the claim's own round trips, the event loop), so
a rule's window carries the caller's margin, as the local budgets' windows do.
The cost is one ``_id`` read and one insert per rule and call (the rules of one call are claimed
together). Documents older than two windows are deleted by whoever claims a multiple of ``limit``.
What this cannot share is a concurrency cap (Xero's 5 calls in flight): that stays per replica.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

_DIGITS = 12  # zero-padded, so _id order is number order


@dataclass(frozen=True)
class Rule:
    key: str
    limit: int
    window: float


def planned_time(now: float, previous: float | None, window: float) -> float:
    """When call ``n`` may go: now, or one window after call ``n - limit`` (None: none recent)."""
    return now if previous is None else max(now, previous + window)


class SharedRateLimits:
    """``await admit(Rule(...), ...)`` before each call; returns the seconds it waited."""

    def __init__(
        self,
        collection: AsyncCollection[Any],
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._docs = collection
        self._now = now
        self._sleep = sleep
        # key → (next number to try, the time of this replica's last claim): a number cached for
        # longer than a window may have been cleaned up under it, so it is looked up again.
        self._next: dict[str, tuple[int, float]] = {}
        self._cleanups: set[asyncio.Task[Any]] = set()

    async def ensure_indexes(self) -> None:
        await self._docs.create_index([("key", 1), ("n", -1)])

    async def admit(self, *rules: Rule) -> float:
        planned = await asyncio.gather(*(self.claim(rule) for rule in rules))
        wait = max(planned, default=0.0) - self._now()
        if wait > 0:
            await self._sleep(wait)
        return max(0.0, wait)

    async def claim(self, rule: Rule) -> float:
        """Take the key's next call number; return the time the call is planned for."""
        n = await self._start(rule)
        collisions = 0
        while True:
            previous = None
            if n >= rule.limit:
                doc = await self._docs.find_one({"_id": self._id(rule.key, n - rule.limit)}, {"at": 1})
                previous = None if doc is None else float(doc["at"])
            now = self._now()
            at = planned_time(now, previous, rule.window)
            try:
                await self._docs.insert_one({"_id": self._id(rule.key, n), "key": rule.key, "n": n, "at": at})
            except DuplicateKeyError:
                collisions += 1
                n = await self._latest(rule.key) + 1 if collisions % 4 == 0 else n + 1
                continue
            self._next[rule.key] = (n + 1, now)
            if n % rule.limit == 0 and n > 0:
                self._clean(rule, now)
            return at

    async def _start(self, rule: Rule) -> int:
        cached = self._next.get(rule.key)
        if cached is not None and self._now() - cached[1] < rule.window:
            return cached[0]
        return await self._latest(rule.key) + 1

    async def _latest(self, key: str) -> int:
        doc = await self._docs.find_one({"key": key}, {"n": 1}, sort=[("n", -1)])
        return -1 if doc is None else int(doc["n"])

    def _clean(self, rule: Rule, now: float) -> None:
        stale = {"key": rule.key, "at": {"$lt": now - 2 * rule.window}}
        task = asyncio.create_task(self._docs.delete_many(stale))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    @staticmethod
    def _id(key: str, n: int) -> str:
        return f"{key}#{n:0{_DIGITS}d}"
