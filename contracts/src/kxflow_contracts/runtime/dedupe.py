"""A store of seen keys with a time window, for collapsing duplicate deliveries.

Kartra retries webhooks and sends no event id, so the Kartra gateway collapses by a content hash
within a window; Xero's dedupe keys and pollers' per-resource keys use the same store with an
unlimited window. MongoDB-backed so it survives restarts and is shared by replicas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError


class SeenKeys:
    def __init__(self, collection: AsyncCollection, window: timedelta | None = None) -> None:
        self._col = collection
        self._window = window

    async def first_time(self, key: str, now: datetime | None = None) -> bool:
        """True if ``key`` was not seen within the window (and records it as seen now)."""
        now = now or datetime.now(UTC)
        try:
            await self._col.insert_one({"_id": key, "seen_at": now})
            return True
        except DuplicateKeyError:
            if self._window is None:
                return False
        # Seen before: it counts as new only if the last sighting is older than the window.
        res = await self._col.update_one(
            {"_id": key, "seen_at": {"$lt": now - self._window}}, {"$set": {"seen_at": now}}
        )
        return res.modified_count == 1

    async def first_time_many(self, keys: list[str], now: datetime | None = None) -> list[bool]:
        """:meth:`first_time` for many keys in one ``insert_many`` round-trip (the all-new case).

        For webhook intake under load, where one round-trip per delivery would cap throughput at
        the store's per-write latency. Duplicates (also within ``keys``) fall back to the window check.
        """
        now = now or datetime.now(UTC)
        if not keys:
            return []
        try:
            await self._col.insert_many([{"_id": k, "seen_at": now} for k in keys], ordered=False)
            return [True] * len(keys)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            seen = {e["index"] for e in errors}
        out: list[bool] = []
        for i, key in enumerate(keys):
            if i not in seen:
                out.append(True)
            elif self._window is None:
                out.append(False)
            else:
                res = await self._col.update_one(
                    {"_id": key, "seen_at": {"$lt": now - self._window}}, {"$set": {"seen_at": now}}
                )
                out.append(res.modified_count == 1)
        return out

    async def contains(self, key: str) -> bool:
        """Whether ``key`` was recorded (whatever its age), without recording it."""
        return await self._col.find_one({"_id": key}, {"_id": 1}) is not None

    async def forget(self, key: str) -> None:
        """Undo a sighting (the work it guarded failed before it was durable)."""
        await self._col.delete_one({"_id": key})

    async def purge(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = (now or datetime.now(UTC)) - older_than
        res = await self._col.delete_many({"seen_at": {"$lt": cutoff}})
        return res.deleted_count
