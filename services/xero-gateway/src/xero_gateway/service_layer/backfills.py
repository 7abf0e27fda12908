"""Backfill jobs: "every invoice since date D for connection X", emitted at the lowest priority
with ``origin=backfill`` (zaps opt in to backfilled events in the router).

A job is a MongoDB document (``backfills``); a runner claims it with a lease (one replica runs
it; a job whose runner died is taken over when the lease lapses) and records progress per page.
Each job emits every matching record once (its dedupe keys are scoped to the job).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from xero_gateway.adapters.repositories import BackfillJobs, Repositories
from xero_gateway.domain.polls import BACKFILLS
from xero_gateway.service_layer.poller import Poller, PollFailed

log = logging.getLogger("xero_gateway.backfills")
LEASE = timedelta(minutes=5)


class BackfillError(ValueError):
    pass


class Backfills:
    def __init__(self, repos: Repositories, jobs: BackfillJobs, poller: Poller) -> None:
        self.repos = repos
        self.jobs = jobs
        self.poller = poller
        self.owner = f"{os.getpid()}-{id(self)}"
        self._kick: asyncio.Event | None = None

    async def create(self, tenant: str, connection_id: str, resource: str, since: datetime) -> dict[str, Any]:
        if resource not in BACKFILLS:
            raise BackfillError(f"unknown resource {resource!r}; one of {sorted(BACKFILLS)}")
        if await self.repos.get(tenant, connection_id) is None:
            raise LookupError(f"no Xero connection {connection_id!r}")
        now = datetime.now(UTC)
        job = {
            "_id": uuid.uuid4().hex,
            "tenant": tenant,
            "connection_id": connection_id,
            "resource": resource,
            "since": since if since.tzinfo else since.replace(tzinfo=UTC),
            "status": "queued",
            "pages": 0,
            "records": 0,
            "emitted": 0,
            "error": None,
            "created_at": now,
            "updated_at": now,
            "lease_until": datetime(1970, 1, 1, tzinfo=UTC),
        }
        await self.jobs.insert(job)
        if self._kick is not None:
            self._kick.set()
        return public(job)

    async def get(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        doc = await self.jobs.get(tenant, job_id)
        return public(doc) if doc else None

    async def run(self, idle_seconds: float) -> None:
        """Forever: run claimable jobs; wake on a new job or every ``idle_seconds``."""
        self._kick = asyncio.Event()
        while True:
            try:
                while await self.run_one():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("backfill runner failed")
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), idle_seconds)

    async def run_one(self) -> bool:
        job = await self.jobs.claim_next(self.owner, datetime.now(UTC), LEASE)
        if job is None:
            return False
        conn = await self.repos.get(job["tenant"], job["connection_id"])
        spec = BACKFILLS[job["resource"]]

        async def progress(page: int, records: int, emitted: int) -> None:
            await self.jobs.progress(job["_id"], page, records, emitted, datetime.now(UTC), LEASE)

        status, error = "done", None
        try:
            if conn is None or conn.status != "active":
                raise PollFailed("the connection is gone or needs re-authorisation")
            since = job["since"] if job["since"].tzinfo else job["since"].replace(tzinfo=UTC)
            await self.poller.poll_list(
                conn, spec, None, since=since, key_scope=f"backfill:{job['_id']}:", on_page=progress
            )
        except PollFailed as exc:
            status, error = "failed", str(exc)
        await self.jobs.finish(job["_id"], status, error, datetime.now(UTC))
        return True


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "connection_id": doc["connection_id"],
        "resource": doc["resource"],
        "since": doc["since"].isoformat() if isinstance(doc["since"], datetime) else doc["since"],
        "status": doc["status"],
        "pages": doc.get("pages", 0),
        "records": doc.get("records", 0),
        "emitted": doc.get("emitted", 0),
        "error": doc.get("error"),
    }
