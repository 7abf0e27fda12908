"""``/v1/runs``: run history (filter by zap, status, time; cursor pagination), one run, replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from kxflow_contracts.runs import RunStatus
from zap_router.engine.runner import RunNotFound
from zap_router.entrypoints.deps import Services, public_run, services, tenant_only

router = APIRouter(prefix="/v1/runs", tags=["runs"])

Tenant = Annotated[str, Depends(tenant_only)]
Svc = Annotated[Services, Depends(services)]


@router.get("")
async def list_runs(
    tenant: Tenant,
    svc: Svc,
    zap_id: str | None = None,
    status: RunStatus | None = None,
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
