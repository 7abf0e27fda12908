"""The raw webhook batches' consumer (hydration, a FastStream subscriber) and the zap changelog's
reader (which report types New Report zaps choose). Commands are consumed by the shared
``kxflow_contracts.runtime.commands.command_consumer`` (wired in ``main``)."""

from __future__ import annotations

import json
import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from kxflow_contracts.envelope import EnvelopeError
from kxflow_contracts.runtime.kafka import CONSUMER_DEFAULTS, subscribe_changelog
from kxflow_contracts.topics import Topics
from kxflow_contracts.zaps import ZapRecord
from xero_gateway.domain.report_demand import ReportDemand
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


log = logging.getLogger("xero_gateway.zaps")


def register_zap_changelog(broker: KafkaBroker, topics: Topics, demand: ReportDemand) -> None:
    """Every replica reads the whole zap changelog, so whichever holds a connection's report poll
    lease knows its zaps."""

    def apply(key: str, value: bytes | None) -> None:
        try:
            demand.apply(key, ZapRecord.model_validate_json(value) if value else None)
        except ValueError:
            log.warning("unreadable zap changelog record %s", key)

    subscribe_changelog(broker, topics.zaps, "xero-gateway-zap-changelog", apply)
