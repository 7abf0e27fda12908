"""Catch-up from the log (DESIGN.md §4.1): run a zap's published version over a past window of
its retained trigger topic, as a background job whose progress any replica can report.

Events that already have a run of the zap are skipped (checked by the run's deterministic id
before anything is planned; the unique (zap_id, trigger event id) index settles a race with the
live consumer). New runs are started by the engine exactly as live events start them, so their
command ids are the ones a live run would have used: a step that was already executed (a run that
was deleted by retention, say) is answered from the gateway's ledger, and Xero sees the same
Idempotency-Key, so nothing is written to Kartra or Xero twice.

A catch-up runs on the replica that accepted it. Its document is updated after every page of the
scan; a ``running`` job whose document has not moved for :data:`STALE_AFTER` lost its replica and
is reported ``interrupted`` (running the same window again is safe: it skips what was done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.runs import RunStatus
from kxflow_contracts.topics import Topics
from zap_router.adapters.catchup_store import CatchupStore
from zap_router.adapters.run_store import RunStore
from zap_router.domain.clock import Clock
from zap_router.domain.context import run_context, trigger_context
from zap_router.domain.filters import passes
from zap_router.domain.matching import ActiveZap, MatchIndex
from zap_router.domain.runs import run_id_for
from zap_router.engine.dryrun import EventReader, events_of
from zap_router.engine.runner import RunEngine
from zap_router.engine.zaps import ZapService

log = logging.getLogger("kxflow.router.catchup")

STALE_AFTER = timedelta(minutes=2)
MAX_PROBLEMS = 20  # reasons kept for events that could not start a run


class CatchupRefused(ValueError):
    pass


class CatchupNotFound(LookupError):
    pass


def _utc(at: datetime) -> datetime:
    """A time without an offset is UTC (as everywhere in the API)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _counts() -> dict[str, int]:
    # scanned = skipped + started + filtered + failed + ignored
    return {"scanned": 0, "started": 0, "skipped": 0, "filtered": 0, "failed": 0, "ignored": 0}


class Catchups:
    def __init__(
        self,
        *,
        store: CatchupStore,
        engine: RunEngine,
        zaps: ZapService,
        runs: RunStore,
        reader: EventReader,
        catalog: Catalog,
        topics: Topics,
        clock: Clock,
    ) -> None:
        self.store = store
        self.engine = engine
        self.zaps = zaps
        self.runs = runs
        self.reader = reader
        self.catalog = catalog
        self.topics = topics
        self.clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def view(self, doc: dict[str, Any]) -> dict[str, Any]:
        status = doc["status"]
        if status == "running" and doc["updated_at"] < self.clock.now() - STALE_AFTER:
            status = "interrupted"
        total = doc.get("total") or 0
        return {
            "id": doc["_id"],
            "zap_id": doc["zap_id"],
            "zap_version": doc["zap_version"],
            "since": doc["since"],
            "until": doc["until"],
            "dry_run": doc["dry_run"],
            "status": status,
            "counts": doc["counts"],
            "position": doc.get("position", 0),
            "total": total,
            "progress": 1.0 if status == "succeeded" else (doc.get("position", 0) / total if total else 0.0),
            "problems": doc.get("problems", []),
            "error": doc.get("error"),
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
            "finished_at": doc.get("finished_at"),
        }

    async def start(
        self, tenant: str, zap_id: str, since: datetime, until: datetime | None, dry_run: bool
    ) -> dict[str, Any]:
        zap = await self.zaps.current(tenant, zap_id)  # ZapNotFound → 404
        head = await self.zaps.store.head(zap_id, tenant)
        if head is not None and not head["enabled"] and not dry_run:
            raise CatchupRefused(f"zap {zap_id} is off: turn it on first (a dry run is allowed)")
        since, until = _utc(since), _utc(until) if until else None
        now = self.clock.now()
        wall = datetime.now(UTC)  # the window is in Kafka record time, the wall clock's
        until = min(until or wall, wall)  # later events are the live consumer's
        if since >= until:
            raise CatchupRefused(
                f"the window is empty: since ({since.isoformat()}) is not before {until.isoformat()}"
            )
        for job in await self.store.running(tenant, zap_id):
            if self.view(job)["status"] == "running":
                raise CatchupRefused(f"catch-up {job['_id']} is already running for zap {zap_id}")
        doc = {
            "_id": "cu_" + uuid.uuid4().hex[:20],
            "tenant": tenant,
            "zap_id": zap_id,
            "zap_version": zap.version,
            "since": since,
            "until": until,
            "dry_run": dry_run,
            "status": "running",
            "counts": _counts(),
            "position": 0,
            "total": 0,
            "problems": [],
            "error": None,
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }
        await self.store.insert(doc)
        task = asyncio.create_task(self._run(doc, zap))
        self._tasks[doc["_id"]] = task
        task.add_done_callback(lambda _: self._tasks.pop(doc["_id"], None))
        return self.view(doc)

    async def get(self, tenant: str, zap_id: str, job_id: str) -> dict[str, Any]:
        doc = await self.store.get(job_id, tenant, zap_id)
        if doc is None:
            raise CatchupNotFound(job_id)
        return self.view(doc)

    async def list(self, tenant: str, zap_id: str) -> list[dict[str, Any]]:
        await self.zaps.current(tenant, zap_id)  # ZapNotFound → 404
        return [self.view(d) for d in await self.store.list(tenant, zap_id)]

    async def cancel(self, tenant: str, zap_id: str, job_id: str) -> dict[str, Any]:
        """Ask the job to stop after the page it is on (runs already started go on)."""
        doc = await self.store.get(job_id, tenant, zap_id)
        if doc is None:
            raise CatchupNotFound(job_id)
        if doc["status"] != "running":
            raise CatchupRefused(f"catch-up {job_id} is {doc['status']}")
        await self.store.request_cancel(job_id, self.clock.now())
        return await self.get(tenant, zap_id, job_id)

    async def stop(self) -> None:
        """Shutdown: jobs of this replica end ``interrupted``."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self, job_id: str) -> None:
        """Until this replica's job ``job_id`` has finished (tests, the CLI's --wait path)."""
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ the job

    async def _run(self, job: dict[str, Any], zap: ActiveZap) -> None:
        counts, problems = job["counts"], job["problems"]
        entry = self.catalog.get(zap.trigger_key)
        index = MatchIndex()
        index.upsert(zap)

        want = events_of(zap, entry.ce_type)
        status, error = "succeeded", None
        try:
            pages = self.reader.scan(self.topics.events_for(entry.app), job["since"], job["until"], want)
            async for page in pages:
                await self._page(page.events, zap, index, counts, problems, job["dry_run"])
                now = self.clock.now()
                sets = {
                    "counts": counts,
                    "problems": problems,
                    "position": page.position,
                    "total": page.total,
                }
                current = await self.store.update(job["_id"], {**sets, "updated_at": now})
                if current is not None and current.get("cancel_requested"):
                    status = "cancelled"
                    break
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        except Exception as exc:
            log.exception("catch-up %s of zap %s failed", job["_id"], zap.zap_id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        finally:
            now = self.clock.now()
            final = {"status": status, "error": error, "counts": counts, "problems": problems}
            await asyncio.shield(
                self.store.update(job["_id"], {**final, "updated_at": now, "finished_at": now})
            )
            log.info("catch-up %s of zap %s %s: %s", job["_id"], zap.zap_id, status, counts)

    async def _page(
        self,
        events: list[CloudEvent],
        zap: ActiveZap,
        index: MatchIndex,
        counts: dict[str, int],
        problems: list[dict[str, str]],
        dry_run: bool,
    ) -> None:
        if not events:
            return
        counts["scanned"] += len(events)
        existing = await self.runs.get_many({run_id_for(zap.zap_id, e.id) for e in events})
        seen: set[str] = set(existing)
        fresh: list[CloudEvent] = []
        for event in events:
            run_id = run_id_for(zap.zap_id, event.id)
            if run_id in seen:
                counts["skipped"] += 1  # it has a run (or is the same event twice in the window)
            elif event.data.get("origin") == "backfill" and not zap.backfill:
                counts["ignored"] += 1  # the zap does not opt in to backfilled events
            else:
                fresh.append(event)
            seen.add(run_id)
        if dry_run:
            for event in fresh:
                trigger = trigger_context(event.id, event.type, event.time, event.data)
                context = run_context(trigger, {}, zap.zap_id, zap.version, zap.name)
                counts["started" if passes(zap.filter, context) else "filtered"] += 1
            return
        poison = await self.engine.on_events(fresh, index)
        for event_id, reason in poison.items():
            counts["failed"] += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append({"event_id": event_id, "reason": reason})
        started = await self.runs.get_many(run_id_for(zap.zap_id, e.id) for e in fresh if e.id not in poison)
        for run in started.values():
            if run["status"] == RunStatus.filtered.value:
                counts["filtered"] += 1
            elif run["status"] == RunStatus.failed.value:
                counts["failed"] += 1  # failed at its start (e.g. a template that cannot render)
                if len(problems) < MAX_PROBLEMS:
                    reason = (run.get("error") or {}).get("message", "")
                    problems.append({"event_id": run["trigger_event_id"], "reason": reason})
            else:
                counts["started"] += 1
