"""Read past trigger events back from Kafka by timestamp (dry-run, test a step, catch-up), without
a consumer group."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from kxflow_contracts.envelope import CloudEvent, EnvelopeError, decode
from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options


@dataclass
class ScanPage:
    """One page of a scan: the wanted events in it, and how far the scan is (in records)."""

    events: list[CloudEvent] = field(default_factory=list)
    position: int = 0  # records of the window read so far (every tenant's, every type)
    total: int = 0  # records in the window: the denominator of a progress bar


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

    async def scan(
        self,
        topic: str,
        since: datetime,
        until: datetime,
        want: Callable[[CloudEvent], bool] | None = None,
        page_records: int = 500,
    ) -> AsyncIterator[ScanPage]:
        """Every record of ``topic`` with a timestamp in [since, until), a page at a time (each
        partition in offset order); the page holds the decodable events ``want`` accepts."""
        consumer = AIOKafkaConsumer(**kafka_options(self._bootstrap), enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in await self._partitions(topic)]
            if not tps:
                yield ScanPage()
                return
            consumer.assign(tps)
            starts = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
            stops = await consumer.offsets_for_times({tp: int(until.timestamp() * 1000) for tp in tps})
            ends = await consumer.end_offsets(tps)
            active: dict[TopicPartition, int] = {}
            first: dict[TopicPartition, int] = {}
            for tp in tps:
                found = starts.get(tp)
                stop = stops.get(tp)
                end = min(ends[tp], stop.offset) if stop is not None else ends[tp]
                if found is None or found.offset >= end:
                    continue
                consumer.seek(tp, found.offset)
                active[tp] = end
                first[tp] = found.offset
            total = sum(active[tp] - first[tp] for tp in active)
            done: dict[TopicPartition, int] = dict.fromkeys(active, 0)
            until_ms = int(until.timestamp() * 1000)
            while active:
                batch = await consumer.getmany(*active, timeout_ms=1000, max_records=page_records)
                page = ScanPage(total=total)
                for tp, records in batch.items():
                    for record in records:
                        if tp not in active or record.timestamp >= until_ms:
                            active.pop(tp, None)
                            break
                        done[tp] = record.offset + 1 - first[tp]
                        if record.offset + 1 >= active[tp]:
                            active.pop(tp)
                        try:
                            event = decode(record.value, record.headers)
                        except EnvelopeError:
                            continue
                        if want is None or want(event):
                            page.events.append(event)
                if not batch:
                    for tp in list(active):
                        if await consumer.position(tp) >= active[tp]:
                            active.pop(tp)
                page.position = total if not active else min(total, sum(done.values()))
                yield page
        finally:
            await consumer.stop()

    async def read(
        self, topic: str, since: datetime, until: datetime, limit: int, want: object = None
    ) -> list[CloudEvent]:
        """Events of ``topic`` with timestamps in [since, until), oldest first, at most ``limit``.

        ``want`` is a predicate on the event (tenant/type/connection) applied while reading, so the
        limit counts only relevant events.
        """
        out: list[CloudEvent] = []
        pages = self.scan(topic, since, until, want)  # type: ignore[arg-type]
        try:
            async for page in pages:
                out += page.events
                if len(out) >= limit:
                    break
        finally:
            await pages.aclose()
        out.sort(key=lambda e: e.time)
        return out[:limit]
