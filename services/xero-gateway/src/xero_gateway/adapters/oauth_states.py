"""OAuth ``state`` documents: single use, expiring, bound to a browser, holding the PKCE verifier."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


@dataclass(frozen=True)
class PendingAuthorisation:
    tenant: str
    browser: str
    code_verifier: str
    expired: bool


class OAuthStates:
    def __init__(
        self, collection: AsyncCollection[Any], ttl_seconds: float, wall: Callable[[], float] = time.time
    ) -> None:
        """``wall`` is real Unix time by default: replicas compare each other's states on it."""
        self._col = collection
        self._ttl = ttl_seconds
        self._wall = wall

    async def create(self, tenant: str, browser: str, code_verifier: str) -> str:
        state = secrets.token_urlsafe(24)
        await self._col.insert_one(
            {
                "_id": state,
                "tenant": tenant,
                "browser": browser,
                "code_verifier": code_verifier,
                "expires_at": self._wall() + self._ttl,
                "created_at": datetime.now(UTC),
            }
        )
        return state

    async def take(self, state: str) -> PendingAuthorisation | None:
        """The state's authorisation, removed (single use), or None if there is none."""
        if len(state) > 128:
            return None
        doc = await self._col.find_one_and_delete({"_id": state})
        if doc is None:
            return None
        expired = float(doc.get("expires_at", 0)) <= self._wall()  # states of old versions: expired
        return PendingAuthorisation(
            doc["tenant"], doc.get("browser", ""), doc.get("code_verifier", ""), expired
        )

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Remove states nobody came back with (the retention task calls it)."""
        cutoff = now.timestamp() if now is not None else self._wall()
        res = await self._col.delete_many({"expires_at": {"$lt": cutoff}})
        return res.deleted_count


async def purge_orphan_token_sets(
    token_sets: AsyncCollection[Any], connections: AsyncCollection[Any], older_than: timedelta, now: datetime
) -> int:
    """Token sets no connection uses any more (every organisation of an authorisation deleted or
    re-authorised elsewhere), untouched for ``older_than``: their refresh tokens are dropped."""
    purged = 0
    cursor = token_sets.find({"updated_at": {"$lt": now - older_than}}, {"_id": 1}).limit(1000)
    async for doc in cursor:
        if await connections.find_one({"token_set_id": doc["_id"]}, {"_id": 1}) is None:
            purged += (await token_sets.delete_one({"_id": doc["_id"]})).deleted_count
    return purged
