"""Per-key work queues: every key (one connection: a Kartra App, a Xero organisation) drains its
own queue with its own small pool of workers, so a key with a long backlog never delays another
key's work. With one worker per key, a key's items run in their order.

A handler answers True when the item's work is durable (then ``on_done`` is told), False when it
must be tried again later (another consumer holds it); an exception is retried after a backoff,
never dropped. A retried item goes back to the head of its lane, so the order holds. ``drop``
forgets queued items of partitions this consumer no longer owns.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("kxflow.lanes")


@dataclass
class Item:
    partition: Hashable
    offset: int
    payload: Any


@dataclass
class _Lane:
    queue: deque[Item] = field(default_factory=deque)
    workers: int = 0


class KeyedDispatcher:
    def __init__(
        self,
        handle: Callable[[Any], Awaitable[bool]],
        on_done: Callable[[Hashable, int], None],
        per_key_workers: int = 5,
        retry_delay: float = 1.0,
    ) -> None:
        self._handle = handle
        self._on_done = on_done
        self._per_key = per_key_workers
        self._retry_delay = retry_delay
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dropped: set[Hashable] = set()

    def submit(self, key: str, item: Item) -> None:
        self._dropped.discard(item.partition)
        lane = self._lanes.setdefault(key, _Lane())
        lane.queue.append(item)
        if lane.workers < self._per_key:
            lane.workers += 1
            task = asyncio.create_task(self._work(key, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def queued(self) -> int:
        return sum(len(lane.queue) for lane in self._lanes.values())

    def drop(self, partitions: Iterable[Hashable]) -> None:
        gone = set(partitions)
        self._dropped |= gone
        for lane in self._lanes.values():
            kept = [i for i in lane.queue if i.partition not in gone]
            lane.queue.clear()
            lane.queue.extend(kept)

    async def _work(self, key: str, lane: _Lane) -> None:
        try:
            while lane.queue:
                item = lane.queue.popleft()
                try:
                    done = await self._handle(item.payload)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("work on %s/%s failed; retrying", item.partition, item.offset)
                    done = False
                if done:
                    self._on_done(item.partition, item.offset)
                elif item.partition not in self._dropped:
                    await asyncio.sleep(self._retry_delay)  # back off, then try it again
                    if item.partition not in self._dropped:
                        lane.queue.appendleft(item)
        finally:
            lane.workers -= 1
            if not lane.queue and lane.workers == 0 and self._lanes.get(key) is lane:
                del self._lanes[key]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._lanes.clear()
