"""Dead letters for the console: the newest records of every DLQ topic that belong to the tenant
(their ``ce_tenant`` header), with the reason the runtime's middleware recorded, and replay of one
record to the topic it came from (consumers deduplicate by ``ce_id``, so a second replay is harmless).

Read with a group-less consumer assigned by hand: looking does not move anyone's offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options
from kxflow_contracts.runtime.dlq_replay import REASON_HEADERS, original_topic
from kxflow_contracts.topics import DLQ_SUFFIX, Topics

NEWEST = 50  # records read from the end of each DLQ partition


@dataclass
class DeadLetter:
    topic: str
    partition: int
    offset: int
    original: str | None
    error: str
    ce_type: str
    ce_id: str


class DeadLetters:
    def __init__(self, bootstrap: KafkaTarget, topics: Topics) -> None:
        self._bootstrap = bootstrap
        self._dlqs = [s.name for s in topics.specs() if s.name.endswith(DLQ_SUFFIX)]

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(**kafka_options(self._bootstrap), group_id=None, enable_auto_commit=False)
        await consumer.start()
        return consumer

    @staticmethod
    def _headers(record: Any) -> dict[str, str]:
        return {k: v.decode(errors="replace") for k, v in record.headers or ()}

    async def summary(self, tenant: str) -> dict[str, list[DeadLetter]]:
        consumer = await self._consumer()
        out: dict[str, list[DeadLetter]] = {}
        try:
            for topic in self._dlqs:
                parts = consumer.partitions_for_topic(topic)
                if not parts:
                    await consumer._client.force_metadata_update()
                    parts = consumer.partitions_for_topic(topic) or set()
                tps = [TopicPartition(topic, p) for p in sorted(parts)]
                if not tps:
                    out[topic] = []
                    continue
                consumer.assign(tps)
                ends = await consumer.end_offsets(tps)
                starts = await consumer.beginning_offsets(tps)
                for tp in tps:
                    consumer.seek(tp, max(starts[tp], ends[tp] - NEWEST))
                letters: list[DeadLetter] = []
                remaining = {tp for tp in tps if ends[tp] > starts[tp]}
                while remaining:
                    batch = await consumer.getmany(*remaining, timeout_ms=2000, max_records=500)
                    if not batch:
                        break
                    for tp, records in batch.items():
                        for r in records:
                            h = self._headers(r)
                            if h.get("ce_tenant") == tenant:
                                letters.append(self._letter(r, h))
                            if r.offset + 1 >= ends[tp]:
                                remaining.discard(tp)
                out[topic] = sorted(letters, key=lambda d: (d.partition, d.offset), reverse=True)
        finally:
            await consumer.stop()
        return out

    @staticmethod
    def _letter(record: Any, h: dict[str, str]) -> DeadLetter:
        error = f"{h.get('x-error-class', '?')}: {h.get('x-error-message', '')}"
        return DeadLetter(
            record.topic,
            record.partition,
            record.offset,
            original_topic(record.topic, h),
            error[:500],
            h.get("ce_type", ""),
            h.get("ce_id", ""),
        )

    async def replay_one(self, tenant: str, topic: str, partition: int, offset: int) -> str:
        """Republish one of the tenant's dead letters to its original topic; that topic's name."""
        if topic not in self._dlqs:
            raise LookupError(f"not a dead-letter topic: {topic!r}")
        consumer = await self._consumer()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            batch = await consumer.getmany(tp, timeout_ms=3000, max_records=1)
            records = [r for r in batch.get(tp, []) if r.offset == offset]
        finally:
            await consumer.stop()
        if not records:
            raise LookupError(f"no dead letter at {topic}/{partition}/{offset}")
        record, h = records[0], self._headers(records[0])
        target = original_topic(topic, h)
        if h.get("ce_tenant") != tenant or target is None:
            raise LookupError(f"no dead letter at {topic}/{partition}/{offset}")
        producer = AIOKafkaProducer(**kafka_options(self._bootstrap), acks="all")
        await producer.start()
        try:
            kept = [(k, v) for k, v in record.headers or () if k not in REASON_HEADERS]
            await producer.send_and_wait(target, record.value, key=record.key, headers=kept)
        finally:
            await producer.stop()
        return target
