"""Fixtures for router integration tests: a router app on a real port, a fake gateway."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_server import serve

sys.path.insert(0, str(Path(__file__).parent))  # router_harness: helpers shared by these tests

from router_harness import FakeGateway, router_settings

from zap_router.adapters.connections import StaticConnectionDirectory
from zap_router.domain.clock import ManualClock
from zap_router.main import create_app
from zap_router.testing import demo_catalog

CONNECTIONS = {"kartra": {"kartra-main"}, "xero": {"xero-acme-au", "xero-acme-nz"}}


class RouterUnderTest:
    def __init__(self, app: Any, url: str, clock: ManualClock, gateway: FakeGateway) -> None:
        self.app = app
        self.url = url
        self.clock = clock
        self.gateway = gateway
        self.services = app.state.services
        self.http = httpx.AsyncClient(base_url=url, timeout=30)


@pytest.fixture
async def router(kafka_bootstrap, mongodb_url, topic_prefix, mongo_db_name) -> AsyncIterator[RouterUnderTest]:
    settings = router_settings(kafka_bootstrap, mongodb_url, topic_prefix, mongo_db_name)
    clock = ManualClock()
    directory = StaticConnectionDirectory(
        {"acme": CONNECTIONS, "globex": {"kartra": {"kartra-globex"}, "xero": {"xero-globex"}}}
    )
    app = create_app(settings, catalog=demo_catalog(), clock=clock, directory=directory, run_scheduler=False)
    async with serve(app) as url, FakeGateway(kafka_bootstrap, settings.topics) as gateway:
        under_test = RouterUnderTest(app, url, clock, gateway)
        try:
            yield under_test
        finally:
            await under_test.http.aclose()
