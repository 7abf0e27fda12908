"""runtime.periodic: a tick that raises does not end the loop; stop ends it; the lifespan hook
starts and stops around the app's own lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from waiting import wait_for

from kxflow_contracts.runtime.periodic import Periodic, during_lifespan


async def test_a_failing_tick_is_survived_and_stop_ends_the_loop() -> None:
    calls = 0

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise ConnectionError("broker blip")

    periodic = Periodic("test", tick, interval=0.001)
    periodic.start()
    await wait_for(lambda: calls >= 5, timeout=5, message="five ticks, failing ones included")
    await periodic.stop()
    after_stop = calls
    await asyncio.sleep(0.02)  # time passing is what is under test: no tick may happen now
    assert calls == after_stop


def test_during_lifespan_wraps_the_apps_own_lifespan() -> None:
    order: list[str] = []

    @asynccontextmanager
    async def own(_: FastAPI) -> AsyncIterator[None]:
        order.append("app up")
        yield
        order.append("app down")

    app = FastAPI(lifespan=own)

    async def start() -> None:
        order.append("start")

    async def stop() -> None:
        order.append("stop")

    during_lifespan(app, start, stop)
    with TestClient(app):
        assert order == ["app up", "start"]
    assert order == ["app up", "start", "stop", "app down"]
