"""HTTP face of the fake Kartra: ``POST /api`` (and ``/api/``), the ``/_sandbox`` control API, and
outbound webhooks/IPN posts to the URLs registered for an App when its state changes."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import httpx
import qs_codec
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kxflow_sandboxes.kartra.commands import Event, run_command
from kxflow_sandboxes.kartra.state import Account, KartraError, Lead

RATE_LIMIT = 20  # calls per second per App (reference §1.5)


class Sandbox:
    """All Apps, the call log, and outbound delivery (awaitable, for deterministic tests)."""

    def __init__(self, rate_limit: int = RATE_LIMIT) -> None:
        self.accounts: dict[str, Account] = {}
        self.call_log: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.rate_limit = rate_limit
        self._http = httpx.AsyncClient(timeout=10.0)
        self._pending: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        await self.drain()
        await self._http.aclose()

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def account(self, app_id: str) -> Account:
        acc = self.accounts.get(app_id)
        if acc is None:
            raise HTTPException(404, f"no sandbox app {app_id!r}")
        return acc

    # ------------------------------------------------------------------ outbound

    def outbound_body(self, acc: Account, action: str, lead: Lead, details: dict[str, Any]) -> dict[str, Any]:
        return {"lead": acc.lead_block(lead), "action": action, "action_details": details}

    def ipn_fields(self, acc: Account, lead: Lead, tx: dict[str, Any]) -> dict[str, str]:
        na = "N/A"
        fields = {
            "transaction_id": tx["transaction_id"],
            "transaction_full_amount": f"{tx['transaction_full_amount']:.2f}",
            "transaction_base_amount": f"{tx['transaction_full_amount']:.2f}",
            "transaction_discount": "0",
            "transaction_shipping": "0",
            "transaction_tax": "0",
            "transaction_date": tx["transaction_date"],
            "transaction_type": tx["transaction_type"],
            "transaction_parent_id": tx.get("parent_id") or "0",
            "transaction_affiliate": na,
            "transaction_jv": na,
            "transaction_quantity": str(tx["transaction_quantity"]),
            "transaction_subscription_id": na,
            "transaction_internal_subscription_id": tx.get("subscription_id") or na,
            "transaction_subscription_pay_number": na,
            "transaction_last_4_card_digits": "4242",
            "original_id": "0",
            "product_name": tx["product_name"],
            "product_id": tx["product_id"],
            "product_price_point": tx["product_price_point"],
            "trial": "0",
            "trial_amount": na,
            "trial_period": na,
            "payments_left": "0",
            "lead_id": str(lead.id),
            "lead_first_name": lead.fields.get("first_name") or na,
            "lead_last_name": lead.fields.get("last_name") or na,
            "lead_email": lead.email,
            "lead_username": na,
            "lead_country": lead.fields.get("country") or na,
            "secret_key": acc.ipn_secret or "",
            "vendor_tracking_id_1": na,
            "vendor_tracking_id_2": na,
            "vendor_tracking_link": na,
            "gdpr_lead_status": "1",
        }
        return fields

    async def _deliver(self, url: str, kind: str, action: str, **kwargs: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"url": url, "kind": kind, "action": action, "status": None, "error": None}
        try:
            resp = await self._http.post(url, **kwargs)
            record["status"] = resp.status_code
        except httpx.HTTPError as exc:
            record["error"] = type(exc).__name__
        self.deliveries.append(record)
        return record

    def fire(self, acc: Account, events: list[Event]) -> list[asyncio.Task[dict[str, Any]]]:
        """Send each event to every registered URL (in the background, like Kartra)."""
        tasks = []
        for action, lead, details in events:
            if action == "ipn":
                if acc.ipn_url:
                    body = self.ipn_fields(acc, lead, details)
                    tasks.append(
                        self._spawn(self._deliver(acc.ipn_url, "ipn", details["transaction_type"], data=body))
                    )
                continue
            payload = json.dumps(self.outbound_body(acc, action, lead, details))
            for url in acc.webhook_urls:
                headers = {"content-type": "application/json"}
                tasks.append(
                    self._spawn(self._deliver(url, "outbound", action, content=payload, headers=headers))
                )
        return tasks

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    # ------------------------------------------------------------------ inbound API

    def _rate_limited(self, acc: Account) -> bool:
        now = time.monotonic()
        while acc.window and acc.window[0] <= now - 1.0:
            acc.window.popleft()
        if len(acc.window) >= self.rate_limit:
            acc.rate_limited += 1
            return True
        acc.window.append(now)
        return False

    def handle_api(
        self, form: dict[str, Any], secure: bool
    ) -> tuple[int, dict[str, Any], list[Event], Account | None]:
        acc = self.accounts.get(str(form.get("app_id") or ""))
        if acc is not None and self._rate_limited(acc):
            return 429, {"status": "Error", "message": "Too many requests", "type": "429"}, [], acc
        try:
            if not secure:
                raise KartraError("201", "Connection not secure")
            if not form.get("api_key"):
                raise KartraError("202", "API key cannot be empty. Please get an API key first")
            owner = next((a for a in self.accounts.values() if a.api_key == form["api_key"]), None)
            if owner is None:
                raise KartraError("203", "API key not valid. Please get an API key first")
            if form.get("api_password") != owner.api_password:
                raise KartraError("233", "API password not valid. Please get an API password first")
            if not form.get("app_id"):
                raise KartraError("238", "App Id cannot be empty. Please get an App Id first")
            if acc is None:
                raise KartraError("239", "App Id is not valid. The app does not exists or is inactive")
        except KartraError as exc:
            return 200, exc.body(), [], acc
        acc = owner
        acc.calls += 1
        if "get_lead" in form:
            try:
                lead = acc.resolve(form["get_lead"], not_found="234")
            except KartraError as exc:
                if exc.type == "223":
                    exc = KartraError("236", "'get_lead' not an array")
                return 200, exc.body(), [], acc
            return 200, {"status": "Success", "lead_details": acc.lead_block(lead)}, [], acc
        actions = form.get("actions")
        if not isinstance(actions, list):
            return 200, KartraError("224", "'actions' not an array").body(), [], acc
        results: list[dict[str, Any]] = []
        events: list[Event] = []
        for action in actions:
            cmd = str((action or {}).get("cmd") or "")
            try:
                answer, fired = run_command(acc, action or {}, form.get("lead"))
            except KartraError as exc:
                # The chain stops at the first error; the error is flat and also in its slot.
                results.append({cmd: exc.body()})
                return 200, {**exc.body(), "actions": results}, events, acc
            results.append({cmd: answer})
            events.extend(fired)
        body: dict[str, Any] = {"status": "Success", "actions": results}
        if len(results) == 1:  # single account-level answers are also documented flat
            only = next(iter(results[0].values()))
            body.update({k: v for k, v in only.items() if k.startswith(("account_", "custom_fields"))})
        return 200, body, events, acc


class AppCreate(BaseModel):
    app_id: str | None = None
    api_key: str | None = None
    api_password: str | None = None
    test_mode: bool = False


class WebhookRegistration(BaseModel):
    app_id: str
    url: str | None = None
    ipn_url: str | None = None
    ipn_secret: str | None = None


class Purchase(BaseModel):
    app_id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    product_id: str = "223"
    price_point: str = "2"
    amount: float | None = None
    quantity: int = 1
    recurring: bool = False


class Simulated(BaseModel):
    app_id: str
    action: str
    email: str
    action_details: dict[str, Any] = {}


def create_app(sandbox: Sandbox | None = None, require_https: bool = False) -> FastAPI:
    """The sandbox ASGI app; ``app.state.sandbox`` is the state, for in-process tests."""
    sandbox = sandbox or Sandbox()

    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        yield
        await sandbox.close()

    app = FastAPI(title="Kartra sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox

    async def api(request: Request) -> JSONResponse:
        raw = (await request.body()).decode()
        form = qs_codec.decode(raw)
        secure = not require_https or request.url.scheme == "https"
        status, body, events, acc = sandbox.handle_api(form, secure)
        sandbox.call_log.append(
            {
                "app_id": form.get("app_id"),
                "cmds": [a.get("cmd") for a in form.get("actions") or [] if isinstance(a, dict)]
                or (["get_lead"] if "get_lead" in form else []),
                "http_status": status,
                "status": body.get("status"),
                "type": body.get("type"),
                "at": time.time(),
            }
        )
        if acc is not None and events:
            sandbox.fire(acc, events)
        return JSONResponse(body, status_code=status)

    app.add_api_route("/api", api, methods=["POST"])
    app.add_api_route("/api/", api, methods=["POST"], include_in_schema=False)

    @app.post("/_sandbox/apps", status_code=201)
    async def create_sandbox_app(body: AppCreate) -> dict[str, Any]:
        acc = Account(
            app_id=body.app_id or "app_" + secrets.token_hex(6),
            api_key=body.api_key or "key_" + secrets.token_hex(12),
            api_password=body.api_password or "pw_" + secrets.token_hex(12),
            test_mode=body.test_mode,
        )
        sandbox.accounts[acc.app_id] = acc
        return {"app_id": acc.app_id, "api_key": acc.api_key, "api_password": acc.api_password}

    @app.post("/_sandbox/webhooks")
    async def register_webhook(body: WebhookRegistration) -> dict[str, Any]:
        acc = sandbox.account(body.app_id)
        if body.url and body.url not in acc.webhook_urls:
            acc.webhook_urls.append(body.url)
        if body.ipn_url:
            acc.ipn_url, acc.ipn_secret = body.ipn_url, body.ipn_secret
        return {"webhook_urls": acc.webhook_urls, "ipn_url": acc.ipn_url}

    @app.post("/_sandbox/simulate/purchase")
    async def simulate_purchase(body: Purchase) -> dict[str, Any]:
        acc = sandbox.account(body.app_id)
        lead = acc.lead_by_email(body.email) or acc.create_lead(
            {"email": body.email, "first_name": body.first_name or "", "last_name": body.last_name or ""}
        )
        tx = acc.sell(lead, body.product_id, body.price_point, body.amount, body.quantity)
        if body.recurring:
            acc.subscribe(tx)
        details = {
            "transaction_details": {k: v for k, v in tx.items() if k not in ("refunded", "subscription_id")}
        }
        tasks = sandbox.fire(acc, [("buy_product", lead, details), ("ipn", lead, tx)])
        deliveries = await asyncio.gather(*tasks)
        return {
            "lead_id": str(lead.id),
            "transaction_id": tx["transaction_id"],
            "subscription_id": tx.get("subscription_id"),
            "amount": tx["transaction_full_amount"],
            "deliveries": deliveries,
        }

    @app.post("/_sandbox/simulate/event")
    async def simulate_event(body: Simulated) -> dict[str, Any]:
        acc = sandbox.account(body.app_id)
        lead = acc.lead_by_email(body.email) or acc.create_lead({"email": body.email})
        deliveries = await asyncio.gather(*sandbox.fire(acc, [(body.action, lead, body.action_details)]))
        return {"lead_id": str(lead.id), "deliveries": deliveries}

    @app.get("/_sandbox/calls")
    async def calls(app_id: str | None = None) -> dict[str, Any]:
        log = [c for c in sandbox.call_log if app_id is None or c["app_id"] == app_id]
        return {
            "calls": log,
            "counters": {
                "calls": sum(1 for c in log if c["http_status"] == 200),
                "rate_limited": sum(1 for c in log if c["http_status"] == 429),
            },
        }

    @app.get("/_sandbox/deliveries")
    async def deliveries() -> dict[str, Any]:
        await sandbox.drain()
        return {"deliveries": sandbox.deliveries}

    @app.get("/_sandbox/apps/{app_id}/leads")
    async def leads(app_id: str) -> dict[str, Any]:
        acc = sandbox.account(app_id)
        return {"leads": [acc.lead_block(lead) for lead in acc.leads.values()]}

    return app
