"""Background work that repeats for a service's lifetime: one loop, one lifespan hook.

:class:`Periodic` calls ``tick`` every ``interval`` seconds in its own task; an exception in a tick
is logged and the loop goes on (a database or broker blip must never end the work for good).
:func:`during_lifespan` runs start/stop callbacks around a FastAPI/Starlette app's own lifespan.
Retention (``runtime.retention``) and the consumer-lag gauge (``runtime.lag``) are both built on
these, so neither repeats the task bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger("kxflow.periodic")


class Periodic:
    def __init__(self, name: str, tick: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self.tick = tick
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s failed: %s", self.name, type(exc).__name__)
            await asyncio.sleep(self.interval)  # the period itself, not a synchronisation

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def during_lifespan(
    app: Any, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Call ``start`` once ``app`` has started and ``stop`` before it finishes (wraps its lifespan)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            await start()
            try:
                yield state
            finally:
                await stop()

    app.router.lifespan_context = lifespan
