"""``/v1/zaps/{zap_id}/draft``: save, show, diff, publish and discard a zap's one draft.

``PUT /v1/zaps/{zap_id}`` keeps its meaning (it saves and publishes at once, as before drafts
existed); a draft is the way to edit without going live.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, Field

from zap_router.domain.zaps import ZapSpec
from zap_router.entrypoints.deps import Services, caller, services, tenant_only

router = APIRouter(prefix="/v1/zaps/{zap_id}/draft", tags=["drafts"])

Caller = Annotated[tuple[str, str], Depends(caller)]
Tenant = Annotated[str, Depends(tenant_only)]
Svc = Annotated[Services, Depends(services)]

NOT_FOUND = {404: {"description": "No such zap for this tenant, or the zap has no draft"}}


class DraftView(BaseModel):
    zap_id: str
    base_version: int = Field(description="The published version the draft was started from")
    published_version: int
    stale: bool = Field(description="True when another version was published after the draft began")
    created_at: Any
    updated_at: Any
    spec: dict[str, Any] = Field(description="The draft zap (connection names resolved to ids)")
    steps: list[dict[str, Any]]


class PublishRequest(BaseModel):
    force: bool = Field(
        default=False, description="Publish even though another version was published after the draft began"
    )


class Change(BaseModel):
    path: str = Field(description="e.g. steps[invoice].input.Status; steps are matched by id")
    op: str = Field(description="added, removed or changed")
    published: Any = None
    draft: Any = None


class DiffView(BaseModel):
    zap_id: str
    published_version: int
    base_version: int
    stale: bool
    changes: list[Change]
    unified: str = Field(description="Unified diff of the two specs as YAML")


@router.get("", response_model=DraftView, responses=NOT_FOUND)
async def get_draft(zap_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """The zap's draft."""
    return await svc.drafts.get(tenant, zap_id)


@router.put(
    "",
    response_model=DraftView,
    responses={**NOT_FOUND, 422: {"description": "The draft is invalid; every problem is listed"}},
)
async def save_draft(zap_id: str, body: ZapSpec, who: Caller, svc: Svc) -> dict[str, Any]:
    """Create or replace the zap's draft. Validated like a publish; the published version keeps
    running until the draft is published."""
    return await svc.drafts.save(who[0], who[1], zap_id, body)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def discard_draft(zap_id: str, tenant: Tenant, svc: Svc) -> Response:
    """Throw the draft away; the published version is untouched."""
    await svc.drafts.discard(tenant, zap_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/publish",
    responses={
        **NOT_FOUND,
        409: {"description": "Another version was published after the draft began (use force)"},
        422: {"description": "The draft is no longer valid (e.g. a connection was removed)"},
    },
)
async def publish_draft(
    zap_id: str, who: Caller, svc: Svc, body: PublishRequest | None = None
) -> dict[str, Any]:
    """Store the draft as the zap's next version and drop the draft; new runs use it, runs
    already started keep their version."""
    return await svc.drafts.publish(who[0], who[1], zap_id, force=bool(body and body.force))


@router.get("/diff", response_model=DiffView, responses=NOT_FOUND)
async def diff_draft(zap_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """What the draft changes against the published version."""
    return await svc.drafts.diff(tenant, zap_id)
