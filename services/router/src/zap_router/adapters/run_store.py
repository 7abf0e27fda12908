"""Runs in MongoDB: one document per (zap, trigger event), step states in a dict keyed by step id.

Only single-document atomic updates are used (FerretDB has no transactions and no positional
array updates): every transition is a compare-and-set on the step's status and attempt, so a
redelivered result or two replicas racing change a run at most once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kxflow_contracts.runs import RunStatus
from zap_router.adapters.mongo_indexes import ensure_indexes

DUPLICATE_KEY = 11000


class CursorError(ValueError):
    pass


def encode_cursor(created_at: datetime, run_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), run_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, run_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created), str(run_id)
    except (ValueError, TypeError) as exc:
        raise CursorError("invalid cursor") from exc


class RunStore:
    """Runs, optionally spread over ``shards`` collections by run id.

    One collection (the default) is right for MongoDB. FerretDB 1.24 scans the whole collection for
    every update, so on FerretDB the router spreads runs over several collections
    (``ROUTER_RUN_SHARDS``); a run's id names its shard, and listings merge the shards.
    """

    def __init__(self, db: AsyncDatabase, shards: int = 1, name: str = "runs") -> None:
        self._shards = max(1, shards)
        self._cols: list[AsyncCollection] = (
            [db[name]] if self._shards == 1 else [db[f"{name}_{i:02d}"] for i in range(self._shards)]
        )

    @property
    def collections(self) -> list[AsyncCollection]:
        return list(self._cols)

    def _col(self, run_id: str) -> AsyncCollection:
        if self._shards == 1:
            return self._cols[0]
        return self._cols[int(hashlib.blake2b(run_id.encode(), digest_size=4).hexdigest(), 16) % self._shards]

    async def ensure_indexes(self) -> None:
        for col in self._cols:
            await ensure_indexes(
                col,
                [
                    IndexModel([("zap_id", ASCENDING), ("trigger_event_id", ASCENDING)], unique=True),
                    IndexModel([("tenant", ASCENDING), ("created_at", DESCENDING)]),
                ],
            )

    async def insert_new(self, docs: list[dict[str, Any]]) -> tuple[set[str], dict[str, str]]:
        """Insert runs: (ids inserted, {id: reason} for documents the store rejects).

        A run that exists already (unique (zap_id, trigger_event_id)) is neither: a redelivered event
        creates nothing new.
        """
        by_col: dict[int, list[dict[str, Any]]] = {}
        for doc in docs:
            by_col.setdefault(id(self._col(doc["_id"])), []).append(doc)
        inserted: set[str] = set()
        rejected: dict[str, str] = {}
        cols = {id(c): c for c in self._cols}
        for key, group in by_col.items():
            ids, bad = await self._insert(cols[key], group)
            inserted |= ids
            rejected.update(bad)
        return inserted, rejected

    @staticmethod
    async def _insert(col: AsyncCollection, docs: list[dict[str, Any]]) -> tuple[set[str], dict[str, str]]:
        try:
            await col.insert_many(docs, ordered=False)
            return {d["_id"] for d in docs}, {}
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            failed = {docs[e["index"]]["_id"] for e in errors}
            rejected = {
                docs[e["index"]]["_id"]: str(e.get("errmsg", "rejected"))[:500]
                for e in errors
                if e.get("code") != DUPLICATE_KEY
            }
            return {d["_id"] for d in docs} - failed, rejected

    async def get(self, run_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": run_id}
        if tenant is not None:
            query["tenant"] = tenant
        return await self._col(run_id).find_one(query)

    async def get_many(self, run_ids: Iterable[str], concurrency: int = 16) -> dict[str, dict[str, Any]]:
        """Runs by id, fetched one by one (FerretDB scans the collection for an ``$in`` on ``_id``)."""
        gate = asyncio.Semaphore(concurrency)

        async def one(run_id: str) -> dict[str, Any] | None:
            async with gate:
                return await self.get(run_id)

        found = await asyncio.gather(*(one(r) for r in set(run_ids)))
        return {d["_id"]: d for d in found if d is not None}

    async def update_if(
        self, run_id: str, expect: dict[str, Any], update: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Apply ``update`` only if the run still matches ``expect``; the updated run or ``None``."""
        return await self._col(run_id).find_one_and_update(
            {"_id": run_id, **expect}, update, return_document=ReturnDocument.AFTER
        )

    async def count_outcomes(self, zap_id: str, since: datetime) -> tuple[int, int]:
        """(finished runs that did work, of which failed) for a zap since ``since``."""
        base = {"zap_id": zap_id, "created_at": {"$gte": since}}
        done = [RunStatus.succeeded.value, RunStatus.failed.value, RunStatus.halted.value]
        total = failed = 0
        for col in self._cols:
            total += await col.count_documents({**base, "status": {"$in": done}})
            failed += await col.count_documents({**base, "status": RunStatus.failed.value})
        return total, failed

    async def count(self, query: dict[str, Any] | None = None) -> int:
        return sum([await col.count_documents(query or {}) for col in self._cols])

    async def list(
        self,
        tenant: str,
        *,
        zap_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
        full: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; ``cursor`` continues after the last run of the previous page."""
        query: dict[str, Any] = {"tenant": tenant}
        if zap_id:
            query["zap_id"] = zap_id
        if status:
            query["status"] = status
        created: dict[str, Any] = {}
        if since:
            created["$gte"] = since
        if until:
            created["$lt"] = until
        if created:
            query["created_at"] = created
        if cursor:
            at, last_id = decode_cursor(cursor)
            query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": last_id}}]
        projection = None if full else {"trigger": 0, "steps": 0}
        order = [("created_at", DESCENDING), ("_id", DESCENDING)]
        found: list[dict[str, Any]] = []
        for col in self._cols:
            found += await col.find(query, projection).sort(order).limit(limit + 1).to_list(None)
        found.sort(key=lambda d: (d["created_at"], d["_id"]), reverse=True)
        page = found[:limit]
        next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["_id"]) if len(found) > limit else None
        return page, next_cursor
