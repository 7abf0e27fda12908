"""How far the router's consumer group has applied the action results topic (for redispatch).

A step is re-sent after a redelivery only if its result never came. A result that is still waiting
in the results topic behind a backlog *did* come: re-sending then would emit a second command for a
step that is not lost. So before the scheduler re-sends, it takes the topic's end offsets and waits
until the group has committed past them on every partition: every result produced by then has been
applied, and a step still without one really has no result yet.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options

Offsets = dict[int, int]


class ResultsProgress(Protocol):
    async def end_offsets(self) -> Offsets: ...

    async def caught_up(self, snapshot: Offsets) -> bool: ...


class KafkaResultsProgress:
    """End offsets of the results topic and the commits of the router's group, from Kafka."""

    def __init__(self, bootstrap_servers: KafkaTarget, group_id: str, topic: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topic = topic
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(**kafka_options(self.bootstrap_servers))
        await self._admin.start()
        self._offsets = AIOKafkaConsumer(**kafka_options(self.bootstrap_servers), group_id=None)
        await self._offsets.start()

    async def stop(self) -> None:
        if self._offsets is not None:
            await self._offsets.stop()
        if self._admin is not None:
            await self._admin.close()

    async def _partitions(self) -> list[TopicPartition]:
        assert self._offsets is not None, "start() first"
        parts = self._offsets.partitions_for_topic(self.topic)
        if not parts:
            with contextlib.suppress(Exception):
                await self._offsets._client.force_metadata_update()  # topic created after start
            parts = self._offsets.partitions_for_topic(self.topic) or set()
        return [TopicPartition(self.topic, p) for p in sorted(parts)]

    async def end_offsets(self) -> Offsets:
        assert self._offsets is not None, "start() first"
        partitions = await self._partitions()
        if not partitions:
            return {}
        return {tp.partition: end for tp, end in (await self._offsets.end_offsets(partitions)).items()}

    async def caught_up(self, snapshot: Offsets) -> bool:
        """Has the group committed at least ``snapshot`` on every partition? (A partition with
        records but no commit yet counts from its first offset.)"""
        assert self._admin is not None and self._offsets is not None, "start() first"
        committed = {
            tp.partition: meta.offset
            for tp, meta in (await self._admin.list_consumer_group_offsets(self.group_id)).items()
            if tp.topic == self.topic and meta.offset >= 0
        }
        behind = [p for p, end in snapshot.items() if committed.get(p, -1) < end]
        if not behind:
            return True
        missing = [TopicPartition(self.topic, p) for p in behind if p not in committed]
        starts = await self._offsets.beginning_offsets(missing) if missing else {}
        return all(
            committed.get(p, starts.get(TopicPartition(self.topic, p), 0)) >= snapshot[p] for p in behind
        )
