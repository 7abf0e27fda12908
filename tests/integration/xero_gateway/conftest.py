"""Fixtures: a Xero sandbox and xero-gateway instances on real Kafka and FerretDB.

Every sandbox these tests start is recorded, and at the end of the session the OpenAPI rejections
of all of them must be zero: the gateway never sends Xero a request the official spec rejects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from asgi_server import serve
from cryptography.fernet import Fernet
from integration.router.router_harness import ACME, router_settings
from integration.xero_gateway.xero_gw_helpers import TENANT, TOKEN

from kxflow_sandboxes.xero import SandboxConfig
from kxflow_sandboxes.xero import create_app as create_sandbox
from xero_gateway.main import create_app
from xero_gateway.settings import XeroGatewaySettings
from zap_router.adapters.connections import StaticConnectionDirectory
from zap_router.main import create_app as create_router

SANDBOXES: list[Any] = []


@pytest.fixture(scope="session", autouse=True)
def _no_openapi_rejections() -> Any:
    yield
    rejected = [(s.stats.openapi_rejections, s.stats.rejection_reasons) for s in SANDBOXES]
    assert all(n == 0 for n, _ in rejected), f"the sandbox rejected gateway requests: {rejected}"


class SandboxHandle:
    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.sandbox = app.state.sandbox
        self.url = url

    def org(self, name: str) -> Any:
        return self.sandbox.org_named(name)


@pytest.fixture
async def xero_sandbox() -> AsyncIterator[SandboxHandle]:
    app = create_sandbox(SandboxConfig())
    SANDBOXES.append(app.state.sandbox)
    async with serve(app) as url:
        yield SandboxHandle(app, url)
        await app.state.sandbox.drain()


@pytest.fixture
def gateway_settings(
    kafka_bootstrap: str, mongodb_url: str, topic_prefix: str, mongo_db_name: str, xero_sandbox: SandboxHandle
) -> Callable[..., XeroGatewaySettings]:
    key = Fernet.generate_key().decode()

    def make(**changes: Any) -> XeroGatewaySettings:
        cfg = xero_sandbox.sandbox.config
        values: dict[str, Any] = dict(
            kafka_bootstrap_servers=kafka_bootstrap,
            mongodb_url=mongodb_url,
            topic_prefix=topic_prefix,
            topic_partitions=3,
            mongodb_database=mongo_db_name,
            api_tokens={TOKEN: TENANT},
            secret_keys=key,
            api_base_url=xero_sandbox.url,
            identity_base_url=xero_sandbox.url,
            login_base_url=xero_sandbox.url,
            client_id=cfg.client_id,
            client_secret=cfg.client_secret,
            webhook_key=cfg.webhook_key,
            poll_enabled=False,
            consumer_group=f"{topic_prefix}xero-gateway",
        )
        values.update(changes)
        return XeroGatewaySettings(**values)

    return make


@pytest.fixture
async def start_gateway(
    gateway_settings: Callable[..., XeroGatewaySettings],
) -> AsyncIterator[Callable[..., Any]]:
    async with AsyncExitStack() as stack:

        async def start(app_overrides: dict[str, Any] | None = None, **changes: Any) -> tuple[Any, str]:
            """``changes``: settings; ``app_overrides``: ``create_app``'s (e.g. a shared ``clock``)."""
            from asgi_server import free_port

            port = free_port()
            settings = gateway_settings(public_url=f"http://127.0.0.1:{port}", **changes)
            app = create_app(settings, **(app_overrides or {}))
            url = await stack.enter_async_context(serve(app, port=port))
            return app, url

        yield start


@pytest.fixture
async def router_for(
    kafka_bootstrap: str, mongodb_url: str, topic_prefix: str, mongo_db_name: str
) -> AsyncIterator[Callable[[str], Any]]:
    """``start(connection_id)`` → an HTTP client (as acme) of a router with the real catalog on the
    gateway's topics, so trigger events go sandbox → gateway → router."""
    async with AsyncExitStack() as stack:

        async def start(connection_id: str) -> httpx.AsyncClient:
            settings = router_settings(kafka_bootstrap, mongodb_url, topic_prefix, f"{mongo_db_name}_router")
            directory = StaticConnectionDirectory({"acme": {"xero": {connection_id}}})
            url = await stack.enter_async_context(serve(create_router(settings, directory=directory)))
            return await stack.enter_async_context(httpx.AsyncClient(base_url=url, headers=ACME, timeout=30))

        yield start
