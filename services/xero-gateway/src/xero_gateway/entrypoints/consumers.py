"""Kafka handlers: Xero action commands (one record at a time, run by the per-organisation
``CommandConsumer``) and raw webhook batches (hydration, a FastStream subscriber)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import EnvelopeError, decode
from kxflow_contracts.runtime.kafka import CONSUMER_DEFAULTS, dead_letter_record
from kxflow_contracts.topics import Topics
from xero_gateway.adapters.publisher import Publisher
from xero_gateway.domain.webhooks import parse_batch
from xero_gateway.service_layer.executor import Busy, Executor
from xero_gateway.service_layer.hydrator import Hydrator


def command_handler(
    broker: KafkaBroker,
    executor: Executor,
    publisher: Publisher,
    on_result: Callable[[str], None],
    on_dead_letter: Callable[[str, BaseException], None] | None = None,
) -> Callable[[Any], Awaitable[bool]]:
    """``handle(record) -> done``: False means "another consumer is executing it, retry later"."""

    async def handle(record: Any) -> bool:
        try:
            event = decode(record.value, record.headers or ())
            cmd = ActionCommand.model_validate(event.data)
        except (EnvelopeError, ValidationError) as exc:
            await dead_letter_record(broker, record, exc)
            if on_dead_letter is not None:
                on_dead_letter(record.topic, exc)
            return True
        try:
            result = await executor.handle(cmd)
        except Busy:
            return False
        await publisher.result(cmd, result)
        on_result(result.status.value)
        return True

    return handle


def register_webhooks(broker: KafkaBroker, topics: Topics, hydrator: Hydrator, group: str) -> None:
    @broker.subscriber(topics.xero_webhooks_raw, group_id=group, **CONSUMER_DEFAULTS)
    async def on_raw_webhook(body: Any, msg: KafkaMessage) -> None:
        try:
            payload = json.loads(msg.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"raw webhook is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise EnvelopeError("raw webhook is not a JSON object")
        await hydrator.handle(parse_batch(payload))
