"""Helpers for router tests on real Kafka and FerretDB: settings, a fake gateway, event publishing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import CloudEvent, decode, encode
from kxflow_contracts.results import RESULT_TYPE, ActionResult
from kxflow_contracts.topics import Topics
from zap_router.settings import RouterSettings

TOKENS = {"tok-acme-0123456789abcdef": "acme", "tok-globex-0123456789abcdef": "globex"}
ACME = {"Authorization": "Bearer tok-acme-0123456789abcdef"}
GLOBEX = {"Authorization": "Bearer tok-globex-0123456789abcdef"}


def router_settings(kafka: str, mongo: str, prefix: str, db: str, **overrides: Any) -> RouterSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "mongodb_url": mongo,
        "mongodb_database": db,
        "topic_prefix": prefix,
        "topic_partitions": 3,
        "group_id": f"{prefix}router",
        "notify_group_id": f"{prefix}notifier",
        "api_tokens": TOKENS,
        "scheduler_interval_s": 0.2,
        "reconcile_interval_s": 5.0,
        "batch_timeout_ms": 20,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "log_json": False,
    }
    values.update(overrides)
    return RouterSettings(**values)


Responder = Callable[[ActionCommand], ActionResult | None]


def ok(output: dict[str, Any]) -> Callable[[ActionCommand], ActionResult]:
    def respond(cmd: ActionCommand) -> ActionResult:
        return ActionResult(
            command_id=cmd.command_id,
            run_id=cmd.run_id,
            step_id=cmd.step_id,
            status="succeeded",
            output=output,
        )

    return respond


class FakeGateway:
    """Consumes both command topics and answers on the results topic like a gateway would.

    ``responders`` maps an action key to a function of the command; every command received is kept
    (with its ``ce_id``) so tests can prove what was and was not sent.
    """

    def __init__(self, bootstrap: str, topics: Topics, responders: dict[str, Responder] | None = None):
        self.bootstrap = bootstrap
        self.topics = topics
        self.responders = responders or {}
        self.received: list[tuple[str, ActionCommand]] = []
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> FakeGateway:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            self.topics.kartra_commands,
            self.topics.xero_commands,
            bootstrap_servers=self.bootstrap,
            group_id=f"{self.topics.prefix}fake-gateway",
            auto_offset_reset="earliest",
            enable_auto_commit=True,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()
        if self._producer:
            await self._producer.stop()

    def commands(self, action: str | None = None, step_id: str | None = None) -> list[ActionCommand]:
        return [
            c
            for _, c in self.received
            if (action is None or c.action == action) and (step_id is None or c.step_id == step_id)
        ]

    async def _run(self) -> None:
        assert self._consumer is not None and self._producer is not None
        async for record in self._consumer:
            event = decode(record.value, record.headers)
            cmd = ActionCommand.model_validate(event.data)
            self.received.append((event.id, cmd))
            responder = self.responders.get(cmd.action)
            result = responder(cmd) if responder else None
            if result is not None:
                await self.publish_result(result, cmd.attempt)

    async def publish_result(self, result: ActionResult, attempt: int) -> None:
        assert self._producer is not None
        event = CloudEvent(
            id=f"{result.command_id}:{attempt}",
            source="/fake-gateway",
            type=RESULT_TYPE,
            subject=result.command_id,
            tenant="-",
            data=result,
        )
        value, headers = encode(event)
        await self._producer.send_and_wait(
            self.topics.action_results,
            value,
            key=result.run_id.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )


async def publish_events(
    bootstrap: str,
    topic: str,
    events: list[tuple[str, CloudEvent]],
    raw: list[tuple[bytes, list]] | None = None,
) -> None:
    """Publish (key, event) pairs in binary mode, plus optional raw (value, headers) records."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for key, event in events:
            value, headers = encode(event)
            futures.append(
                await producer.send(
                    topic, value, key=key.encode(), headers=[(k, v.encode()) for k, v in headers.items()]
                )
            )
        for value, headers in raw or []:
            futures.append(await producer.send(topic, value, key=b"raw", headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def trigger_event(
    event_id: str, tenant: str, data: dict[str, Any], ce_type: str = "kartra.product.purchased.v1"
) -> CloudEvent:
    return CloudEvent(
        id=event_id,
        source=f"/kartra-gateway/{data.get('connection_id')}",
        type=ce_type,
        tenant=tenant,
        time=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        data=data,
    )


async def read_all(bootstrap: str, topic: str, expect: int, timeout: float = 20.0) -> list[Any]:
    """Read ``topic`` from the beginning until ``expect`` records (or the deadline) and return them."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    out: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(out) < expect and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


def record_json(record: Any) -> Any:
    return json.loads(record.value) if record.value else None
