"""HTTP routes: OAuth connect/callback, the Xero webhook, connections."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from fastapi import APIRouter, Cookie, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from kxflow_contracts.runtime.http import MAX_WEBHOOK_BODY_BYTES
from xero_gateway.domain.oauth import BROWSER_COOKIE, OAuthRefused
from xero_gateway.domain.polls import BACKFILLS
from xero_gateway.domain.signature import verify
from xero_gateway.domain.webhooks import parse_batch
from xero_gateway.entrypoints.deps import (
    Backfilling,
    CallScheduler,
    Connect,
    GatewayMetrics,
    RawPublisher,
    Settings,
    Tenant,
)
from xero_gateway.service_layer.backfills import BackfillError
from xero_gateway.service_layer.connect import ConnectService, CustomConnectionRefused


class DailyLimit(BaseModel):
    per_day: int | None = Field(
        default=None, ge=1, description="Lower tier (e.g. 1000 for Starter); null = default"
    )


class BackfillRequest(BaseModel):
    connection_id: str
    resource: str = Field(description=f"One of {sorted(BACKFILLS)}")
    since: datetime = Field(description="Records created or changed since this time (UTC if no zone)")


router = APIRouter()


def bind_browser(response: Response, nonce: str, secure: bool) -> None:
    """The browser that starts the flow gets the nonce; the callback must bring it back."""
    response.set_cookie(
        BROWSER_COOKIE,
        nonce,
        max_age=3600,
        path="/v1/xero/callback",
        httponly=True,
        secure=secure,
        samesite="lax",  # sent on Xero's top-level redirect back, not on cross-site posts
    )


def _secure(connect: ConnectService) -> bool:
    return connect.redirect_uri.startswith("https://")


@router.get("/v1/xero/connect", tags=["connections"])
async def start_connect(tenant: Tenant, connect: Connect) -> RedirectResponse:
    """Redirects to Xero's consent page; Xero comes back to ``/v1/xero/callback`` in the same
    browser (the state is bound to it by a cookie)."""
    url, nonce = await connect.start(tenant)
    response = RedirectResponse(url, status_code=302)
    bind_browser(response, nonce, _secure(connect))
    return response


@router.post("/v1/xero/connect", tags=["connections"])
async def start_connect_json(response: Response, tenant: Tenant, connect: Connect) -> dict[str, str]:
    """The consent URL as JSON; the cookie binding the flow is set on *this* client, so the
    callback must come back through it."""
    url, nonce = await connect.start(tenant)
    bind_browser(response, nonce, _secure(connect))
    return {"authorize_url": url}


@router.get("/v1/xero/callback", tags=["connections"])
async def callback(
    response: Response,
    connect: Connect,
    state: str = "",
    code: str = "",
    error: str = "",
    browser: str | None = Cookie(default=None, alias=BROWSER_COOKIE),
) -> dict[str, Any]:
    if error:
        raise HTTPException(400, f"Xero refused the authorisation: {error}")
    if not state or not code:
        raise HTTPException(400, "the callback needs both code and state")
    try:
        conns = await connect.complete(state, code, browser)
    except OAuthRefused as exc:
        raise HTTPException(400, str(exc)) from None
    response.delete_cookie(BROWSER_COOKIE, path="/v1/xero/callback")
    return {"connections": [c.public() for c in conns]}


@router.post("/v1/xero/custom-connection", tags=["connections"])
async def custom_connection(tenant: Tenant, connect: Connect) -> dict[str, Any]:
    """Custom connection (client credentials, single organisation)."""
    try:
        conns = await connect.custom(tenant)
    except CustomConnectionRefused as exc:
        raise HTTPException(403, str(exc)) from None
    except httpx.HTTPStatusError as exc:  # Xero refused this app's client-credentials grant
        raise HTTPException(
            400,
            f"Xero refused the client-credentials grant (HTTP {exc.response.status_code}): "
            "is this app a Xero custom connection?",
        ) from None
    return {"connections": [c.public() for c in conns]}


@router.get("/v1/connections", tags=["connections"])
async def list_connections(tenant: Tenant, connect: Connect) -> list[dict[str, Any]]:
    return [c.public() for c in await connect.repos.list(tenant)]


@router.get("/v1/connections/budget", tags=["connections"])
async def budget(tenant: Tenant, connect: Connect, scheduler: CallScheduler) -> list[dict[str, Any]]:
    """The Xero call budget each of the tenant's organisations has used (minute and day) and
    its limits, waiting calls and 429s so far, from the per-organisation scheduler."""
    out = []
    for conn in await connect.repos.list(tenant):
        usage = await scheduler.usage(conn.xero_tenant_id)
        out.append(
            {"id": conn.connection_id, "name": conn.name, "xero_tenant_id": conn.xero_tenant_id, **usage}
        )
    return out


@router.put("/v1/connections/{connection_id}/daily-limit", tags=["connections"])
async def daily_limit(
    connection_id: str, body: DailyLimit, tenant: Tenant, connect: Connect
) -> dict[str, Any]:
    if not await connect.set_daily_limit(tenant, connection_id, body.per_day):
        raise HTTPException(404, f"no connection {connection_id!r}")
    return {"id": connection_id, "daily_limit": body.per_day}


@router.post("/v1/webhooks/xero", tags=["webhooks"], status_code=200, max_body_size=MAX_WEBHOOK_BODY_BYTES)
async def xero_webhook(
    request: Request, settings: Settings, publisher: RawPublisher, metrics: GatewayMetrics
) -> Response:
    """Signature over the raw body; 401 on a bad one (intent-to-receive included); the raw batch
    is on Kafka before the 200; hydration happens afterwards."""
    body = await request.body()
    if not verify(settings.webhook_key, body, request.headers.get("x-xero-signature")):
        return Response(status_code=401)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return Response(status_code=400, content=b"body is not JSON (or nested too deeply)")
    events = parse_batch(payload) if isinstance(payload, dict) else []
    if events:
        try:
            await publisher.raw_webhook(body, events[0].tenant_id, {"ce_source": "/xero-gateway/webhooks"})
        except Exception:
            return Response(status_code=503)
    metrics.webhook_events.inc(len(events))
    return Response(status_code=200)


@router.post("/v1/backfills", tags=["backfills"], status_code=202)
async def create_backfill(body: BackfillRequest, tenant: Tenant, backfills: Backfilling) -> dict[str, Any]:
    """Emit every record of ``resource`` changed since ``since`` at the lowest priority, with
    ``origin=backfill``; poll ``GET /v1/backfills/{id}`` for progress."""
    try:
        return await backfills.create(tenant, body.connection_id, body.resource, body.since)
    except BackfillError as exc:
        raise HTTPException(422, str(exc)) from None
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/v1/backfills/{job_id}", tags=["backfills"])
async def get_backfill(job_id: str, tenant: Tenant, backfills: Backfilling) -> dict[str, Any]:
    job = await backfills.get(tenant, job_id)
    if job is None:
        raise HTTPException(404, f"no backfill {job_id!r}")
    return job
