"""Helpers shared by the gateway's integration tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from waiting import wait_for

from kxflow_contracts.commands import COMMAND_TYPE, ActionCommand
from kxflow_contracts.envelope import CloudEvent, decode
from kxflow_contracts.results import PROGRESS_TYPE
from kxflow_contracts.runtime.kafka import publish_event
from kxflow_contracts.topics import Topics

TOKEN = "test-token-xero-0123456789"
TENANT = "acme"


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


async def connect_all(gateway_url: str) -> list[dict[str, Any]]:
    """The real OAuth redirect flow: gateway → sandbox authorize → gateway callback."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:
        res = await client.get(f"{gateway_url}/v1/xero/connect", headers=auth())
        res.raise_for_status()
        return res.json()["connections"]


class Results:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=f"t-{uuid.uuid4().hex[:6]}",
        )
        self.items: list[CloudEvent] = []  # results
        self.progress: list[CloudEvent] = []  # a command's progress (holding) before its result
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> Results:
        await self.consumer.start()

        async def pump() -> None:
            async for rec in self.consumer:
                event = decode(rec.value, rec.headers)
                (self.progress if event.type == PROGRESS_TYPE else self.items).append(event)

        self._task = asyncio.create_task(pump())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        await self.consumer.stop()

    def by_subject(self, subject: str) -> list[CloudEvent]:
        return [e for e in self.items if e.subject == subject]


async def send(
    broker: KafkaBroker,
    topics: Topics,
    action: str,
    inp: dict[str, Any],
    step: str,
    conn: str = "xero-acme-au",
) -> ActionCommand:
    cmd = ActionCommand(
        command_id=uuid.uuid4().hex,
        tenant=TENANT,
        connection_id=conn,
        action=action,
        input=inp,
        run_id="run-1",
        zap_id="zap-1",
        zap_version=1,
        step_id=step,
    )
    event = CloudEvent(
        id=f"{cmd.command_id}:1",
        source="/router",
        type=COMMAND_TYPE,
        subject=cmd.command_id,
        tenant=TENANT,
        data=cmd,
    )
    await publish_event(broker, topics.xero_commands, event, cmd.key())
    return cmd


async def run(
    broker: KafkaBroker, topics: Topics, results: Results, action: str, inp: dict[str, Any]
) -> dict:
    cmd = await send(broker, topics, action, inp, action)
    found = await wait_for(
        lambda: results.by_subject(cmd.command_id), timeout=30, message=f"result of {action}"
    )
    return found[0].data


class Wire:
    """One test's side of the gateway's topics: commands in, results and trigger events out."""

    def __init__(self, broker: KafkaBroker, topics: Topics, events: Results, results: Results) -> None:
        self.broker = broker
        self.topics = topics
        self.events = events
        self.results = results

    async def run(self, action: str, inp: dict[str, Any]) -> dict:
        return await run(self.broker, self.topics, self.results, action, inp)


@asynccontextmanager
async def wired(bootstrap: str, prefix: str) -> AsyncIterator[Wire]:
    topics = Topics(prefix)
    broker = KafkaBroker(bootstrap)
    await broker.start()
    try:
        async with (
            Results(bootstrap, topics.xero_events) as events,
            Results(bootstrap, topics.action_results) as results,
        ):
            yield Wire(broker, topics, events, results)
    finally:
        await broker.stop()


def xero_zap(
    name: str, connection: str, event: str, params: dict[str, Any], contact_input: dict[str, Any]
) -> dict[str, Any]:
    """A zap on a Xero trigger whose one step looks a contact up (``contact_input``)."""
    return {
        "name": name,
        "trigger": {"app": "xero", "event": event, "connection": connection, "params": params},
        "steps": [
            {"id": "contact", "action": "xero.contact.find", "connection": connection, "input": contact_input}
        ],
    }
