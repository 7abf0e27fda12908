"""MongoDB records of keyed Xero writes (database ``kxflow_xero``), for ``domain.write_attempts``.

* ``write_attempts``: one document per Idempotency-Key (``_id``): ``sent_at`` (the first send of
  the current epoch, kept by the upsert: ``$setOnInsert``), ``open`` (sends without a definitive
  answer), ``resource_id`` (what a 2xx created or a lookup adopted), ``refused_attempt``.
* ``write_claims``: one document per Xero record a keyed write created or adopted
  (``_id`` = ``{organisation}/{collection}/{record id}``, ``key``), created by a unique insert, so
  two commands whose outcome is unknown never adopt the same record, and a lookup skips records
  answered to another key.

Only single-document atomic operations (FerretDB has no transactions); no TTL index: ``purge``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from xero_gateway.domain.write_attempts import Attempt


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _attempt(doc: dict[str, Any] | None) -> Attempt | None:
    if doc is None:
        return None
    return Attempt(
        key=doc["_id"],
        sent_at=_utc(doc.get("sent_at")),
        open=int(doc.get("open", 0)),
        resource_id=doc.get("resource_id"),
        refused_attempt=doc.get("refused_attempt"),
    )


class WriteAttempts:
    def __init__(self, db: AsyncDatabase) -> None:
        self.attempts = db["write_attempts"]
        self.claims = db["write_claims"]

    async def get(self, key: str) -> Attempt | None:
        return _attempt(await self.attempts.find_one({"_id": key}))

    async def sending(self, key: str, now: datetime, meta: dict[str, Any]) -> Attempt:
        """Just before a send leaves: insert-once (the first ``sent_at`` is kept), one more open send."""
        for _ in range(2):
            try:
                doc = await self.attempts.find_one_and_update(
                    {"_id": key},
                    {
                        "$setOnInsert": {"sent_at": now, "created_at": now, **meta},
                        "$set": {"last_sent_at": now, "updated_at": now},
                        "$inc": {"open": 1, "sends": 1},
                    },
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:  # two upserts raced on a new key: the second one updates
                continue
            attempt = _attempt(doc)
            assert attempt is not None
            return attempt
        raise RuntimeError(f"could not record the send of {key}")

    async def created(self, key: str, resource_id: str | None, now: datetime, adopted: bool = False) -> None:
        """A 2xx answer (or a lookup found the record): nothing is outstanding any more."""
        await self.attempts.update_one(
            {"_id": key},
            {
                "$set": {
                    "open": 0,
                    "resource_id": resource_id,
                    "answered_at": now,
                    "adopted": adopted,
                    "updated_at": now,
                }
            },
        )

    async def not_processed(self, key: str, now: datetime) -> None:
        """This send was not processed (429, 401); earlier unknown sends stay open."""
        await self.attempts.update_one(
            {"_id": key, "open": {"$gt": 0}}, {"$inc": {"open": -1}, "$set": {"updated_at": now}}
        )
        await self.attempts.delete_one({"_id": key, "open": {"$lte": 0}, "resource_id": None})

    async def forget(self, key: str) -> None:
        """Nothing was written (a definitive 4xx, or a lookup found nothing): the key starts over."""
        await self.attempts.delete_one({"_id": key})

    async def refused(self, key: str, command_attempt: int, now: datetime) -> None:
        await self.attempts.update_one(
            {"_id": key}, {"$set": {"refused_attempt": command_attempt, "updated_at": now}}
        )

    # -- claims ---------------------------------------------------------------------------------
    async def claim(self, resource: str, key: str, now: datetime) -> bool:
        """Make ``resource`` this key's; False when another key has it."""
        try:
            await self.claims.insert_one({"_id": resource, "key": key, "created_at": now})
            return True
        except DuplicateKeyError:
            doc = await self.claims.find_one({"_id": resource})
            return doc is None or doc.get("key") == key

    async def purge(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Periodic cleanup in place of a TTL index (FerretDB has none)."""
        cutoff = (now or datetime.now(UTC)) - older_than
        gone = await self.attempts.delete_many({"updated_at": {"$lt": cutoff}})
        claims = await self.claims.delete_many({"created_at": {"$lt": cutoff}})
        return gone.deleted_count + claims.deleted_count
