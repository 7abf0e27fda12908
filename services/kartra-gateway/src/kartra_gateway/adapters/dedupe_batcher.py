"""Coalesces concurrent dedupe checks into one store round-trip per batch.

Each webhook needs a "seen before?" answer from MongoDB. One insert per delivery caps intake at
the store's write latency (about 7 ms per insert on FerretDB's SQLite backend); batching the
checks that arrive while a round-trip is in flight keeps one round-trip per batch, with no timer:
an idle gateway sends a batch of one at once.
"""

from __future__ import annotations

import asyncio

from kxflow_contracts.runtime.dedupe import SeenKeys


class BatchedSeenKeys:
    def __init__(self, seen: SeenKeys, max_batch: int = 256) -> None:
        self._seen = seen
        self._max = max_batch
        self._pending: list[tuple[str, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def first_time(self, key: str) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            try:
                results = await self._seen.first_time_many([key for key, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), first in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(first)

    async def forget(self, key: str) -> None:
        await self._seen.forget(key)
