"""One gateway + Kartra sandbox per module, on the real Kafka and FerretDB, with a topic collector."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_server import serve
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient

from kartra_gateway.main import create_app
from kartra_gateway.settings import GatewaySettings
from kxflow_contracts.envelope import CloudEvent, decode
from kxflow_sandboxes.kartra import create_app as create_sandbox

TOKEN = "tok-kartra-it-0123456789"
TENANT = "acme"


@dataclass
class Record:
    topic: str
    key: str
    event: CloudEvent


@dataclass
class Stack:
    gateway: str
    sandbox: str
    http: httpx.AsyncClient
    settings: GatewaySettings
    app: Any
    sandbox_app: Any
    connection: dict[str, Any]
    kartra_app: dict[str, str]
    records: list[Record] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {TOKEN}"}

    def on(self, topic: str) -> list[Record]:
        return [r for r in self.records if r.topic == topic]

    @property
    def webhook_url(self) -> str:
        return self.connection["webhook_url"]

    @property
    def ipn_url(self) -> str:
        return self.connection["ipn_url"]


@pytest.fixture(scope="module")
async def stack(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[Stack]:
    uid = "k" + uuid.uuid4().hex[:7]
    sandbox_app = create_sandbox()
    mongo = AsyncMongoClient(mongodb_url, tz_aware=True)
    async with serve(sandbox_app) as sandbox_url:
        settings = GatewaySettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_prefix=f"{uid}.kxflow.",
            topic_partitions=3,
            mongodb_url=mongodb_url,
            mongodb_database=f"kxtest_{uid}",
            api_tokens={TOKEN: TENANT},
            secret_keys=Fernet.generate_key().decode(),
            kartra_api_url=f"{sandbox_url}/api",
            kartra_backoff_seconds=0.2,
        )
        app = create_app(settings, mongo_client=mongo)
        async with serve(app) as gateway_url, httpx.AsyncClient(timeout=30) as http:
            settings.public_base_url = gateway_url
            topics = settings.topics
            consumer = AIOKafkaConsumer(
                topics.kartra_events,
                topics.kartra_webhooks_raw,
                topics.action_results,
                bootstrap_servers=kafka_bootstrap,
                auto_offset_reset="earliest",
                group_id=f"{uid}-collector",
            )
            await consumer.start()
            kartra_app = (await http.post(f"{sandbox_url}/_sandbox/apps", json={})).json()
            resp = await http.post(
                f"{gateway_url}/v1/connections",
                json={"name": "kartra-main", **kartra_app},
                headers={"authorization": f"Bearer {TOKEN}"},
            )
            assert resp.status_code == 201, resp.text
            conn = resp.json()
            # The gateway's public URL is only known now; rebuild both URLs from it.
            conn["webhook_url"] = f"{gateway_url}/v1/webhooks/kartra/{conn['id']}/{conn['webhook_secret']}"
            conn["ipn_url"] = f"{gateway_url}/v1/ipn/kartra/{conn['id']}"
            await http.post(
                f"{sandbox_url}/_sandbox/webhooks",
                json={
                    "app_id": kartra_app["app_id"],
                    "url": conn["webhook_url"],
                    "ipn_url": conn["ipn_url"],
                    "ipn_secret": conn["ipn_secret_key"],
                },
            )
            stack = Stack(gateway_url, sandbox_url, http, settings, app, sandbox_app, conn, kartra_app)

            async def collect() -> None:
                async for msg in consumer:
                    stack.records.append(
                        Record(msg.topic, (msg.key or b"").decode(), decode(msg.value, msg.headers))
                    )

            task = asyncio.create_task(collect())
            try:
                yield stack
            finally:
                task.cancel()
                await consumer.stop()
    await mongo.drop_database(settings.mongodb_database)
    await mongo.close()


def dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def dumps(data: Any) -> str:
    return json.dumps(data)
