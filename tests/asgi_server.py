"""Run an ASGI app (a service or a sandbox) on a free loopback port inside the test's event loop.

Real HTTP over a real socket, with the app's lifespan (broker start, topic creation) running, so
tests exercise exactly what production runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from free_ports import free_port

__all__ = ["free_port", "serve"]


@asynccontextmanager
async def serve(app: Any, port: int | None = None, startup_timeout: float = 60.0) -> AsyncIterator[str]:
    """Start ``app`` with uvicorn; yield its base URL; stop it (lifespan shutdown included)."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + startup_timeout
    while not server.started:
        if task.done():
            task.result()  # re-raise the startup error
            raise RuntimeError("server exited during startup")
        if asyncio.get_running_loop().time() > deadline:
            server.should_exit = True
            raise TimeoutError(f"ASGI app did not start within {startup_timeout}s")
        await asyncio.sleep(0.02)  # polling server.started, bounded by the deadline above
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
