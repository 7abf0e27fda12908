"""``/v1/catalog``: every trigger, action and search with its schemas (public, no auth)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from kxflow_contracts.catalog import Kind
from zap_router.entrypoints.deps import Services, services

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])
Svc = Annotated[Services, Depends(services)]


@router.get("")
async def list_catalog(svc: Svc, app: str | None = None, kind: Kind | None = None) -> dict[str, Any]:
    return {"items": [e.public() for e in svc.catalog.of(app, kind)]}


@router.get("/{key}")
async def catalog_entry(key: str, svc: Svc) -> dict[str, Any]:
    entry = svc.catalog.find(key)
    if entry is None:
        raise HTTPException(404, f"unknown catalog key {key!r}")
    return entry.public()
