"""The gateways' command consumer: reads a topic in offset order, executes per lane.

Records go into lanes (``runtime.lanes``), one per lane key (by default the record's Kafka key:
one connection, i.e. one Kartra App or one Xero organisation), so one key's backlog never delays
another's, even on the same partition; a lane with one worker keeps its key's order.
At-least-once is kept by committing, per partition, only up to the lowest offset whose work is
not yet durable (``runtime.offsets``); memory stays bounded by pausing a partition's fetches
while too many of its records are buffered.
On a rebalance the done prefix of the revoked partitions is committed and their queued records
are forgotten (the new owner reads them again; the action ledger makes that safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options
from kxflow_contracts.runtime.lanes import Item, KeyedDispatcher
from kxflow_contracts.runtime.offsets import OffsetTracker

log = logging.getLogger("kxflow.keyed_consumer")


def record_key(record: Any) -> str:
    """The default lane key: the record's Kafka key."""
    return record.key.decode("utf-8", "replace") if record.key else ""


class KeyedConsumer:
    def __init__(
        self,
        bootstrap_servers: KafkaTarget,
        topic: str,
        group_id: str,
        handle: Callable[[Any], Awaitable[bool]],
        *,
        per_key_workers: int = 5,
        max_buffered_per_partition: int = 5000,
        commit_interval: float = 0.2,
        retry_delay: float = 1.0,
        client_id: str = "kxflow",
        lane_key: Callable[[Any], str] = record_key,
    ) -> None:
        self.topic = topic
        # Built in start(): aiokafka binds a consumer to the running loop, and create_app runs
        # before uvicorn starts one (``python -m`` failed at start otherwise).
        self._consumer_options: dict[str, Any] = {
            **kafka_options(bootstrap_servers),
            "group_id": group_id,
            "client_id": client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": 1000,
        }
        self._consumer: AIOKafkaConsumer = None  # type: ignore[assignment]
        self.tracker = OffsetTracker()
        self.dispatcher = KeyedDispatcher(handle, self.tracker.finished, per_key_workers, retry_delay)
        self._max_buffered = max_buffered_per_partition
        self._commit_interval = commit_interval
        self._lane_key = lane_key
        self._paused: set[TopicPartition] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(**self._consumer_options)
        self._consumer.subscribe([self.topic], listener=_Rebalance(self))
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.dispatcher.close()
        await self.commit()
        await self._consumer.stop()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=100, max_records=1000)
            except KafkaError:
                log.exception("fetching commands failed")
                await asyncio.sleep(1)
                continue
            for tp, records in batches.items():
                for record in records:
                    self.tracker.started(tp, record.offset)
                    self.dispatcher.submit(self._lane_key(record), Item(tp, record.offset, record))
            self._flow_control()
            if loop.time() - last_commit >= self._commit_interval:
                await self.commit()
                last_commit = loop.time()

    def _flow_control(self) -> None:
        """Pause a partition whose buffer is full; resume it once half of that drained."""
        for tp in self._consumer.assignment():
            buffered = self.tracker.buffered(tp)
            if tp not in self._paused and buffered >= self._max_buffered:
                self._consumer.pause(tp)
                self._paused.add(tp)
            elif tp in self._paused and buffered <= self._max_buffered // 2:
                self._consumer.resume(tp)
                self._paused.discard(tp)

    async def commit(self, tps: Any = None) -> None:
        offsets = self.tracker.to_commit(tps)
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)  # type: ignore[arg-type]
        except (CommitFailedError, KafkaError) as exc:
            log.warning("commit failed (a rebalance?): %s", exc)
            return
        self.tracker.committed(offsets)

    async def revoked(self, tps: set[TopicPartition]) -> None:
        await self.commit(tps)
        self.dispatcher.drop(tps)
        self.tracker.drop(tps)
        self._paused -= tps


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: KeyedConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None
