"""Kartra connections in MongoDB: credentials encrypted at rest, webhook secret stored as a hash.

The webhook URL carries a per-connection secret (Kartra cannot sign). Only its SHA-256 is kept;
the secret is shown once, at creation or rotation. Lookups on the webhook hot path are cached
for a short TTL in a bounded cache (misses included, so junk ids cost one lookup at most) and
invalidated on every change made through this process; an id of the wrong shape is never looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from kartra_gateway.adapters.kartra_client import KartraCredentials
from kartra_gateway.domain.ids import is_connection_id, new_connection_id
from kxflow_contracts.runtime.cache import BoundedTTLCache
from kxflow_contracts.runtime.logging import REDACTOR
from kxflow_contracts.runtime.secrets import SecretBox


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Connection:
    id: str
    tenant: str
    name: str
    secret_hash: str
    credentials_token: str
    created_at: datetime
    status: str = "active"

    def secret_matches(self, presented: str) -> bool:
        return hmac.compare_digest(_hash(presented), self.secret_hash)

    def public(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": "kartra",
            "name": self.name,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "ipn_url": f"{base_url}/v1/ipn/kartra/{self.id}",
        }


class ConnectionRepository:
    def __init__(
        self,
        collection: AsyncCollection,
        box: SecretBox,
        cache_ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        cache_size: int = 10_000,
    ) -> None:
        self._col = collection
        self._box = box
        self._cache: BoundedTTLCache[str, Connection | None] = BoundedTTLCache(cache_size, cache_ttl, clock)

    async def init(self) -> None:
        await self._col.create_index([("tenant", 1), ("name", 1)], unique=True)

    @staticmethod
    def _from_doc(doc: dict[str, Any]) -> Connection:
        return Connection(
            id=doc["_id"],
            tenant=doc["tenant"],
            name=doc["name"],
            secret_hash=doc["secret_hash"],
            credentials_token=doc["credentials"],
            created_at=doc["created_at"],
            status=doc.get("status", "active"),
        )

    async def create(self, tenant: str, name: str, creds: KartraCredentials) -> tuple[Connection, str]:
        """Store a new connection; returns it and its webhook secret (shown to the user once)."""
        secret = secrets.token_urlsafe(24)
        REDACTOR.register(creds.api_key, creds.api_password, secret)
        doc = {
            "_id": new_connection_id(),
            "tenant": tenant,
            "name": name,
            "secret_hash": _hash(secret),
            "credentials": self._box.encrypt_json(creds.fields()),
            "created_at": datetime.now(UTC),
            "status": "active",
        }
        await self._col.insert_one(doc)
        return self._from_doc(doc), secret

    async def get(self, connection_id: str) -> Connection | None:
        """Cached lookup (the webhook hot path); a miss is cached too, so a repeated junk id costs
        nothing, and the cache is bounded, so many different ones cost no memory."""
        if not is_connection_id(connection_id):
            return None
        found, conn = self._cache.lookup(connection_id)
        if found:
            return conn
        doc = await self._col.find_one({"_id": connection_id})
        conn = self._from_doc(doc) if doc else None
        self._cache.put(connection_id, conn)
        return conn

    def invalidate(self, connection_id: str) -> None:
        self._cache.pop(connection_id)

    async def for_tenant(self, tenant: str, connection_id: str) -> Connection | None:
        conn = await self.get(connection_id)
        return conn if conn is not None and conn.tenant == tenant else None

    async def list(self, tenant: str) -> list[Connection]:
        cursor = self._col.find({"tenant": tenant}).sort("created_at", 1)
        return [self._from_doc(d) async for d in cursor]

    async def delete(self, tenant: str, connection_id: str) -> bool:
        res = await self._col.delete_one({"_id": connection_id, "tenant": tenant})
        self.invalidate(connection_id)
        return res.deleted_count == 1

    async def rotate_secret(self, tenant: str, connection_id: str) -> str | None:
        secret = secrets.token_urlsafe(24)
        REDACTOR.register(secret)
        res = await self._col.update_one(
            {"_id": connection_id, "tenant": tenant}, {"$set": {"secret_hash": _hash(secret)}}
        )
        self.invalidate(connection_id)
        return secret if res.matched_count == 1 else None

    def credentials(self, conn: Connection) -> KartraCredentials:
        data = self._box.decrypt_json(conn.credentials_token)
        creds = KartraCredentials(**data)
        REDACTOR.register(creds.api_key, creds.api_password)
        return creds
