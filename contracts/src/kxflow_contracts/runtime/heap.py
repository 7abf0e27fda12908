"""Keep the garbage collector off the startup heap.

A service's imports and wiring (pydantic schemas of the catalog, FastAPI routes, OpenTelemetry,
aiokafka…) leave ~100 MB of long-lived objects, and every full (generation 2) collection walks
all of them: in the Kartra intake benchmark those pauses alone made p99 64 ms against 15 ms with
the startup heap frozen (same throughput). ``gc.freeze()`` moves what is alive at the end of
startup to a permanent generation the collector no longer scans; collecting first keeps startup
garbage out of it.
"""

from __future__ import annotations

import gc
from typing import Any


def freeze_startup_heap() -> None:
    """Call once, when startup is complete."""
    gc.collect()
    gc.freeze()


def freeze_after_startup(app: Any) -> Any:
    """``app`` (ASGI) with :func:`freeze_startup_heap` run as its lifespan startup completes.

    For a service's ``__main__`` (the process is that service alone); in-process test harnesses
    run the bare app and keep a collectable heap.
    """

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def send_and_freeze(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                freeze_startup_heap()
            await send(message)

        return await app(scope, receive, send_and_freeze)

    return wrapped
