"""FastStream subscribers: trigger events, action results and the zap changelog.

Events and results are consumed in batches (one commit per batch, not per record), which is what
lets one replica keep up with thousands of events a second. A record that cannot be decoded, or
whose run cannot even be recorded as failed, is dead-lettered on its own and the rest of its batch
is processed; only an unreachable store or broker rewinds the whole batch (``NACK_ON_ERROR``), which
is safe because runs and results are idempotent.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from kxflow_contracts.envelope import CloudEvent, EnvelopeError, decode
from kxflow_contracts.results import PROGRESS_TYPE, RESULT_TYPE, ActionResult, CommandProgress
from kxflow_contracts.runtime.kafka import PoisonMessage, dead_letter_record, subscribe_changelog
from zap_router.adapters.metrics import RouterMetrics
from zap_router.adapters.step_test_store import StepTestStore
from zap_router.engine.runner import RunEngine
from zap_router.engine.step_test import is_step_test
from zap_router.engine.zaps import ZapService
from zap_router.settings import RouterSettings

log = logging.getLogger("kxflow.router.consumers")


def _header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode(errors="replace") if isinstance(value, bytes | bytearray) else str(value)
    return None


async def _raw(msg: Any) -> Any:
    """Decoder that leaves record values alone: handlers decode CloudEvents themselves."""
    return None


def batch_group(settings: RouterSettings, group_id: str) -> dict[str, Any]:
    """Subscriber options every router consumer group shares: batches of raw records from the
    earliest offset, committed only when the handler returns (a failing batch is redelivered)."""
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "batch": True,
        "max_records": settings.event_batch_max,
        "batch_timeout_ms": settings.batch_timeout_ms,
        "decoder": _raw,
    }


def register_consumers(
    broker: KafkaBroker,
    settings: RouterSettings,
    engine: RunEngine,
    zaps: ZapService,
    metrics: RouterMetrics,
    step_tests: StepTestStore | None = None,
) -> None:
    """``step_tests``: where results of executed step tests go (their run ids say so)."""
    topics = settings.topics
    group = batch_group(settings, settings.group_id)

    async def dead_letter(record: Any, exc: BaseException) -> None:
        await dead_letter_record(broker, record, exc)
        metrics.dead_letter(record.topic, exc)

    @broker.subscriber(topics.kartra_events, topics.xero_events, **group, title="router-trigger-events")
    async def on_trigger_events(msg: KafkaMessage) -> None:
        events: list[CloudEvent] = []
        records: dict[str, Any] = {}
        for record in msg.raw_message:
            tenant, ce_type = _header(record, "ce_tenant"), _header(record, "ce_type")
            if not tenant or not ce_type:
                await dead_letter(record, EnvelopeError("missing ce_tenant or ce_type header"))
                continue
            if not engine.wants(tenant, ce_type):
                # No zap of this tenant listens to this trigger: skip without decoding, but count
                # it, so the events counter shows everything consumed and not only what matched.
                metrics.events_in.labels(ce_type, "unmatched").inc()
                continue
            try:
                event = decode(record.value, record.headers)
            except EnvelopeError as exc:
                await dead_letter(record, exc)
                continue
            events.append(event)
            records[event.id] = record
        poison = await engine.on_events(events)
        for event_id, reason in poison.items():
            await dead_letter(records[event_id], PoisonMessage(reason))

    @broker.subscriber(topics.action_results, **group, title="router-action-results")
    async def on_action_results(msg: KafkaMessage) -> None:
        results: list[tuple[ActionResult, int]] = []
        sources: list[Any] = []
        progress: list[CommandProgress] = []
        for record in msg.raw_message:
            try:
                event = decode(record.value, record.headers)
                if event.type == PROGRESS_TYPE:
                    progress.append(CommandProgress.model_validate(event.data))
                    continue
                if event.type != RESULT_TYPE:
                    raise PoisonMessage(f"unexpected ce_type {event.type!r} on the results topic")
                result = ActionResult.model_validate(event.data)
                _, _, attempt_text = event.id.rpartition(":")
                attempt = int(attempt_text) if attempt_text.isdigit() else 1
            except (EnvelopeError, ValidationError, PoisonMessage) as exc:
                await dead_letter(record, exc)
                continue
            if step_tests is not None and is_step_test(result.run_id):
                await step_tests.record(result)  # a tested step's result: no run to advance
                continue
            results.append((result, attempt))
            sources.append(record)
        if progress:
            await engine.on_progress(progress)
        poison = await engine.on_results(results)
        for position, reason in poison.items():
            await dead_letter(sources[position], PoisonMessage(reason))

    def on_zap_change(key: str, value: bytes | None) -> None:
        _, _, zap_id = key.partition(":")
        if value is None:
            zaps.apply(None, zap_id)
            return
        try:
            zaps.apply(json.loads(value))
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable zap changelog record %s", key)
        metrics.zaps_loaded.set(len(zaps.index))

    subscribe_changelog(broker, topics.zaps, "router-zap-changelog", on_zap_change)
