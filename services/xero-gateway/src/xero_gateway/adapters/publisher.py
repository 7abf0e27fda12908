"""Publishing to Kafka: trigger events and raw webhook batches (acks=all; action results go through
``runtime.kafka.KafkaResults``)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.runtime.kafka import publish_event
from kxflow_contracts.topics import Topics


class Publisher:
    def __init__(self, broker: KafkaBroker, topics: Topics) -> None:
        self.broker = broker
        self.topics = topics

    async def event(self, event: CloudEvent, key: str) -> None:
        await publish_event(self.broker, self.topics.xero_events, event, key)

    async def raw_webhook(self, body: bytes, key: str, headers: dict[str, str]) -> Any:
        return await self.broker.publish(
            body,
            self.topics.xero_webhooks_raw,
            key=key.encode(),
            headers={"content-type": "application/json", **headers},
        )
