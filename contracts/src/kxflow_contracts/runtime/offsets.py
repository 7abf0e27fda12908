"""Which offsets of a partition may be committed while its records are worked on out of order.

Commands are read in offset order but finish in any order (one organisation's backlog must not
hold up another's). Kafka only stores one committed position per partition, meaning "everything
below is done", so the position to commit is the lowest offset whose work is not yet durable, or
one past the highest offset handed out when nothing is pending. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field


@dataclass
class PartitionOffsets:
    pending: set[int] = field(default_factory=set)
    _heap: list[int] = field(default_factory=list)
    next_offset: int | None = None
    committed: int | None = None

    def started(self, offset: int) -> None:
        if offset not in self.pending:
            self.pending.add(offset)
            heapq.heappush(self._heap, offset)
        if self.next_offset is None or offset + 1 > self.next_offset:
            self.next_offset = offset + 1

    def finished(self, offset: int) -> None:
        self.pending.discard(offset)

    def commit_point(self) -> int | None:
        """Offset to commit (Kafka's "next to read"), or None before anything was handed out."""
        while self._heap and self._heap[0] not in self.pending:
            heapq.heappop(self._heap)
        if self._heap:
            return self._heap[0]
        return self.next_offset


class OffsetTracker:
    """Per-partition :class:`PartitionOffsets` for every partition this consumer owns."""

    def __init__(self) -> None:
        self._parts: dict[Hashable, PartitionOffsets] = {}

    def started(self, tp: Hashable, offset: int) -> None:
        self._parts.setdefault(tp, PartitionOffsets()).started(offset)

    def finished(self, tp: Hashable, offset: int) -> None:
        part = self._parts.get(tp)
        if part is not None:  # a revoked partition's late finish is ignored
            part.finished(offset)

    def buffered(self, tp: Hashable) -> int:
        part = self._parts.get(tp)
        return len(part.pending) if part else 0

    def to_commit(self, tps: Iterable[Hashable] | None = None) -> dict[Hashable, int]:
        """Partitions whose commit point moved since the last :meth:`committed`."""
        out = {}
        for tp in self._parts if tps is None else tps:
            part = self._parts.get(tp)
            if part is None:
                continue
            point = part.commit_point()
            if point is not None and point != part.committed:
                out[tp] = point
        return out

    def committed(self, offsets: dict[Hashable, int]) -> None:
        for tp, offset in offsets.items():
            if tp in self._parts:
                self._parts[tp].committed = offset

    def drop(self, tps: Iterable[Hashable]) -> None:
        for tp in tps:
            self._parts.pop(tp, None)
