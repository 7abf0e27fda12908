"""Consumer lag as a Prometheus gauge: end offset − committed offset per partition of a group.

Cheap and periodic (one offsets request to the group coordinator and one list-offsets request per
refresh, default every 15 s), from the outside of the consumer so it is right even while the
consumer is stuck. Partitions the group has not committed yet count from the log start.
Wire it with one line in a service's composition root::

    watch_consumer_lag(app, settings.kafka, group, topics, metrics.registry)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Gauge

from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options
from kxflow_contracts.runtime.periodic import Periodic, during_lifespan

log = logging.getLogger("kxflow.lag")


class ConsumerLag:
    def __init__(
        self,
        bootstrap_servers: KafkaTarget,
        group_id: str,
        topics: Iterable[str],
        registry: CollectorRegistry,
        interval: float = 15.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = list(topics)
        self.interval = interval
        self.gauge = Gauge(
            "kxflow_consumer_lag",
            "Records not yet processed by the consumer group (end offset − committed offset)",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._periodic = Periodic(f"consumer lag of {group_id}", self.measure, interval)

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(**kafka_options(self.bootstrap_servers))
        await self._admin.start()
        self._offsets = AIOKafkaConsumer(**kafka_options(self.bootstrap_servers), group_id=None)
        await self._offsets.start()
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        if self._offsets is not None:
            await self._offsets.stop()
        if self._admin is not None:
            await self._admin.close()

    async def measure(self) -> dict[TopicPartition, int]:
        """Lag per partition now; also sets the gauge."""
        assert self._admin is not None and self._offsets is not None, "start() first"
        committed = {
            tp: meta.offset
            for tp, meta in (await self._admin.list_consumer_group_offsets(self.group_id)).items()
            if meta.offset >= 0
        }
        partitions = set(committed)
        for topic in self.topics:
            for p in self._offsets.partitions_for_topic(topic) or await self._partitions(topic):
                partitions.add(TopicPartition(topic, p))
        if not partitions:
            return {}
        ends = await self._offsets.end_offsets(list(partitions))
        missing = [tp for tp in partitions if tp not in committed]
        starts = await self._offsets.beginning_offsets(missing) if missing else {}
        lag = {tp: max(ends[tp] - committed.get(tp, starts.get(tp, 0)), 0) for tp in partitions}
        for tp, value in lag.items():
            self.gauge.labels(self.group_id, tp.topic, str(tp.partition)).set(value)
        return lag

    async def _partitions(self, topic: str) -> set[int]:
        assert self._offsets is not None
        with contextlib.suppress(Exception):
            await self._offsets._client.force_metadata_update()  # topic created after start
        return self._offsets.partitions_for_topic(topic) or set()


def watch_consumer_lag(
    app: Any,
    bootstrap_servers: KafkaTarget,
    group_id: str,
    topics: Iterable[str],
    registry: CollectorRegistry,
    interval: float = 15.0,
) -> ConsumerLag:
    """Run a :class:`ConsumerLag` for the lifetime of a FastAPI/Starlette ``app`` (wraps its lifespan)."""
    lag = ConsumerLag(bootstrap_servers, group_id, topics, registry, interval)
    during_lifespan(app, lag.start, lag.stop)
    return lag
