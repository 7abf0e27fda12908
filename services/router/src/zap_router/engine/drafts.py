"""Drafts (DESIGN.md §4.1): a zap has one published version and at most one draft.

A draft is validated like a save (422 with every problem) but runs nothing: the published version
keeps matching events until the draft is published, which stores it as the next immutable version
(the same path as ``PUT /v1/zaps/{id}``) and drops the draft. Runs keep the version they started on.

A draft remembers the version it was based on; publishing a draft whose base is no longer the
published version (someone published or PUT meanwhile) is refused unless forced, so an edit is
never silently lost.
"""

from __future__ import annotations

from typing import Any

from zap_router.adapters.zap_store import ZapStore
from zap_router.domain.diff import spec_changes, unified
from zap_router.domain.zaps import ZapSpec
from zap_router.engine.zaps import ZapConflict, ZapNotFound, ZapService


class DraftNotFound(LookupError):
    pass


def draft_view(doc: dict[str, Any], published_version: int) -> dict[str, Any]:
    return {
        "zap_id": doc["_id"],
        "base_version": doc["base_version"],
        "published_version": published_version,
        "stale": doc["base_version"] != published_version,
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "spec": doc["spec"],
        "steps": doc["steps"],
    }


class Drafts:
    def __init__(self, zaps: ZapService, store: ZapStore) -> None:
        self.zaps = zaps
        self.store = store

    async def _head(self, tenant: str, zap_id: str) -> dict[str, Any]:
        head = await self.store.head(zap_id, tenant)
        if head is None:
            raise ZapNotFound(zap_id)
        return head

    async def _draft(self, tenant: str, zap_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        head = await self._head(tenant, zap_id)
        doc = await self.store.draft(zap_id, tenant)
        if doc is None:
            raise DraftNotFound(f"zap {zap_id} has no draft")
        return head, doc

    async def get(self, tenant: str, zap_id: str) -> dict[str, Any]:
        head, doc = await self._draft(tenant, zap_id)
        return draft_view(doc, head["version"])

    async def summary(self, tenant: str, zap_id: str) -> dict[str, Any] | None:
        """What the zap's view says of its draft (``None``: no draft)."""
        doc = await self.store.draft(zap_id, tenant)
        if doc is None:
            return None
        return {"base_version": doc["base_version"], "updated_at": doc["updated_at"]}

    async def save(self, tenant: str, token: str, zap_id: str, spec: ZapSpec) -> dict[str, Any]:
        """Create or replace the draft; validated like a published save (ZapInvalid → 422)."""
        head = await self._head(tenant, zap_id)
        resolved, steps = await self.zaps.validate(tenant, token, spec)
        existing = await self.store.draft(zap_id, tenant)
        now = self.zaps.clock.now()
        doc = {
            "_id": zap_id,
            "tenant": tenant,
            # A draft keeps the base it was started from: re-saving does not hide that the
            # published version moved on meanwhile.
            "base_version": existing["base_version"] if existing else head["version"],
            "spec": resolved.model_dump(mode="json"),
            "steps": steps,
            "created_at": existing["created_at"] if existing else now,
            "updated_at": now,
        }
        await self.store.save_draft(doc)
        return draft_view(doc, head["version"])

    async def discard(self, tenant: str, zap_id: str) -> None:
        await self._draft(tenant, zap_id)
        await self.store.delete_draft(zap_id)

    async def publish(self, tenant: str, token: str, zap_id: str, force: bool = False) -> dict[str, Any]:
        """Store the draft as the zap's next version (re-validated: a connection may be gone)."""
        head, doc = await self._draft(tenant, zap_id)
        if doc["base_version"] != head["version"] and not force:
            raise ZapConflict(
                f"the draft was based on version {doc['base_version']} but version {head['version']} "
                "is published now; look at the diff, then publish with force to replace it"
            )
        zap = await self.zaps.update(
            tenant, token, zap_id, ZapSpec.model_validate(doc["spec"]), head["revision"]
        )
        await self.store.delete_draft(zap_id, doc["updated_at"])
        return zap

    async def diff(self, tenant: str, zap_id: str) -> dict[str, Any]:
        head, doc = await self._draft(tenant, zap_id)
        published = await self.store.version(zap_id, head["version"])
        if published is None:
            raise ZapNotFound(f"{zap_id} version {head['version']}")
        return {
            "zap_id": zap_id,
            "published_version": head["version"],
            "base_version": doc["base_version"],
            "stale": doc["base_version"] != head["version"],
            "changes": [c.model_dump() for c in spec_changes(published["spec"], doc["spec"])],
            "unified": unified(published["spec"], doc["spec"], f"published v{head['version']}", "draft"),
        }
