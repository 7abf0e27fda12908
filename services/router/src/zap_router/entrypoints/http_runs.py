"""``/v1/runs``: run history (filter by zap, status, time; cursor pagination), one run, replay, cancel."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from kxflow_contracts.runs import RUN_STATES
from zap_router.engine.runner import RunNotFound
from zap_router.entrypoints.deps import Services, public_run, services, tenant_only

router = APIRouter(prefix="/v1/runs", tags=["runs"])

Tenant = Annotated[str, Depends(tenant_only)]
RunState = Enum("RunState", {s: s for s in RUN_STATES}, type=str)  # type: ignore[misc]
Svc = Annotated[Services, Depends(services)]


@router.get("")
async def list_runs(
    tenant: Tenant,
    svc: Svc,
    zap_id: str | None = None,
    status: RunState | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Newest first. ``next_cursor`` is set when there are more runs."""
    items, next_cursor = await svc.runs.list(
        tenant,
        zap_id=zap_id,
        status=status.value if status else None,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return {"items": [public_run(r) for r in items], "next_cursor": next_cursor}


class CancelRequest(BaseModel):
    """Which runs to cancel: the tenant's running and waiting runs, narrowed by these."""

    zap_id: str | None = None
    status: Literal["running", "waiting"] | None = Field(default=None, description="default: both")
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)


@router.post("/cancel")
async def cancel_runs(body: CancelRequest, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """Cancel many runs by query; ``{"cancelled": n, "skipped": m}`` (skipped: finished meanwhile)."""
    return await svc.engine.cancel_many(
        tenant,
        zap_id=body.zap_id,
        status=body.status,
        since=body.since,
        until=body.until,
        limit=body.limit,
    )


@router.get("/{run_id}")
async def get_run(run_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """One run with its trigger event and every step's input, output, error, attempts and timings."""
    run = await svc.runs.get(run_id, tenant)
    if run is None:
        raise RunNotFound(run_id)
    return public_run(run)


@router.post("/{run_id}/replay")
async def replay_run(run_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """Re-run a failed run from its failed step with the zap's current version (same command ids)."""
    run = await svc.runs.get(run_id, tenant)
    if run is None:
        raise RunNotFound(run_id)
    zap = await svc.zaps.current(tenant, run["zap_id"])
    return public_run(await svc.engine.replay(run_id, tenant, zap))


@router.post("/{run_id}/cancel")
async def cancel_run(run_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """Cancel a running or waiting run (409 otherwise); a command already sent still finishes."""
    return public_run(await svc.engine.cancel(run_id, tenant))
