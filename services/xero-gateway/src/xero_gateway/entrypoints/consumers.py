"""Kafka subscribers: Xero action commands (batched so every organisation in a batch progresses
in parallel under its own budget) and raw webhook batches (hydration)."""

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import EnvelopeError, decode
from kxflow_contracts.runtime.kafka import CONSUMER_DEFAULTS, TransientError
from kxflow_contracts.topics import Topics
from xero_gateway.adapters.publisher import Publisher
from xero_gateway.domain.webhooks import parse_batch
from xero_gateway.service_layer.executor import Busy, Executor
from xero_gateway.service_layer.hydrator import Hydrator

log = logging.getLogger("xero_gateway.consumers")


def _dlq_headers(record: Any, exc: BaseException) -> dict[str, str]:
    headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}
    headers.update(
        {
            "x-error-class": type(exc).__name__,
            "x-error-message": str(exc)[:2000],
            "x-original-topic": record.topic,
            "x-original-partition": str(record.partition),
            "x-original-offset": str(record.offset),
        }
    )
    return headers


def register(
    broker: KafkaBroker,
    topics: Topics,
    executor: Executor,
    hydrator: Hydrator,
    publisher: Publisher,
    on_result: Callable[[str], None],
    group: str = "kxflow-xero-gateway",
) -> None:
    consumer_opts = {k: v for k, v in CONSUMER_DEFAULTS.items() if k != "max_poll_interval_ms"}

    @broker.subscriber(
        topics.xero_commands,
        group_id=group,
        batch=True,
        max_records=1000,
        batch_timeout_ms=100,
        max_poll_interval_ms=3_600_000,
        **consumer_opts,
    )
    async def on_commands(_: list[Any], msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple | list) else (msg.raw_message,)

        running: dict[str, asyncio.Future[Any]] = {}

        async def one(record: Any) -> bool:
            try:
                event = decode(record.value, record.headers or ())
                cmd = ActionCommand.model_validate(event.data)
            except (EnvelopeError, ValidationError) as exc:
                await broker.publish(
                    record.value, Topics.dlq(record.topic), key=record.key, headers=_dlq_headers(record, exc)
                )
                return True
            if cmd.command_id not in running:  # the same command twice in one batch runs once
                running[cmd.command_id] = asyncio.ensure_future(executor.handle(cmd))
            try:
                result = await asyncio.shield(running[cmd.command_id])
            except Busy:
                return False
            await publisher.result(cmd, result)
            on_result(result.status.value)
            return True

        done = await asyncio.gather(*(one(r) for r in records))
        if not all(done):
            raise TransientError("some commands are being executed by another consumer")

    @broker.subscriber(topics.xero_webhooks_raw, group_id=group, **CONSUMER_DEFAULTS)
    async def on_raw_webhook(body: Any, msg: KafkaMessage) -> None:
        raw = msg.body
        try:
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"raw webhook is not JSON: {exc}") from exc
        await hydrator.handle(parse_batch(payload))
