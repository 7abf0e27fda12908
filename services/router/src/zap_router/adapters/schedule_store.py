"""The wake-up schedule: autoreplay attempts and checks for commands that may have been lost.

A small collection (one document per run that needs waking, ``_id`` = run id) rather than a
field on every run: FerretDB scans a whole collection for a range query, so the scheduler's
"what is due" query must run over the few runs that need it, not over the run history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from zap_router.adapters.mongo_indexes import ensure_indexes


class ScheduleStore:
    def __init__(self, collection: AsyncCollection) -> None:
        self._col = collection

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._col, [IndexModel([("wake_at", ASCENDING)])])

    async def set(self, run_id: str, wake_at: datetime, kind: str, step_id: str, attempt: int) -> None:
        """Schedule (or move) the run's wake-up."""
        doc = {"wake_at": wake_at, "kind": kind, "step_id": step_id, "attempt": attempt}
        await self._col.update_one({"_id": run_id}, {"$set": doc}, upsert=True)

    async def add_check(self, run_id: str, wake_at: datetime, step_id: str, attempt: int) -> None:
        """A check unless something is already scheduled for the run (a retry wins)."""
        doc = {"wake_at": wake_at, "kind": "check", "step_id": step_id, "attempt": attempt}
        await self._col.update_one({"_id": run_id}, {"$setOnInsert": doc}, upsert=True)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": run_id})

    async def due(self, now: datetime, limit: int = 200, kind: str | None = None) -> list[dict[str, Any]]:
        """Items due at ``now`` (of one ``kind``: ``retry`` or ``check``), earliest first."""
        query: dict[str, Any] = {"wake_at": {"$lte": now}}
        if kind is not None:
            query["kind"] = kind
        return await self._col.find(query).sort("wake_at", 1).limit(limit).to_list(None)

    async def claim(self, item: dict[str, Any], until: datetime) -> dict[str, Any] | None:
        """Move a due item to ``until`` if nobody else did: the replica that wins handles it now,
        and if it dies doing so the item comes due again."""
        return await self._col.find_one_and_update(
            {"_id": item["_id"], "wake_at": item["wake_at"]},
            {"$set": {"wake_at": until}},
            return_document=ReturnDocument.AFTER,
        )

    async def take_turn(self, tenant: str, key: str, spacing_s: float, now: datetime) -> datetime:
        """The time a run may pass a "delay after queue" step: ``now`` or ``spacing_s`` after the
        turn handed out last in the tenant's queue ``key``, whichever is later; recorded, so the
        runs of one queue pass one by one. Kept in this collection under an ``_id`` no run has and
        without ``wake_at``, so :meth:`due` never sees it. A compare-and-set: two replicas taking a
        turn at once both retry until each has its own."""
        qid = f"queue:{tenant}:{key}"
        for _ in range(20):
            doc = await self._col.find_one({"_id": qid})
            last = doc.get("last_turn") if doc else None
            turn = now if last is None else max(now, _aware(last) + timedelta(seconds=spacing_s))
            if doc is None:
                try:
                    await self._col.insert_one({"_id": qid, "last_turn": turn})
                    return turn
                except DuplicateKeyError:
                    continue
            moved = await self._col.update_one({"_id": qid, "last_turn": last}, {"$set": {"last_turn": turn}})
            if moved.modified_count == 1:
                return turn
        raise RuntimeError(f"queue {key!r} is contended; its turn is taken on the next tick")

    async def done(self, run_id: str, wake_at: datetime | None = None) -> None:
        query: dict[str, Any] = {"_id": run_id}
        if wake_at is not None:
            query["wake_at"] = wake_at
        await self._col.delete_one(query)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
