"""``/v1/zaps/{zap_id}/catchups``: run a zap over a past window of its trigger topic, as a
background job with progress to poll (DESIGN.md §4.1 catch-up)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from zap_router.entrypoints.deps import Services, services, tenant_only

router = APIRouter(prefix="/v1/zaps/{zap_id}/catchups", tags=["catch-up"])

Tenant = Annotated[str, Depends(tenant_only)]
Svc = Annotated[Services, Depends(services)]


class CatchupRequest(BaseModel):
    since: datetime = Field(description="Start of the window (Kafka record time, inclusive)")
    until: datetime | None = Field(default=None, description="End of the window (exclusive); default now")
    dry_run: bool = Field(default=False, description="Count what would start; start nothing")


class CatchupCounts(BaseModel):
    scanned: int = Field(description="Events of the zap's trigger, connection and parameters in the window")
    started: int = Field(description="Runs started (with dry_run: would start)")
    skipped: int = Field(description="Events that already had a run of this zap")
    filtered: int = Field(description="Runs recorded filtered by the zap's filter")
    failed: int = Field(description="Events whose run failed at its start or could not be processed")
    ignored: int = Field(description="Backfilled events, for a zap without backfill: true")


class CatchupView(BaseModel):
    id: str
    zap_id: str
    zap_version: int = Field(description="The published version the catch-up runs")
    since: datetime
    until: datetime
    dry_run: bool
    status: str = Field(description="running, succeeded, failed, cancelled or interrupted")
    counts: CatchupCounts
    position: int = Field(description="Records of the window read so far (every tenant's)")
    total: int = Field(description="Records in the window")
    progress: float = Field(description="position / total")
    problems: list[dict[str, str]] = Field(description="Up to 20 events that could not start, with why")
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class CatchupList(BaseModel):
    items: list[CatchupView]


NOT_FOUND = {404: {"description": "No such zap (or catch-up) for this tenant"}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CatchupView,
    responses={
        **NOT_FOUND,
        409: {"description": "The zap is off, the window is empty, or a catch-up of it is running"},
    },
)
async def start_catchup(zap_id: str, body: CatchupRequest, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """Start running the zap's published version over the window; events that already have a run
    of this zap are skipped. Poll the answer's id for progress."""
    return await svc.catchups.start(tenant, zap_id, body.since, body.until, body.dry_run)


@router.get("", response_model=CatchupList, responses=NOT_FOUND)
async def list_catchups(zap_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """The zap's catch-ups, newest first."""
    return {"items": await svc.catchups.list(tenant, zap_id)}


@router.get("/{catchup_id}", response_model=CatchupView, responses=NOT_FOUND)
async def get_catchup(zap_id: str, catchup_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """One catch-up: status, counts and progress."""
    return await svc.catchups.get(tenant, zap_id, catchup_id)


@router.post(
    "/{catchup_id}/cancel",
    response_model=CatchupView,
    responses={**NOT_FOUND, 409: {"description": "The catch-up is not running"}},
)
async def cancel_catchup(zap_id: str, catchup_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """Stop after the page being read; runs already started go on."""
    return await svc.catchups.cancel(tenant, zap_id, catchup_id)
