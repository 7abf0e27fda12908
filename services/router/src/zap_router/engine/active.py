"""Build :class:`ActiveZap` objects from stored versions or changelog records, and cache them."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from kxflow_contracts.catalog import Catalog
from zap_router.adapters.zap_store import ZapStore
from zap_router.domain.matching import ActiveZap, MatchIndex
from zap_router.domain.zaps import FilterSpec, ResolvedStep


def changelog_record(head: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """Everything a replica needs to run a zap, as published on ``kxflow.zaps.v1``."""
    spec = version["spec"]
    return {
        "zap_id": head["_id"],
        "tenant": head["tenant"],
        "revision": head["revision"],
        "version": version["version"],
        "enabled": head["enabled"],
        "name": spec["name"],
        "trigger": spec["trigger"],
        "filter": spec.get("filter"),
        "steps": version["steps"],
        "backfill": bool(spec.get("backfill", False)),
    }


def with_defaults(params: dict[str, Any], defaults: dict[str, str]) -> dict[str, Any]:
    """A zap's trigger parameters with the catalog entry's default for each it leaves out or null
    (the one place the router applies ``CatalogEntry.param_defaults``)."""
    return {**params, **{k: v for k, v in defaults.items() if params.get(k) is None}}


def active_from_record(record: dict[str, Any], catalog: Catalog) -> ActiveZap:
    trigger = record["trigger"]
    entry = catalog.find(trigger["event"])
    return ActiveZap(
        zap_id=record["zap_id"],
        tenant=record["tenant"],
        version=int(record["version"]),
        revision=int(record["revision"]),
        name=record["name"],
        trigger_key=trigger["event"],
        connection=trigger["connection"],
        params=with_defaults(dict(trigger.get("params") or {}), entry.param_defaults if entry else {}),
        param_paths=dict(entry.param_fields) if entry else {},
        filter=FilterSpec.model_validate(record["filter"]) if record.get("filter") else None,
        steps=[ResolvedStep.model_validate(s) for s in record["steps"]],
        backfill=bool(record.get("backfill", False)),
        param_lists=dict(entry.param_lists) if entry else {},
    )


class ZapVersions:
    """Any (zap, version) a run needs: from the index when current, else from the store (LRU)."""

    def __init__(self, store: ZapStore, index: MatchIndex, catalog: Catalog, size: int = 2048) -> None:
        self._store = store
        self._index = index
        self._catalog = catalog
        self._cache: OrderedDict[tuple[str, int], ActiveZap] = OrderedDict()
        self._size = size

    async def get(self, zap_id: str, version: int) -> ActiveZap | None:
        current = self._index.get(zap_id)
        if current is not None and current.version == version:
            return current
        key = (zap_id, version)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        doc = await self._store.version(zap_id, version)
        if doc is None:
            return None
        head = {"_id": zap_id, "tenant": doc["tenant"], "revision": -1, "enabled": False}
        zap = active_from_record(changelog_record(head, doc), self._catalog)
        self._cache[key] = zap
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return zap
