"""The raw webhook batches' consumer (hydration, a FastStream subscriber). Commands are consumed by
the shared ``kxflow_contracts.runtime.commands.command_consumer`` (wired in ``main``)."""

from __future__ import annotations

import json
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from kxflow_contracts.envelope import EnvelopeError
from kxflow_contracts.runtime.kafka import CONSUMER_DEFAULTS
from kxflow_contracts.topics import Topics
from xero_gateway.domain.webhooks import parse_batch
from xero_gateway.service_layer.hydrator import Hydrator


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
