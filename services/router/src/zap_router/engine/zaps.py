"""Zap management: versions in MongoDB, the changelog on Kafka, the in-memory match index.

Every change bumps the zap's ``revision`` and is published on the compacted ``kxflow.zaps.v1``
topic, which every replica applies to its index; the replica that made the change also applies it
at once, and every replica reconciles with MongoDB periodically in case it missed a record.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.runs import RunEvent, RunStatus, RunTransition
from zap_router.adapters.connections import ConnectionDirectory
from zap_router.adapters.publisher import Publisher
from zap_router.adapters.run_store import RunStore
from zap_router.adapters.zap_store import ZapStore, version_id
from zap_router.domain.clock import Clock
from zap_router.domain.health import AutoDisablePolicy
from zap_router.domain.matching import ActiveZap, MatchIndex
from zap_router.domain.validation import Problem, resolve_connection_names, validate_zap
from zap_router.domain.zaps import ZapSpec
from zap_router.engine.active import active_from_record, changelog_record

log = logging.getLogger("kxflow.router.zaps")


class ZapInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")


class ZapNotFound(LookupError):
    pass


class ZapConflict(RuntimeError):
    pass


def view(head: dict[str, Any], version: dict[str, Any] | None) -> dict[str, Any]:
    """The API form of a zap."""
    return {
        "id": head["_id"],
        "name": head.get("name"),
        "version": head["version"],
        "revision": head["revision"],
        "enabled": head["enabled"],
        "disabled_reason": head.get("disabled_reason"),
        "created_at": head["created_at"],
        "updated_at": head["updated_at"],
        "spec": version["spec"] if version else None,
        "steps": version["steps"] if version else None,
    }


class ZapService:
    def __init__(
        self,
        *,
        store: ZapStore,
        runs: RunStore,
        index: MatchIndex,
        catalog: Catalog,
        directory: ConnectionDirectory,
        publisher: Publisher,
        clock: Clock,
        policy: AutoDisablePolicy | None = None,
    ) -> None:
        self.store = store
        self.runs = runs
        self.index = index
        self.catalog = catalog
        self.directory = directory
        self.publisher = publisher
        self.clock = clock
        self.policy = policy or AutoDisablePolicy()
        self._failures: dict[str, int] = {}
        # Called when a zap is turned off (by its owner or automatically): cancels its waiting runs.
        self.on_disabled: Callable[[str, str, str], Awaitable[Any]] | None = None

    async def validate(self, tenant: str, token: str, spec: ZapSpec) -> tuple[ZapSpec, list[dict[str, Any]]]:
        """The spec with connection names resolved to ids, and its resolved steps; or ZapInvalid."""
        connections = await self.directory.connections(tenant, token)
        spec = resolve_connection_names(spec, connections)
        steps, problems = validate_zap(spec, self.catalog, connections)
        if problems:
            raise ZapInvalid(problems)
        return spec, [s.model_dump() for s in steps]

    def _version_doc(self, zap_id: str, tenant: str, version: int, spec: ZapSpec, steps: list[Any]) -> dict:
        return {
            "_id": version_id(zap_id, version),
            "zap_id": zap_id,
            "tenant": tenant,
            "version": version,
            "spec": spec.model_dump(mode="json"),
            "steps": steps,
            "created_at": self.clock.now(),
        }

    async def _publish(self, head: dict[str, Any], version: dict[str, Any] | None) -> None:
        """Changelog record (or tombstone for a deleted zap) + apply it to this replica's index."""
        if head.get("deleted") or version is None:
            self.index.remove(head["_id"], head["revision"])
            await self.publisher.zap_changed(head["tenant"], head["_id"], None)
            return
        record = changelog_record(head, version)
        self.apply(record)
        await self.publisher.zap_changed(head["tenant"], head["_id"], record)

    def apply(self, record: dict[str, Any] | None, zap_id: str | None = None) -> None:
        """Apply one changelog record (``None`` = tombstone of ``zap_id``) to the index."""
        if record is None:
            if zap_id:
                self.index.remove(zap_id)
            return
        if not record.get("enabled"):
            self.index.remove(record["zap_id"], int(record["revision"]))
            return
        try:
            self.index.upsert(active_from_record(record, self.catalog))
        except Exception:
            log.exception("changelog record for zap %s cannot be loaded", record.get("zap_id"))

    async def reload(self) -> int:
        """Reconcile the index with MongoDB (start-up and periodically).

        Reads every head (small documents) and loads versions only for zaps whose revision is
        newer than what this replica has applied, so a periodic check of 10,000 zaps is cheap.
        """
        heads = await self.store.all_heads()
        known = set()
        stale = []
        for head in heads:
            known.add(head["_id"])
            if head["revision"] <= self.index.revision(head["_id"]):
                continue
            if head.get("enabled") and not head.get("deleted"):
                stale.append(head)
            else:
                self.index.remove(head["_id"], head["revision"])
        versions = await self.store.versions_by_ids([version_id(h["_id"], h["version"]) for h in stale])
        for head in stale:
            doc = versions.get(version_id(head["_id"], head["version"]))
            if doc is None:
                continue
            try:
                self.index.upsert(active_from_record(changelog_record(head, doc), self.catalog))
            except Exception:
                log.exception("zap %s cannot be loaded", head["_id"])
        for zap_id in self.index.ids():
            if zap_id not in known:
                self.index.remove(zap_id)
        return len(self.index)

    # ------------------------------------------------------------------ API

    def _new(self, tenant: str, spec: ZapSpec, steps: list[Any], enabled: bool) -> tuple[dict, dict]:
        zap_id = "z_" + uuid.uuid4().hex[:20]
        now = self.clock.now()
        version = self._version_doc(zap_id, tenant, 1, spec, steps)
        head = {
            "_id": zap_id,
            "tenant": tenant,
            "name": spec.name,
            "version": 1,
            "revision": 1,
            "enabled": enabled,
            "deleted": False,
            "disabled_reason": None,
            "created_at": now,
            "updated_at": now,
        }
        return head, version

    async def create(self, tenant: str, token: str, spec: ZapSpec, enabled: bool = True) -> dict[str, Any]:
        spec, steps = await self.validate(tenant, token, spec)
        head, version = self._new(tenant, spec, steps, enabled)
        await self.store.insert(head, version)
        await self._publish(head, version)
        return view(head, version)

    async def create_many(
        self, items: list[tuple[str, ZapSpec]], token: str = "", enabled: bool = True
    ) -> list[str]:
        """Import many zaps at once (migrations, benchmarks): all validated first, then stored in bulk.

        Raises :class:`ZapInvalid` listing the problems of every invalid zap (nothing is stored).
        """
        connections = {t: await self.directory.connections(t, token) for t in {t for t, _ in items}}
        pairs, problems = [], []
        for i, (tenant, written) in enumerate(items):
            spec = resolve_connection_names(written, connections[tenant])
            steps, found = validate_zap(spec, self.catalog, connections[tenant])
            problems += [Problem(f"[{i}].{p.loc}", p.msg) for p in found]
            pairs.append(self._new(tenant, spec, [s.model_dump() for s in steps], enabled))
        if problems:
            raise ZapInvalid(problems)
        await self.store.insert_many([h for h, _ in pairs], [v for _, v in pairs])
        for i in range(0, len(pairs), 500):
            await asyncio.gather(*(self._publish(h, v) for h, v in pairs[i : i + 500]))
        return [h["_id"] for h, _ in pairs]

    async def _head(self, tenant: str, zap_id: str) -> dict[str, Any]:
        head = await self.store.head(zap_id, tenant)
        if head is None:
            raise ZapNotFound(zap_id)
        return head

    async def get(self, tenant: str, zap_id: str, version: int | None = None) -> dict[str, Any]:
        head = await self._head(tenant, zap_id)
        doc = await self.store.version(zap_id, version or head["version"])
        if doc is None:
            raise ZapNotFound(f"{zap_id} version {version}")
        return {**view(head, doc), "shown_version": doc["version"]}

    async def list(self, tenant: str) -> list[dict[str, Any]]:
        return [view(h, None) for h in await self.store.list(tenant)]

    async def versions(self, tenant: str, zap_id: str) -> list[dict[str, Any]]:
        await self._head(tenant, zap_id)
        return [
            {"version": d["version"], "created_at": d["created_at"], "spec": d["spec"]}
            for d in await self.store.versions(zap_id)
        ]

    async def update(
        self, tenant: str, token: str, zap_id: str, spec: ZapSpec, expect_revision: int | None = None
    ) -> dict[str, Any]:
        head = await self._head(tenant, zap_id)
        if expect_revision is not None and expect_revision != head["revision"]:
            raise ZapConflict(f"zap {zap_id} is at revision {head['revision']}, not {expect_revision}")
        spec, steps = await self.validate(tenant, token, spec)
        number = head["version"] + 1
        version = self._version_doc(zap_id, tenant, number, spec, steps)
        new_head = await self.store.add_version(
            zap_id,
            head["revision"],
            version,
            {"version": number, "name": spec.name, "updated_at": self.clock.now()},
        )
        if new_head is None:
            raise ZapConflict(f"zap {zap_id} changed meanwhile; fetch it and try again")
        await self._publish(new_head, version)
        return view(new_head, version)

    async def set_enabled(self, tenant: str, zap_id: str, enabled: bool) -> dict[str, Any]:
        head = await self._head(tenant, zap_id)
        sets = {"enabled": enabled, "updated_at": self.clock.now(), "disabled_reason": None}
        new_head = await self.store.update_head(zap_id, head["revision"], sets)
        if new_head is None:
            raise ZapConflict(f"zap {zap_id} changed meanwhile; try again")
        version = await self.store.version(zap_id, new_head["version"])
        await self._publish(new_head, version)
        if not enabled and head.get("enabled") and self.on_disabled is not None:
            await self.on_disabled(tenant, zap_id, "the zap was turned off")
        return view(new_head, version)

    async def delete(self, tenant: str, zap_id: str) -> None:
        head = await self._head(tenant, zap_id)
        new_head = await self.store.update_head(
            zap_id, head["revision"], {"deleted": True, "enabled": False, "updated_at": self.clock.now()}
        )
        if new_head is None:
            raise ZapConflict(f"zap {zap_id} changed meanwhile; try again")
        await self.store.delete_draft(zap_id)
        await self._publish(new_head, None)

    async def current(self, tenant: str, zap_id: str) -> ActiveZap:
        """The zap's current version as runnable (replay uses it)."""
        head = await self._head(tenant, zap_id)
        doc = await self.store.version(zap_id, head["version"])
        if doc is None:
            raise ZapNotFound(zap_id)
        return active_from_record(changelog_record(head, doc), self.catalog)

    async def check_health(self, run: dict[str, Any]) -> None:
        """After a failed run: turn the zap off if it keeps failing, and say why on runs.v1.

        Counted on every fifth failure per zap in this replica, and on the one that first makes
        more than the policy's minimum here: counting runs is a scan on FerretDB (a tenant's burst
        of one-off failures must not scan for every zap), and a zap failing hard still gets turned
        off within a few runs.
        """
        seen = self._failures.get(run["zap_id"], 0) + 1
        self._failures[run["zap_id"]] = seen
        if seen % 5 and seen != self.policy.min_runs + 1:
            return
        now = self.clock.now()
        total, failed = await self.runs.count_outcomes(run["zap_id"], now - self.policy.window)
        if not self.policy.should_disable(total, failed):
            return
        reason = self.policy.reason(total, failed)
        head = await self.store.set_disabled_reason(run["zap_id"], reason, now)
        if head is None:
            return  # already off
        version = await self.store.version(head["_id"], head["version"])
        await self._publish(head, version)
        event = RunEvent(
            run_id=run["_id"],
            tenant=run["tenant"],
            zap_id=run["zap_id"],
            zap_version=run["zap_version"],
            trigger_event_id=run["trigger_event_id"],
            transition=RunTransition.zap_disabled,
            status=RunStatus.failed,
            error={"code": "zap_disabled", "message": reason, "failed": failed, "total": total},
            at=now,
        )
        await self.publisher.send(runs=[(event, 1)])
        log.warning("zap %s %s", run["zap_id"], reason)
        if self.on_disabled is not None:
            await self.on_disabled(run["tenant"], run["zap_id"], f"the zap was turned off: {reason}")
