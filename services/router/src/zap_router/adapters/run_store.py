"""Runs in MongoDB: one document per (zap, trigger event), step states in a dict keyed by step id.

Only single-document updates are used (FerretDB has no transactions and no positional array
updates): every transition is a compare-and-set on the step's status and attempt, so a redelivered
result changes a run at most once.

FerretDB 1.24 (SQLite) answers a query through an index only for a filter that is exactly
``{"_id": <string>}`` (and even then SQLite scans the table: the ``WHERE`` expression FerretDB writes
is not the one its ``_id`` index is built on); any other filter makes it decode every document of
the collection in Go, about seven times the cost of that SQLite scan. So on FerretDB every read and
write of a run is by ``_id`` alone: the compare-and-set compares the document the caller has just
read, then writes by ``_id``. That is what FerretDB's own ``findAndModify`` does too (it reads, then
writes, in two SQLite transactions); on MongoDB, where the filter is atomic and cheap, the
compare-and-set stays in the filter. (The FerretDB that deploy/local builds is patched to use its
``_id`` index, also with conditions beside ``_id``; docs/router.md.)
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import bson
from bson.errors import BSONError
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DocumentTooLarge, OperationFailure

from kxflow_contracts.runs import FINISHED_STATES, HANDLED, RunStatus
from zap_router.adapters.errors import is_transient
from zap_router.adapters.mongo_indexes import ensure_indexes
from zap_router.domain.machine import Guard, RunPatch

DUPLICATE_KEY = 11000
_MISSING = object()
# Far below MongoDB's 16 MiB: a run is read and written whole on every transition.
MAX_RUN_BYTES = 4 * 1024 * 1024
_INT64 = (-(2**63), 2**63 - 1)
_WALKED = (dict, list, int, float)


class Unstorable(ValueError):
    """A run (or a change to one) the store cannot hold; the message says why, for the run's error."""


def value_problem(value: Any, ferretdb: bool = True) -> str | None:
    """Why the store could not hold ``value`` (a run, or a part of one), or ``None``.

    What BSON cannot encode (integers beyond 64 bits, NUL in a key), and on FerretDB what it
    refuses (keys starting with ``$`` or containing ``.``, lists inside lists) or drops the
    connection on (NaN and infinities): the latter would look like an unreachable store and be
    retried forever, so it is found here, before any write.
    """
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, in_list = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    return f"a key {key!r} is not text"
                if "\x00" in key:
                    return f"the key {key[:40]!r} contains a NUL character"
                if ferretdb and (key[:1] == "$" or "." in key):
                    return f"the key {key[:40]!r} starts with '$' or contains '.'"
                if type(child) in _WALKED:
                    stack.append((child, False))
        elif kind is list:
            if in_list and ferretdb:
                return "a list directly inside a list"
            stack.extend((child, True) for child in item if type(child) in _WALKED)
        elif kind is int:
            if not _INT64[0] <= item <= _INT64[1]:
                return f"the integer {str(item)[:40]} does not fit in 64 bits"
        elif kind is float and ferretdb and not math.isfinite(item):
            return f"the number {item} is not finite"
    return None


def _path(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def matches(doc: dict[str, Any], expect: dict[str, Any]) -> bool:
    """Does ``doc`` hold every (dotted path → value) of ``expect``? (equality only, as used here)"""
    return all(_path(doc, k) == v for k, v in expect.items())


def applied(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``doc`` after ``update`` (``$set`` and ``$inc`` on dotted paths): the document the server
    now holds, without reading it back."""
    out = copy.deepcopy(doc)
    for op, fields in update.items():
        if op not in ("$set", "$inc"):
            raise ValueError(f"unsupported update operator {op}")
        for dotted, value in fields.items():
            *parents, leaf = dotted.split(".")
            target = out
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value if op == "$set" else target.get(leaf, 0) + value
    return out


async def is_ferretdb(db: AsyncDatabase) -> bool:
    """FerretDB answers ``buildInfo`` with its own version beside the MongoDB one it emulates."""
    return "ferretdbVersion" in await db.command("buildInfo")


def update_of(patch: RunPatch) -> dict[str, Any]:
    """A transition's patch as a single-document ``$set`` (steps live in a dict keyed by path)."""
    sets = dict(patch.run)
    for path, fields in patch.steps.items():
        for name, value in fields.items():
            sets[f"steps.{path}.{name}"] = value
    for path, state in patch.new_steps.items():
        sets[f"steps.{path}"] = state
    return {"$set": sets}


def expect_of(guard: Guard) -> dict[str, Any]:
    """A transition's guard as the equalities the compare-and-set checks."""
    expect: dict[str, Any] = {"status": guard.run_status}
    if guard.step_path is not None:
        expect[f"steps.{guard.step_path}.status"] = guard.step_status
        expect[f"steps.{guard.step_path}.attempt"] = guard.attempt
    if guard.updated_at is not None:
        expect["updated_at"] = guard.updated_at
    return expect


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
    every read and write but an insert (even by ``_id``, see above), so on FerretDB the router
    spreads runs over several collections (``ROUTER_RUN_SHARDS``); a run's id names its shard, and
    listings merge the shards.
    """

    def __init__(
        self, db: AsyncDatabase, shards: int = 1, name: str = "runs", cas_in_filter: bool | None = None
    ) -> None:
        """``cas_in_filter``: compare-and-set in the update filter (MongoDB) or on the document just
        read, writing by ``_id`` (FerretDB); ``None`` asks the server which it is."""
        self._db = db
        self._cas_in_filter = cas_in_filter
        self._ferretdb: bool | None = None
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

    async def on_ferretdb(self) -> bool:
        if self._ferretdb is None:
            self._ferretdb = await is_ferretdb(self._db)
        return self._ferretdb

    async def cas_in_filter(self) -> bool:
        if self._cas_in_filter is None:
            self._cas_in_filter = not await self.on_ferretdb()
        return self._cas_in_filter

    async def ensure_indexes(self) -> None:
        """The unique (zap_id, trigger_event_id) everywhere; on MongoDB also the indexes listings and
        the retention job query by. FerretDB answers no query from a secondary index (it only
        maintains them, on every insert), so there they would cost insert throughput for nothing."""
        models = [IndexModel([("zap_id", ASCENDING), ("trigger_event_id", ASCENDING)], unique=True)]
        if not await self.on_ferretdb():
            models += [
                IndexModel([("tenant", ASCENDING), ("created_at", DESCENDING)]),
                IndexModel([("finished_at", ASCENDING)]),
            ]
        for col in self._cols:
            await ensure_indexes(col, models)

    async def insert_new(self, docs: list[dict[str, Any]]) -> tuple[set[str], dict[str, str]]:
        """Insert runs: (ids inserted, {id: reason} for documents the store rejects).

        A run that exists already (unique (zap_id, trigger_event_id)) is neither: a redelivered event
        creates nothing new.
        """
        by_col: dict[int, list[dict[str, Any]]] = {}
        rejected: dict[str, str] = {}
        ferretdb = await self.on_ferretdb()
        for doc in docs:
            problem = value_problem(doc, ferretdb)
            if problem is not None:
                rejected[doc["_id"]] = problem
                continue
            by_col.setdefault(id(self._col(doc["_id"])), []).append(doc)
        inserted: set[str] = set()
        cols = {id(c): c for c in self._cols}
        for key, group in by_col.items():
            ids, bad = await self._insert(cols[key], group)
            inserted |= ids
            rejected.update(bad)
        return inserted, rejected

    @classmethod
    async def _insert(
        cls, col: AsyncCollection, docs: list[dict[str, Any]]
    ) -> tuple[set[str], dict[str, str]]:
        try:
            await col.insert_many(docs, ordered=False)
            return {d["_id"] for d in docs}, {}
        except (BSONError, OverflowError, DocumentTooLarge) as exc:
            if len(docs) == 1:  # refused before it was sent: one document the client cannot encode
                return set(), {docs[0]["_id"]: f"{type(exc).__name__}: {exc}"[:500]}
            inserted: set[str] = set()
            rejected: dict[str, str] = {}
            for doc in docs:  # find the one(s) at fault; the others go in one by one
                ids, bad = await cls._insert(col, [doc])
                inserted |= ids
                rejected.update(bad)
            return inserted, rejected
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
        """A run by id (and of ``tenant`` if given: checked here, the filter stays ``_id`` alone)."""
        doc = await self._col(run_id).find_one({"_id": run_id})
        if doc is None or (tenant is not None and doc.get("tenant") != tenant):
            return None
        return doc

    async def get_many(self, run_ids: Iterable[str], concurrency: int = 16) -> dict[str, dict[str, Any]]:
        """Runs by id, fetched one by one (FerretDB scans the collection for an ``$in`` on ``_id``)."""
        gate = asyncio.Semaphore(concurrency)

        async def one(run_id: str) -> dict[str, Any] | None:
            async with gate:
                return await self.get(run_id)

        found = await asyncio.gather(*(one(r) for r in set(run_ids)))
        return {d["_id"]: d for d in found if d is not None}

    async def update_if(
        self,
        run_id: str,
        expect: dict[str, Any],
        update: dict[str, Any],
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Apply ``update`` only if the run still matches ``expect``; the updated run or ``None``.

        ``current`` is the run as the caller just read it: on FerretDB the comparison is made on it
        (read now if not given) and the write is by ``_id`` alone (see the module docstring).

        Raises :class:`Unstorable` (nothing written) when the run would hold a value the store
        cannot, or grow beyond ``MAX_RUN_BYTES``: the caller records a failure instead.
        """
        col = self._col(run_id)
        cas = await self.cas_in_filter()
        doc = current if current is not None or cas else await col.find_one({"_id": run_id})
        after = await self.check(doc, update)
        try:
            if cas:
                return await col.find_one_and_update(
                    {"_id": run_id, **expect}, update, return_document=ReturnDocument.AFTER
                )
            if doc is None or not matches(doc, expect):
                return None
            if (await col.update_one({"_id": run_id}, update)).matched_count == 0:
                return None
        except (BSONError, OverflowError, DocumentTooLarge) as exc:
            raise Unstorable(f"{type(exc).__name__}: {exc}"[:500]) from None
        except OperationFailure as exc:
            if is_transient(exc):
                raise  # timeouts, shutdowns, elections: the store, not the run
            raise Unstorable(f"the store refused the run: {exc.details or exc}"[:500]) from None
        return after

    async def write(self, run: dict[str, Any], patch: RunPatch, guard: Guard) -> dict[str, Any] | None:
        """Write a transition's patch under its guard; the run after it, or ``None`` if the run
        moved on meanwhile. Raises :class:`Unstorable` (nothing written) like :meth:`update_if`."""
        return await self.update_if(run["_id"], expect_of(guard), update_of(patch), current=run)

    async def check_patch(self, run: dict[str, Any], patch: RunPatch) -> None:
        """Raises :class:`Unstorable` if the run after ``patch`` could not be stored."""
        await self.check(run, update_of(patch))

    async def check(self, run: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any] | None:
        """``run`` after ``update`` (``None`` without ``run``); raises :class:`Unstorable` if the
        store could not hold it (a value it cannot encode, or more than ``MAX_RUN_BYTES``)."""
        ferretdb = await self.on_ferretdb()
        for fields in update.values():  # {dotted path: value}: the paths are the router's own
            for value in fields.values():
                problem = value_problem(value, ferretdb)
                if problem is not None:
                    raise Unstorable(problem)
        if run is None:
            return None
        after = applied(run, update)
        try:
            size = len(bson.encode(after))
        except (BSONError, OverflowError) as exc:
            raise Unstorable(f"{type(exc).__name__}: {exc}"[:500]) from None
        if size > MAX_RUN_BYTES:
            raise Unstorable(f"the run would be {size} bytes; a run is kept below {MAX_RUN_BYTES}")
        return after

    async def delete_finished(self, before: datetime, batch: int = 1000) -> int:
        """Delete finished runs whose ``finished_at`` is before ``before`` (retention); how many.

        A batch of ids at a time (FerretDB puts every id of a delete into one SQLite statement).
        """
        done = sorted(FINISHED_STATES)
        query = {"finished_at": {"$lt": before}, "status": {"$in": done}}
        deleted = 0
        for col in self._cols:
            while True:
                ids = [d["_id"] for d in await col.find(query, {"_id": 1}).limit(batch).to_list(None)]
                if not ids:
                    break
                deleted += (await col.delete_many({"_id": {"$in": ids}, **query})).deleted_count
                if len(ids) < batch:
                    break
        return deleted

    async def count_outcomes(self, zap_id: str, since: datetime) -> tuple[int, int]:
        """(finished runs that did work, of which failed) for a zap since ``since``. A ``handled``
        run (its failed step's on_error branch ran) did work and is not a failure (§4.1)."""
        base = {"zap_id": zap_id, "created_at": {"$gte": since}}
        done = [RunStatus.succeeded.value, RunStatus.failed.value, RunStatus.halted.value, HANDLED]
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
