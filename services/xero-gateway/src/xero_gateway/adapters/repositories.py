"""MongoDB repositories of the gateway (database ``kxflow_xero``): connections, token sets (tokens
encrypted at rest), OAuth states and poll cursors (``Repositories``), and backfill jobs
(``BackfillJobs``). Narrow: callers get methods, never a collection.

Only single-document atomic operations (FerretDB has no transactions).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kxflow_contracts.runtime.logging import REDACTOR
from kxflow_contracts.runtime.secrets import SecretBox
from xero_gateway.domain.connection import Connection

__all__ = ["BackfillJobs", "Connection", "Repositories", "TokenSet"]


@dataclass
class TokenSet:
    token_set_id: str
    version: int
    access_token: str
    refresh_token: str | None
    expires_at: float
    kind: str
    lease_until: float | None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "org"


def _doc_id(tenant: str, connection_id: str) -> str:
    return f"{tenant}/{connection_id}"


class Repositories:
    def __init__(self, db: AsyncDatabase, box: SecretBox) -> None:
        self.box = box
        self.connections = db["connections"]
        self.token_sets = db["token_sets"]
        self.states = db["oauth_states"]
        self.cursors = db["poll_cursors"]
        self.locks = db["refresh_locks"]

    async def count_needing_reauth(self) -> int:
        return await self.connections.count_documents({"status": "needs_reauth"})

    # -- OAuth state ----------------------------------------------------------------------------
    async def new_state(self, tenant: str) -> str:
        state = secrets.token_urlsafe(24)
        await self.states.insert_one({"_id": state, "tenant": tenant, "created_at": datetime.now(UTC)})
        return state

    async def pop_state(self, state: str) -> str | None:
        doc = await self.states.find_one_and_delete({"_id": state})
        return doc["tenant"] if doc else None

    # -- token sets -----------------------------------------------------------------------------
    def _tokens_doc(self, access: str, refresh: str | None, expires_at: float) -> str:
        REDACTOR.register(access, refresh)
        return self.box.encrypt_json(
            {"access_token": access, "refresh_token": refresh, "expires_at": expires_at}
        )

    async def save_token_set(
        self, token_set_id: str, kind: str, access: str, refresh: str | None, expires_at: float
    ) -> None:
        await self.token_sets.update_one(
            {"_id": token_set_id},
            {
                "$set": {
                    "enc": self._tokens_doc(access, refresh, expires_at),
                    "kind": kind,
                    "lease_until": None,
                    "updated_at": datetime.now(UTC),
                },
                "$inc": {"version": 1},
            },
            upsert=True,
        )

    async def token_set(self, token_set_id: str) -> TokenSet | None:
        doc = await self.token_sets.find_one({"_id": token_set_id})
        if doc is None:
            return None
        data = self.box.decrypt_json(doc["enc"])
        REDACTOR.register(data["access_token"], data.get("refresh_token"))
        return TokenSet(
            token_set_id,
            doc.get("version", 0),
            data["access_token"],
            data.get("refresh_token"),
            float(data["expires_at"]),
            doc.get("kind", "auth_code"),
            doc.get("lease_until"),
        )

    async def take_refresh_lease(
        self, token_set_id: str, version: int, owner: str, now: float, lease: float
    ) -> bool:
        """The single writer: one lock document per (token set, version), created by a unique insert
        (atomic on MongoDB and FerretDB alike); an expired lock (its holder died) is removed first."""
        lock_id = f"{token_set_id}@{version}"
        stale = await self.locks.find_one({"_id": lock_id})
        if stale is not None:
            if stale["until"] >= now:
                return False
            await self.locks.delete_one({"_id": lock_id, "until": stale["until"]})
        try:
            await self.locks.insert_one({"_id": lock_id, "until": now + lease, "owner": owner})
        except DuplicateKeyError:
            return False
        return True

    async def finish_refresh(
        self, token_set_id: str, version: int, access: str, refresh: str | None, expires_at: float
    ) -> bool:
        res = await self.token_sets.update_one(
            {"_id": token_set_id, "version": version},
            {
                "$set": {
                    "enc": self._tokens_doc(access, refresh, expires_at),
                    "lease_until": None,
                    "updated_at": datetime.now(UTC),
                },
                "$inc": {"version": 1},
            },
        )
        return res.modified_count == 1

    async def drop_refresh_lease(self, token_set_id: str, version: int, owner: str) -> None:
        await self.locks.delete_one({"_id": f"{token_set_id}@{version}", "owner": owner})

    # -- connections ----------------------------------------------------------------------------
    async def upsert_connection(
        self, tenant: str, xero_tenant_id: str, name: str, token_set_id: str, kind: str
    ) -> Connection:
        existing = await self.connections.find_one({"tenant": tenant, "xero_tenant_id": xero_tenant_id})
        if existing is not None:
            await self.connections.update_one(
                {"_id": existing["_id"]},
                {
                    "$set": {
                        "token_set_id": token_set_id,
                        "status": "active",
                        "status_reason": None,
                        "name": name,
                        "kind": kind,
                    }
                },
            )
            return await self.get(tenant, existing["connection_id"])  # type: ignore[return-value]
        connection_id = f"xero-{slug(name)}"
        if await self.connections.find_one({"_id": _doc_id(tenant, connection_id)}):
            connection_id = f"{connection_id}-{xero_tenant_id[:8]}"
        conn = Connection(tenant, connection_id, xero_tenant_id, name, token_set_id, kind=kind)
        await self.connections.insert_one(
            {"_id": _doc_id(tenant, connection_id), **conn.__dict__, "created_at": datetime.now(UTC)}
        )
        return conn

    @staticmethod
    def _conn(doc: dict[str, Any]) -> Connection:
        return Connection(
            doc["tenant"],
            doc["connection_id"],
            doc["xero_tenant_id"],
            doc["name"],
            doc["token_set_id"],
            doc.get("status", "active"),
            doc.get("status_reason"),
            doc.get("kind", "auth_code"),
            doc.get("daily_limit"),
        )

    async def get(self, tenant: str, connection_id: str) -> Connection | None:
        doc = await self.connections.find_one({"_id": _doc_id(tenant, connection_id)})
        return self._conn(doc) if doc else None

    async def list(self, tenant: str | None = None) -> list[Connection]:
        query = {"tenant": tenant} if tenant else {}
        return [self._conn(d) async for d in self.connections.find(query).sort("_id", 1)]

    async def by_xero_tenant(self, xero_tenant_id: str) -> list[Connection]:
        return [self._conn(d) async for d in self.connections.find({"xero_tenant_id": xero_tenant_id})]

    async def by_token_set(self, token_set_id: str) -> list[Connection]:
        return [self._conn(d) async for d in self.connections.find({"token_set_id": token_set_id})]

    async def set_status(self, token_set_id: str, status: str, reason: str | None) -> None:
        await self.connections.update_many(
            {"token_set_id": token_set_id}, {"$set": {"status": status, "status_reason": reason}}
        )

    async def set_daily_limit(self, tenant: str, connection_id: str, per_day: int | None) -> bool:
        res = await self.connections.update_one(
            {"_id": _doc_id(tenant, connection_id)}, {"$set": {"daily_limit": per_day}}
        )
        return res.matched_count == 1

    # -- poll cursors ---------------------------------------------------------------------------
    async def cursor(self, key: str) -> dict[str, Any]:
        return await self.cursors.find_one({"_id": key}) or {"_id": key}

    async def take_poll_lease(
        self, key: str, owner: str, now: datetime, due: datetime, lease_s: float
    ) -> bool:
        """Exactly one poller per (connection, resource): take it only when due and unleased."""
        from datetime import timedelta

        try:
            doc = await self.cursors.find_one_and_update(
                {"_id": key, "next_due": {"$lte": now}, "lease_until": {"$lt": now}},
                {"$set": {"lease_until": now + timedelta(seconds=lease_s), "owner": owner}},
                return_document=ReturnDocument.AFTER,
            )
        except Exception:
            doc = None
        if doc is not None:
            return True
        if await self.cursors.find_one({"_id": key}) is None:
            try:
                await self.cursors.insert_one(
                    {
                        "_id": key,
                        "next_due": due,
                        "owner": owner,
                        "lease_until": now + timedelta(seconds=lease_s),
                    }
                )
                return True
            except Exception:
                return False
        return False

    async def finish_poll(self, key: str, owner: str, next_due: datetime, **fields: Any) -> None:
        await self.cursors.update_one(
            {"_id": key, "owner": owner},
            {"$set": {"next_due": next_due, "lease_until": datetime(1970, 1, 1, tzinfo=UTC), **fields}},
        )


class BackfillJobs:
    """Backfill job documents (``backfills``): created, claimed under a lease, advanced, finished."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db["backfills"]

    async def insert(self, job: dict[str, Any]) -> None:
        await self._col.insert_one(job)

    async def get(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": job_id, "tenant": tenant})

    async def claim_next(self, owner: str, now: datetime, lease: timedelta) -> dict[str, Any] | None:
        """A queued job, or a running one whose runner's lease lapsed, now leased to ``owner``."""
        return await self._col.find_one_and_update(
            {"status": {"$in": ["queued", "running"]}, "lease_until": {"$lt": now}},
            {"$set": {"status": "running", "owner": owner, "lease_until": now + lease, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )

    async def progress(
        self, job_id: str, page: int, records: int, emitted: int, now: datetime, lease: timedelta
    ) -> None:
        await self._col.update_one(
            {"_id": job_id},
            {
                "$set": {"pages": page, "updated_at": now, "lease_until": now + lease},
                "$inc": {"records": records, "emitted": emitted},
            },
        )

    async def finish(self, job_id: str, status: str, error: str | None, now: datetime) -> None:
        await self._col.update_one(
            {"_id": job_id}, {"$set": {"status": status, "error": error, "updated_at": now}}
        )
