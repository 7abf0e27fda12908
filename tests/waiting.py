"""Polling helper for tests: never sleep as synchronisation, wait for a condition with a deadline.

from waiting import wait_for

await wait_for(lambda: len(received) == 3, timeout=10, message="3 messages consumed")
doc = await wait_for(lambda: coll.find_one({"_id": key}), message="document written")
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """The predicate did not become truthy before the deadline (reported as a test failure)."""


async def wait_for(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | None = None,
) -> T:
    """Poll ``predicate`` (sync or async) until it returns a truthy value, and return that value.

    An ``AssertionError`` raised by the predicate counts as "not yet" (so a predicate may use plain
    ``assert``); the last one is chained to the timeout error. Any other exception propagates at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error: AssertionError | None = None
    last_value: Any = None
    while True:
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
            last_value = value
        except AssertionError as exc:
            last_error = exc
        if loop.time() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            detail = f" (last error: {last_error})" if last_error else f" (last value: {last_value!r})"
            raise WaitTimeoutError(f"timed out after {timeout}s waiting for {what}{detail}") from last_error
        await asyncio.sleep(interval)
