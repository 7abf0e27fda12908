"""``/v1/zaps``: create, read, list, update (new version), versions, enable, disable, delete, dry-run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status
from pydantic import BaseModel, Field

from zap_router.domain.zaps import ZapSpec
from zap_router.engine.dryrun import dry_run
from zap_router.entrypoints.deps import Services, caller, services, tenant_only

router = APIRouter(prefix="/v1/zaps", tags=["zaps"])

Caller = Annotated[tuple[str, str], Depends(caller)]
Tenant = Annotated[str, Depends(tenant_only)]
Svc = Annotated[Services, Depends(services)]


class ZapCreate(ZapSpec):
    enabled: bool = True


class DryRunRequest(BaseModel):
    spec: ZapSpec
    since: datetime | None = Field(default=None, description="Default: 7 days ago")
    until: datetime | None = Field(default=None, description="Default: now")
    limit: int = Field(default=100, ge=1, le=1000)


REPLAY_PAGE = 100  # runs read per store query by a bulk replay


class BulkReplayRequest(BaseModel):
    since: datetime | None = None
    until: datetime | None = None
    status: str = Field(default="failed", pattern="^(failed|halted)$")
    limit: int = Field(default=1000, ge=1, le=10_000)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_zap(body: ZapCreate, who: Caller, svc: Svc) -> dict[str, Any]:
    spec = ZapSpec.model_validate(body.model_dump(exclude={"enabled"}))
    return await svc.zaps.create(who[0], who[1], spec, enabled=body.enabled)


@router.get("")
async def list_zaps(tenant: Tenant, svc: Svc) -> dict[str, Any]:
    drafted = await svc.zaps.store.drafted(tenant)
    return {"items": [{**z, "has_draft": z["id"] in drafted} for z in await svc.zaps.list(tenant)]}


@router.post("/dry-run")
async def dry_run_zap(body: DryRunRequest, who: Caller, svc: Svc) -> dict[str, Any]:
    """Which past events a draft would match and what it would send; emits nothing."""
    spec, steps = await svc.zaps.validate(who[0], who[1], body.spec)
    now = datetime.now(UTC)
    return await dry_run(
        spec=spec,
        steps=steps,
        tenant=who[0],
        catalog=svc.catalog,
        topics=svc.settings.topics,
        reader=svc.reader,
        since=body.since or now - timedelta(days=7),
        until=body.until or now,
        limit=body.limit,
    )


@router.get("/{zap_id}")
async def get_zap(zap_id: str, tenant: Tenant, svc: Svc, version: int | None = None) -> dict[str, Any]:
    return {**await svc.zaps.get(tenant, zap_id, version), "draft": await svc.drafts.summary(tenant, zap_id)}


@router.get("/{zap_id}/versions")
async def zap_versions(zap_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    return {"items": await svc.zaps.versions(tenant, zap_id)}


@router.put("/{zap_id}")
async def update_zap(
    zap_id: str,
    body: ZapSpec,
    who: Caller,
    svc: Svc,
    if_match: Annotated[int | None, Header(description="Expected revision")] = None,
) -> dict[str, Any]:
    """Save and publish a new version at once (a draft is left as it is; see ``/draft``)."""
    return await svc.zaps.update(who[0], who[1], zap_id, body, if_match)


@router.post("/{zap_id}/enable")
async def enable_zap(zap_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    return await svc.zaps.set_enabled(tenant, zap_id, True)


@router.post("/{zap_id}/disable")
async def disable_zap(zap_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    return await svc.zaps.set_enabled(tenant, zap_id, False)


@router.delete("/{zap_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_zap(zap_id: str, tenant: Tenant, svc: Svc) -> Response:
    await svc.zaps.delete(tenant, zap_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{zap_id}/replay")
async def bulk_replay(zap_id: str, body: BulkReplayRequest, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """Replay the failed (or halted) runs of a zap in a time range, from their failed step: at
    most ``limit`` per call, read in pages. ``more`` says runs are left; a replayed run is no
    longer failed, so calling again continues where this call stopped."""
    zap = await svc.zaps.current(tenant, zap_id)
    replayed, refused = [], []
    cursor = None
    more = False
    while (room := body.limit - len(replayed) - len(refused)) > 0:
        page, cursor = await svc.runs.list(
            tenant,
            zap_id=zap_id,
            status=body.status,
            since=body.since,
            until=body.until,
            cursor=cursor,
            limit=min(room, REPLAY_PAGE),
        )
        for run in page[:room]:
            try:
                await svc.engine.replay(run["_id"], tenant, zap)
                replayed.append(run["_id"])
            except ValueError as exc:
                refused.append({"run_id": run["_id"], "reason": str(exc)})
        more = cursor is not None
        if not more:
            break
    return {"replayed": replayed, "refused": refused, "more": more}
