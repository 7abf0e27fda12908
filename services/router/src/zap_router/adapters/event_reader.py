"""Read past trigger events back from Kafka by timestamp (dry-run), without a consumer group."""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from kxflow_contracts.envelope import CloudEvent, EnvelopeError, decode
from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options


class KafkaEventReader:
    def __init__(self, bootstrap_servers: KafkaTarget) -> None:
        self._bootstrap = bootstrap_servers

    async def _partitions(self, topic: str) -> list[int]:
        admin = AIOKafkaAdminClient(**kafka_options(self._bootstrap))
        await admin.start()
        try:
            described = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return sorted(p["partition"] for t in described if t["error_code"] == 0 for p in t["partitions"])

    async def read(
        self, topic: str, since: datetime, until: datetime, limit: int, want: object = None
    ) -> list[CloudEvent]:
        """Events of ``topic`` with timestamps in [since, until), oldest first, at most ``limit``.

        ``want`` is a predicate on the event (tenant/type/connection) applied while reading, so the
        limit counts only relevant events.
        """
        consumer = AIOKafkaConsumer(**kafka_options(self._bootstrap), enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in await self._partitions(topic)]
            if not tps:
                return []
            consumer.assign(tps)
            starts = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
            ends = await consumer.end_offsets(tps)
            active = {}
            for tp in tps:
                found = starts.get(tp)
                if found is None or found.offset >= ends[tp]:
                    continue
                consumer.seek(tp, found.offset)
                active[tp] = ends[tp]
            until_ms = int(until.timestamp() * 1000)
            out: list[CloudEvent] = []
            while active and len(out) < limit:
                batch = await consumer.getmany(*active, timeout_ms=1000, max_records=500)
                for tp, records in batch.items():
                    for record in records:
                        if record.offset + 1 >= active.get(tp, 0) or record.timestamp >= until_ms:
                            active.pop(tp, None)
                        if record.timestamp >= until_ms:
                            break
                        try:
                            event = decode(record.value, record.headers)
                        except EnvelopeError:
                            continue
                        if want is None or want(event):  # type: ignore[operator]
                            out.append(event)
                if not batch:
                    for tp in list(active):
                        if await consumer.position(tp) >= active[tp]:
                            active.pop(tp)
            out.sort(key=lambda e: e.time)
            return out[:limit]
        finally:
            await consumer.stop()
