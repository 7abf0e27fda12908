"""The Xero sandbox as a FastAPI app; see the package docstring for the control API."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kxflow_sandboxes.xero import openapi, persist
from kxflow_sandboxes.xero.accounting import NotFound, XeroValidation
from kxflow_sandboxes.xero.api_routes import handle_api
from kxflow_sandboxes.xero.clock import VirtualClock
from kxflow_sandboxes.xero.identity import Identity, InvalidGrant
from kxflow_sandboxes.xero.limits import RateLimiter
from kxflow_sandboxes.xero.state import Org, now, seed_org

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
IDEMPOTENCY_WINDOW = 360.0  # Xero keeps an Idempotency-Key 6 minutes from the first call
LEGACY_SCOPES = {"accounting.transactions", "accounting.transactions.read", "accounting.reports.read"}


@dataclass
class SandboxConfig:
    client_id: str = "kxflow-demo-client"
    client_secret: str = "kxflow-demo-secret-0123456789"
    custom_client_id: str = "kxflow-custom-client"
    custom_client_secret: str = "kxflow-custom-secret-0123456789"
    webhook_key: str = "kxflow-webhook-key-0123456789abcdef"
    webhook_url: str | None = None
    require_pkce: bool = False
    clock_speed: float = 1.0
    per_minute: int = 60
    per_day: int = 5000
    concurrent: int = 5
    app_per_minute: int = 10_000
    granular_scopes_only: bool = True
    orgs: list[tuple[str, str]] = field(default_factory=lambda: [("Acme AU", "AU"), ("Beta NZ", "NZ")])
    validate_openapi: bool = True
    idempotency_window: float = IDEMPOTENCY_WINDOW  # virtual seconds; tests may shorten it
    # Organisations, grants and tokens are read from it at start and written to it at shutdown
    # (xero/persist.py): `make run` keeps it beside FerretDB's data so a restart keeps connections.
    state_file: str | None = None


@dataclass
class Stats:
    requests: int = 0
    api_calls: int = 0
    rate_limited: int = 0
    openapi_rejections: int = 0
    rejection_reasons: list[str] = field(default_factory=list)
    idempotent_replays: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0
    per_tenant: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)  # faults served, by kind


class InjectedFault(BaseModel):
    """Body of ``POST /_sandbox/fail``: the next ``count`` API calls whose path contains
    ``path_contains`` misbehave.

    * ``status`` only: answered with that status, nothing is done (503 if neither status nor delay).
    * ``delay_s`` (+ ``status``): held ``delay_s`` real seconds, then answered ``status`` without
      doing anything — a time-out for a client that gives up sooner.
    * ``delay_s`` only: held ``delay_s``, then handled normally — a slow Xero (the write happens
      after a client with a shorter time-out gave up).
    * ``lose_answer`` + ``delay_s``: handled at once (the write is done and its Idempotency-Key
      stored), then the answer is held ``delay_s`` — "created, but the answer was lost".
    """

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(None, ge=100, le=599)
    count: int = Field(1, ge=1)
    path_contains: str = ""
    delay_s: float = Field(0.0, ge=0, le=600)
    lose_answer: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> InjectedFault:
        if self.lose_answer and self.status is not None:
            raise ValueError("lose_answer performs the request and returns its own answer; drop status")
        if self.lose_answer and self.delay_s <= 0:
            raise ValueError("lose_answer needs delay_s > 0 (how long the answer is held)")
        return self


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = VirtualClock(config.clock_speed)
        self.limits = RateLimiter(config.per_minute, config.per_day, config.concurrent, config.app_per_minute)
        self.identity = Identity()
        self.orgs: dict[str, Org] = {}
        self.stats = Stats()
        self.idempotency: dict[str, tuple[float, str, int, bytes, str]] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=5000)
        self.call_times: dict[str, list[float]] = {}
        self.injected_failures: list[dict[str, Any]] = []
        self.webhooks_enabled = True
        self.pending_events: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        # One client for every delivery (as the Kartra sandbox): a client per delivery built a new
        # TLS context each time, 60% of the sandbox's CPU in the end-to-end benchmark.
        self._http: httpx.AsyncClient | None = None
        for name, country in config.orgs:
            self.add_org(name, country)

    def add_org(self, name: str, country: str = "AU", tenant_id: str | None = None) -> Org:
        org = Org(tenant_id or str(uuid.uuid4()), name, country)
        seed_org(org)
        self.orgs[org.tenant_id] = org
        return org

    def org_named(self, name: str) -> Org:
        return next(o for o in self.orgs.values() if o.name == name)

    # -- webhooks -------------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        digest = hmac.new(self.config.webhook_key.encode(), body, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def emit_webhook(
        self,
        org: Org,
        category: str,
        resource_id: str,
        event_type: str,
        url: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        if not self.config.webhook_url or not self.webhooks_enabled:
            return
        event: dict[str, Any] = {
            "resourceUrl": url,
            "resourceId": resource_id,
            "eventDateUtc": now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
            "eventType": event_type,
            "eventCategory": category,
            "tenantId": org.tenant_id,
            "tenantType": "ORGANISATION",
        }
        if data:
            event["data"] = data
        self._spawn(self.deliver([event]))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, events: list[dict[str, Any]], bad_signature: bool = False) -> int:
        body = json.dumps(
            {
                "events": events,
                "firstEventSequence": 1 if events else 0,
                "lastEventSequence": len(events),
                "entropy": secrets.token_hex(10),
            }
        ).encode()
        signature = self.sign(body if not bad_signature else body + b"x")
        assert self.config.webhook_url
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        try:
            res = await self._http.post(
                self.config.webhook_url,
                content=body,
                headers={"x-xero-signature": signature, "content-type": "application/json"},
            )
            status = res.status_code
        except httpx.HTTPError:
            status = 0
        if status == 200:
            self.stats.webhook_deliveries += 1
        elif not bad_signature:
            self.stats.webhook_failures += 1
        return status

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "Type": None,
            "Title": title,
            "Status": status,
            "Detail": detail,
            "Instance": str(uuid.uuid4()),
            "Extensions": {},
        },
        status_code=status,
    )


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    sandbox = Sandbox(config or SandboxConfig())
    if sandbox.config.validate_openapi:
        openapi.preload()

    if sandbox.config.state_file:
        persist.restore(sandbox, Path(sandbox.config.state_file))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if sandbox.config.state_file:
            persist.save(sandbox, Path(sandbox.config.state_file))
        await sandbox.close()

    app = FastAPI(title="Xero sandbox (kxflow)", docs_url="/_sandbox/docs", lifespan=lifespan)
    app.state.sandbox = sandbox

    # -- identity -------------------------------------------------------------------------------
    @app.get("/identity/connect/authorize")
    async def authorize(request: Request) -> Response:
        q = request.query_params
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") != sandbox.config.client_id or not redirect_uri:
            return PlainTextResponse("unauthorized_client", status_code=400)
        scopes = set(q.get("scope", "").split())
        sep = "&" if "?" in redirect_uri else "?"
        if sandbox.config.granular_scopes_only and scopes & LEGACY_SCOPES:
            return RedirectResponse(
                f"{redirect_uri}{sep}{urlencode({'error': 'invalid_scope', 'state': q.get('state', '')})}"
            )
        challenge = q.get("code_challenge")
        if challenge and q.get("code_challenge_method") != "S256":
            return PlainTextResponse("invalid_request: code_challenge_method must be S256", status_code=400)
        if sandbox.config.require_pkce and not challenge:
            return PlainTextResponse("invalid_request: code_challenge required", status_code=400)
        wanted = q.get("tenants")  # demo/test extension: which organisations the user ticks
        tenant_ids = [t for t in (wanted.split(",") if wanted else sandbox.orgs) if t in sandbox.orgs]
        code = sandbox.identity.authorize(
            tenant_ids,
            q.get("scope", ""),
            redirect_uri,
            sandbox.clock.now(),
            sandbox.config.client_id,
            user=q.get("user", "sandbox-user"),  # test extension: which Xero user consents
            code_challenge=challenge,
        )
        return RedirectResponse(
            f"{redirect_uri}{sep}{urlencode({'code': code, 'state': q.get('state', '')})}", status_code=302
        )

    @app.post("/connect/token")
    async def token(request: Request) -> Response:
        creds = _basic(request)
        form = await request.form()
        grant_type = form.get("grant_type")
        now_v = sandbox.clock.now()
        try:
            if creds == (sandbox.config.custom_client_id, sandbox.config.custom_client_secret):
                if grant_type != "client_credentials":
                    return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
                first = next(iter(sandbox.orgs))
                return JSONResponse(
                    sandbox.identity.client_credentials(
                        first, str(form.get("scope", "")), now_v, sandbox.config.custom_client_id
                    )
                )
            if creds != (sandbox.config.client_id, sandbox.config.client_secret):
                return JSONResponse({"error": "invalid_client"}, status_code=400)
            if grant_type == "authorization_code":
                verifier = form.get("code_verifier")
                out = sandbox.identity.exchange_code(
                    str(form.get("code")),
                    str(form.get("redirect_uri")),
                    now_v,
                    str(verifier) if verifier is not None else None,
                )
            elif grant_type == "refresh_token":
                out = sandbox.identity.refresh_grant(str(form.get("refresh_token")), now_v)
            else:
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        except InvalidGrant:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(out)

    @app.post("/connect/revocation")
    async def revocation(request: Request) -> Response:
        form = await request.form()
        rt = sandbox.identity.refresh.get(str(form.get("token")))
        if rt is not None:
            sandbox.identity.grants[rt.grant_id].revoked = True
        return Response(status_code=200)

    # -- control API ----------------------------------------------------------------------------
    @app.get("/_sandbox/stats")
    async def stats() -> dict[str, Any]:
        s = sandbox.stats
        return {
            "requests": s.requests,
            "api_calls": s.api_calls,
            "rate_limited": s.rate_limited,
            "openapi_rejections": s.openapi_rejections,
            "rejection_reasons": s.rejection_reasons[-20:],
            "idempotent_replays": s.idempotent_replays,
            "refresh_calls": sandbox.identity.refresh_calls,
            "token_calls": sandbox.identity.token_calls,
            "webhook_deliveries": s.webhook_deliveries,
            "webhook_failures": s.webhook_failures,
            "per_tenant": s.per_tenant,
            "injected_faults": s.injected,
            "clock": {"speed": sandbox.clock.speed, "now": sandbox.clock.now()},
        }

    @app.get("/_sandbox/calls/{tenant_id}")
    async def calls(tenant_id: str) -> dict[str, Any]:
        """Virtual times of this organisation's accepted API calls (budget-utilisation checks)."""
        return {"times": sandbox.call_times.get(tenant_id, [])}

    @app.get("/_sandbox/requests")
    async def requests_log(limit: int = 200) -> list[dict[str, Any]]:
        """The last ``limit`` API requests (``at``: wall time received, ``ms``: time answering)."""
        return list(sandbox.log)[-limit:]

    @app.post("/_sandbox/clock")
    async def clock(body: dict[str, float]) -> dict[str, float]:
        if "speed" in body:
            sandbox.clock.set_speed(float(body["speed"]))
        if "advance" in body:
            sandbox.clock.advance(float(body["advance"]))
        return {"speed": sandbox.clock.speed, "now": sandbox.clock.now()}

    @app.get("/_sandbox/orgs")
    async def orgs() -> list[dict[str, str]]:
        return [
            {"tenantId": o.tenant_id, "name": o.name, "country": o.country} for o in sandbox.orgs.values()
        ]

    @app.post("/_sandbox/orgs")
    async def add_org(body: dict[str, str]) -> dict[str, str]:
        org = sandbox.add_org(body["name"], body.get("country", "AU"), body.get("tenantId"))
        return {"tenantId": org.tenant_id, "name": org.name}

    @app.post("/_sandbox/orgs/{tenant_id}/limits")
    async def org_limits(tenant_id: str, body: dict[str, int]) -> dict[str, int]:
        sandbox.limits.set_daily_limit(tenant_id, int(body["per_day"]))
        return body

    @app.post("/_sandbox/orgs/{tenant_id}/payruns")
    async def post_pay_run(tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        from kxflow_sandboxes.xero.payroll import post_pay_run as make

        return make(sandbox.orgs[tenant_id], body)

    @app.post("/_sandbox/revoke")
    async def revoke(body: dict[str, str] | None = None) -> dict[str, int]:
        return {"revoked": sandbox.identity.revoke((body or {}).get("tenantId"))}

    @app.post("/_sandbox/fail")
    async def fail(body: InjectedFault) -> dict[str, int]:
        """Inject failures: ``{"status": 503, "count": 2, "path_contains": "/Invoices"}``, time-outs
        ``{"status": 504, "delay_s": 8}`` and lost answers ``{"lose_answer": true, "delay_s": 8}``."""
        sandbox.injected_failures.append(body.model_dump(exclude_none=True, exclude_defaults=True))
        return {"queued": len(sandbox.injected_failures)}

    @app.post("/_sandbox/webhooks")
    async def webhooks_config(body: dict[str, Any]) -> dict[str, Any]:
        if "url" in body:
            sandbox.config.webhook_url = body["url"]
        if "enabled" in body:
            sandbox.webhooks_enabled = bool(body["enabled"])
        return {"url": sandbox.config.webhook_url, "enabled": sandbox.webhooks_enabled}

    @app.post("/_sandbox/webhooks/itr")
    async def itr() -> dict[str, Any]:
        """Xero's intent-to-receive: one good and one badly signed empty batch; the receiver passes
        when it answers 200 and 401."""
        good = await sandbox.deliver([])
        bad = await sandbox.deliver([], bad_signature=True)
        return {
            "good_signature_status": good,
            "bad_signature_status": bad,
            "passed": good == 200 and bad == 401,
        }

    # -- the APIs -------------------------------------------------------------------------------
    @app.api_route("/Connections", methods=["GET"])
    async def connections(request: Request) -> Response:
        sandbox.stats.requests += 1
        record, detail = sandbox.identity.check(_bearer(request), sandbox.clock.now())
        if record is None:
            return _problem(401, "Unauthorized", detail)
        names = {t: o.name for t, o in sandbox.orgs.items()}
        event = request.query_params.get("authEventId")
        return JSONResponse(sandbox.identity.connections(record.grant_id, names, event))

    @app.api_route("/{api:path}", methods=["GET", "PUT", "POST", "DELETE", "PATCH"])
    async def api(request: Request, api: str) -> Response:
        return await _api(sandbox, request)

    return app


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _api(sandbox: Sandbox, request: Request) -> Response:
    sandbox.stats.requests += 1
    path = request.url.path
    if not any(
        path.startswith(p)
        for p in ("/api.xro/2.0/", "/payroll.xro/1.0/", "/projects.xro/2.0/", "/files.xro/1.0/")
    ):
        return PlainTextResponse(NOT_FOUND_TEXT, status_code=404)
    now_v = sandbox.clock.now()
    record, detail = sandbox.identity.check(_bearer(request), now_v)
    if record is None:
        return _problem(401, "Unauthorized", detail)
    tenant_id = request.headers.get("xero-tenant-id", "")
    org = sandbox.orgs.get(tenant_id)
    if org is None or tenant_id not in record.tenant_ids:
        return _problem(403, "Forbidden", "AuthenticationUnsuccessful")
    refusal = sandbox.limits.acquire(tenant_id, now_v)
    if refusal is not None:
        sandbox.stats.rate_limited += 1
        headers = sandbox.limits.headers(tenant_id, now_v)
        headers.update({"Retry-After": str(refusal.retry_after), "X-Rate-Limit-Problem": refusal.problem})
        return PlainTextResponse("oauth_problem=rate%20limit%20exceeded", status_code=429, headers=headers)
    request.state.app_id = sandbox.identity.app_of(record)
    sandbox.call_times.setdefault(tenant_id, []).append(now_v)
    sandbox.stats.api_calls += 1
    sandbox.stats.per_tenant[tenant_id] = sandbox.stats.per_tenant.get(tenant_id, 0) + 1
    started = time.perf_counter()
    try:
        body = await request.body()
        response = await _api_inner(sandbox, request, org, body)
    finally:
        sandbox.limits.release(tenant_id)
        entry = getattr(request.state, "log_entry", None)
        if entry is not None:  # the time spent answering, for make bench's cost table
            entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
    for k, v in sandbox.limits.headers(tenant_id, sandbox.clock.now()).items():
        response.headers[k] = v
    # A lost answer is held after the concurrency slot is released, as a response lost on the way
    # back would be: the client times out, Xero has long finished.
    hold = getattr(request.state, "hold_answer_s", 0.0)
    if hold:
        await asyncio.sleep(hold)  # a slow Xero answer is the fault being simulated
    return response


def _take_fault(sandbox: Sandbox, path: str) -> dict[str, Any] | None:
    """The first injected fault matching ``path``, with one use consumed."""
    for failure in list(sandbox.injected_failures):
        if failure.get("path_contains", "") in path and failure.get("count", 1) > 0:
            failure["count"] = failure.get("count", 1) - 1
            if failure["count"] <= 0:
                sandbox.injected_failures.remove(failure)
            return failure
    return None


async def _api_inner(sandbox: Sandbox, request: Request, org: Org, body: bytes) -> Response:
    path = request.url.path
    method = request.method
    key = request.headers.get("idempotency-key")
    entry = {
        "method": method,
        "path": path,
        "query": request.url.query,
        "idempotency_key": key,
        "tenant": org.tenant_id,
        "accept": request.headers.get("accept"),
        "at": time.time(),  # wall clock, as Kafka record timestamps (make bench's hop breakdown)
    }
    sandbox.log.append(entry)
    request.state.log_entry = entry
    fault = _take_fault(sandbox, path)
    if fault is not None:
        delay = float(fault.get("delay_s", 0))
        if fault.get("lose_answer"):
            _count_fault(sandbox, "lost_answer")
            request.state.hold_answer_s = delay
        else:
            if delay:
                await asyncio.sleep(delay)  # the injected latency fault itself
            if "status" in fault or not delay:
                _count_fault(sandbox, "timeout" if delay else "status")
                return PlainTextResponse("Service Unavailable", status_code=int(fault.get("status", 503)))
            _count_fault(sandbox, "slow")
    if sandbox.config.validate_openapi:
        reason = openapi.validate(
            method,
            path,
            list(request.query_params.multi_items()),
            dict(request.headers),
            body,
            request.headers.get("content-type", ""),
        )
        if reason is not None:
            sandbox.stats.openapi_rejections += 1
            sandbox.stats.rejection_reasons.append(f"{method} {path}: {reason}")
            return JSONResponse(
                {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": reason}, status_code=400
            )
    fingerprint = hashlib.sha256(
        method.encode() + path.encode() + str(request.query_params).encode() + body
    ).hexdigest()
    now_v = sandbox.clock.now()
    if key and method != "GET":
        cached = sandbox.idempotency.get(key)
        if cached is not None and cached[0] > now_v:
            if cached[1] != fingerprint:
                return JSONResponse(
                    {
                        "ErrorNumber": 10,
                        "Type": "ValidationException",
                        "Message": f"Idempotency key {key} is used with a different request",
                    },
                    status_code=400,
                )
            sandbox.stats.idempotent_replays += 1
            return Response(cached[3], status_code=cached[2], media_type=cached[4] or None)
    try:
        response = await handle_api(sandbox, request, org, body)
    except XeroValidation as exc:
        response = JSONResponse(exc.body(), status_code=400)
    except NotFound:
        response = PlainTextResponse(NOT_FOUND_TEXT, status_code=404)
    if key and method != "GET":
        raw = bytes(response.body) if hasattr(response, "body") else b""
        sandbox.idempotency[key] = (
            now_v + sandbox.config.idempotency_window,
            fingerprint,
            response.status_code,
            raw,
            response.media_type or "",
        )
    return response


def _count_fault(sandbox: Sandbox, kind: str) -> None:
    sandbox.stats.injected[kind] = sandbox.stats.injected.get(kind, 0) + 1
