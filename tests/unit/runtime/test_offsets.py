"""The commit point of out-of-order work: only the done prefix of a partition is ever committed."""

from __future__ import annotations

from kxflow_contracts.runtime.offsets import OffsetTracker, PartitionOffsets


def test_commit_point_is_the_lowest_pending_offset() -> None:
    part = PartitionOffsets()
    assert part.commit_point() is None
    for offset in (10, 11, 12):
        part.started(offset)
    assert part.commit_point() == 10
    part.finished(12)
    part.finished(11)
    assert part.commit_point() == 10  # 10 is not durable yet: nothing past it may be committed
    part.finished(10)
    assert part.commit_point() == 13


def test_tracker_reports_only_moved_partitions_and_forgets_revoked_ones() -> None:
    tracker = OffsetTracker()
    tracker.started("p0", 0)
    tracker.started("p0", 1)
    tracker.started("p1", 5)
    assert tracker.to_commit() == {"p0": 0, "p1": 5}
    tracker.committed({"p0": 0, "p1": 5})
    assert tracker.to_commit() == {}
    tracker.finished("p0", 1)
    assert tracker.to_commit() == {}
    tracker.finished("p0", 0)
    assert tracker.to_commit() == {"p0": 2}
    assert tracker.buffered("p1") == 1
    tracker.drop(["p1"])
    tracker.finished("p1", 5)  # a late finish of a revoked partition is ignored
    assert tracker.buffered("p1") == 0 and "p1" not in tracker.to_commit()
