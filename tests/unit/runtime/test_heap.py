"""freeze_after_startup freezes the heap exactly when the app's lifespan startup completes."""

from __future__ import annotations

import gc
from typing import Any

from kxflow_contracts.runtime.heap import freeze_after_startup


async def test_the_heap_is_frozen_when_startup_completes_not_before() -> None:
    frozen_during_startup: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        frozen_during_startup.append(gc.get_freeze_count())
        await send({"type": "lifespan.startup.complete"})

    messages = [{"type": "lifespan.startup"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append({**message, "frozen": gc.get_freeze_count()})

    gc.unfreeze()
    try:
        await freeze_after_startup(app)({"type": "lifespan"}, receive, send)
        assert frozen_during_startup == [0]
        assert sent[0]["type"] == "lifespan.startup.complete" and sent[0]["frozen"] > 0
    finally:
        gc.unfreeze()


async def test_requests_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})

    async def send(message: dict[str, Any]) -> None:
        seen.append(message)

    gc.unfreeze()
    await freeze_after_startup(app)({"type": "http"}, None, send)
    assert seen == [{"type": "http.response.start", "status": 204}]
    assert gc.get_freeze_count() == 0
