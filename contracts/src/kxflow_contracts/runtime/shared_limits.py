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
The cost is one ``_id`` read and one insert per rule and call. The rules of one call are claimed
one after another, each planned no earlier than the ones before, so the time a document records
is the call's real departure, not an earlier one it then waited past (a rule held in blocks,
below, goes last: its block must fit the departure). A call that arrives late (a busy event
loop, a slow network) is accounted for when its caller reports the answer (``finished``): the
document records ``done``, and call ``n + limit`` goes no earlier than one window after it,
checked again just before it leaves, as the local budgets re-stamp a call at its answer.
Documents older than two windows are deleted by whoever claims a multiple of ``limit``.

A rule with a high limit and many callers (Xero's app-wide 10,000/min, which every organisation's
calls pass) would have every call of every replica queue for its one key. Such a rule takes
numbers in blocks (``block``): one document reserves ``block`` calls, which this replica hands out
from memory while they can still leave within ``spread`` seconds of the block's planned time
(covered by the window's margin); a block not used up by then is given up, never stretched.
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
    block: int = 1
    spread: float = 1.0


@dataclass(frozen=True)
class Admission:
    """What ``admit`` took: the claim documents (for ``finished``) and the seconds it waited."""

    claims: tuple[tuple[Rule, int | None], ...]  # None: taken from a block held in memory
    waited: float


def planned_time(now: float, previous: float | None, window: float) -> float:
    """When call ``n`` may go: now, or one window after call ``n - limit`` (None: none recent)."""
    return now if previous is None else max(now, previous + window)


class SharedRateLimits:
    """``admission = await admit(Rule(...), ...)`` before each call (it waits as needed), and
    ``finished(admission)`` when its answer arrives."""

    def __init__(
        self,
        collection: AsyncCollection[Any],
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._docs = collection
        self._now = now
        self._sleep = sleep
        # key → [planned time, calls left] of the block this replica holds (``Rule.block``)
        self._blocks: dict[str, list[float]] = {}
        # key → (next number to try, the time of this replica's last claim): a number cached for
        # longer than a window may have been cleaned up under it, so it is looked up again.
        self._next: dict[str, tuple[int, float]] = {}
        self._background_tasks: set[asyncio.Task[Any]] = set()
        # One claim per key at a time in this process: concurrent callers of one replica would
        # otherwise all try the same number and spend round trips colliding with each other.
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure_indexes(self) -> None:
        await self._docs.create_index([("key", 1), ("n", -1)])

    async def admit(self, *rules: Rule) -> Admission:
        """Claim every rule in order (a block rule last), then wait until the call may go."""
        planned = self._now()
        claims: list[tuple[Rule, int | None]] = []
        for rule in rules:
            planned, n = await self.claim(rule, not_before=planned)
            claims.append((rule, n))
        waited = await self._wait_until(planned)
        # The calls `limit` numbers back that have answered since: one window after the answer.
        earlier = [(rule, n - rule.limit) for rule, n in claims if n is not None and n >= rule.limit]
        answered = await asyncio.gather(*(self._done(rule.key, m) for rule, m in earlier))
        later = [done + rule.window for (rule, _), done in zip(earlier, answered, strict=True) if done]
        waited += await self._wait_until(max(later, default=0.0))
        return Admission(tuple(claims), waited)

    async def used(self, rule: Rule) -> int:
        """Calls of ``rule.key`` planned within the last window, by every replica (what is left
        of the budget is ``rule.limit`` minus this; a block rule counts blocks, not calls)."""
        since = self._now() - rule.window
        return await self._docs.count_documents({"key": rule.key, "at": {"$gt": since}})

    def finished(self, admission: Admission) -> None:
        """The call's answer arrived: record it on its claims (in the background)."""
        done = self._now()
        ids = [self._id(rule.key, n) for rule, n in admission.claims if n is not None]
        if not ids:
            return
        self._background(
            asyncio.gather(*(self._docs.update_one({"_id": i}, {"$set": {"done": done}}) for i in ids))
        )

    async def _wait_until(self, moment: float) -> float:
        wait = moment - self._now()
        if wait <= 0:
            return 0.0
        await self._sleep(wait)
        return wait

    async def _done(self, key: str, n: int) -> float | None:
        doc = await self._docs.find_one({"_id": self._id(key, n)}, {"done": 1})
        return None if doc is None or "done" not in doc else float(doc["done"])

    async def claim(self, rule: Rule, not_before: float = 0.0) -> tuple[float, int | None]:
        """Take the key's next call number; return the time the call is planned for."""
        lock = self._locks.setdefault(rule.key, asyncio.Lock())
        async with lock:
            if rule.block > 1:
                return await self._from_block(rule, not_before), None
            return await self._claim(rule, not_before)

    async def _from_block(self, rule: Rule, not_before: float) -> float:
        held = self._blocks.get(rule.key)
        leaves = max(self._now(), not_before)
        if held is None or held[1] < 1 or leaves > held[0] + rule.spread:
            blocks = Rule(rule.key, max(1, rule.limit // rule.block), rule.window)
            at, _ = await self._claim(blocks, not_before)
            held = self._blocks[rule.key] = [at, float(rule.block)]
        held[1] -= 1
        return max(held[0], not_before)

    async def _claim(self, rule: Rule, not_before: float) -> tuple[float, int]:
        n = await self._start(rule)
        collisions = 0
        while True:
            previous = None
            if n >= rule.limit:
                doc = await self._docs.find_one(
                    {"_id": self._id(rule.key, n - rule.limit)}, {"at": 1, "done": 1}
                )
                previous = None if doc is None else max(float(doc["at"]), float(doc.get("done") or 0))
            now = self._now()
            at = max(planned_time(now, previous, rule.window), not_before)
            try:
                await self._docs.insert_one({"_id": self._id(rule.key, n), "key": rule.key, "n": n, "at": at})
            except DuplicateKeyError:
                collisions += 1
                n = await self._latest(rule.key) + 1 if collisions % 4 == 0 else n + 1
                continue
            self._next[rule.key] = (n + 1, now)
            if n % rule.limit == 0 and n > 0:
                stale = {"key": rule.key, "at": {"$lt": now - 2 * rule.window}}
                self._background(self._docs.delete_many(stale))
            return at, n

    async def _start(self, rule: Rule) -> int:
        cached = self._next.get(rule.key)
        if cached is not None and self._now() - cached[1] < rule.window:
            return cached[0]
        return await self._latest(rule.key) + 1

    async def _latest(self, key: str) -> int:
        doc = await self._docs.find_one({"key": key}, {"n": 1}, sort=[("n", -1)])
        return -1 if doc is None else int(doc["n"])

    def _background(self, work: Awaitable[Any]) -> None:
        """Bookkeeping the caller need not wait for; a failure (MongoDB away) only loses precision."""
        task = asyncio.ensure_future(work)
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    @staticmethod
    def _id(key: str, n: int) -> str:
        return f"{key}#{n:0{_DIGITS}d}"
