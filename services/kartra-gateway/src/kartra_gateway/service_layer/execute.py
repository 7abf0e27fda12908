"""Command executor: ledger claim → validate → call Kartra → record → publish the result.

The ledger (DESIGN §3) makes a redelivered command republish its known result instead of calling
Kartra again. When a command is executed a second time (the first executor died mid-call, or a
later attempt follows an unknown outcome), Kartra answers like "Lead already exists" or
"Transaction already refunded" are read as "our earlier execution did it" and reported as success,
so a create or refund is never done twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ValidationError

from kartra_gateway.adapters.connections import ConnectionRepository
from kartra_gateway.adapters.kartra_client import KartraCallError, KartraClient, KartraCredentials
from kartra_gateway.adapters.metrics import GatewayMetrics
from kartra_gateway.domain import php_form
from kartra_gateway.domain.actions import (
    SPECS,
    ActionSpec,
    build_create_lead,
    build_search_lead,
    lead_output,
    transaction_output,
)
from kartra_gateway.domain.kartra_errors import Category
from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.models import kartra_actions as m
from kxflow_contracts.results import RESULT_TYPE, ActionError, ActionResult, ResultStatus
from kxflow_contracts.runtime.kafka import TransientError, publish_event
from kxflow_contracts.runtime.ledger import ActionLedger, Decision
from kxflow_contracts.topics import Topics

SOURCE = "/kartra-gateway"
_CREDENTIAL_FIELDS = {"app_id", "api_key", "api_password"}


class Failed(Exception):
    """A step failure that is not a Kartra answer (bad input, unknown connection…)."""

    def __init__(self, code: str, message: str, *, retryable: bool = False, details: Any = None) -> None:
        super().__init__(message)
        self.error = ActionError(code=code, message=message, retryable=retryable, details=details)


class NotFound(Exception):
    def __init__(self, error: ActionError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class Context:
    client: KartraClient
    creds: KartraCredentials
    reexecution: bool


def _kartra_error(exc: KartraCallError) -> ActionError:
    return ActionError(
        code=exc.code,
        message=exc.message,
        retryable=exc.retryable,
        http_status=exc.http_status,
        details={"kartra_type": exc.code, "category": exc.category.value, "response": exc.details},
    )


class CommandExecutor:
    def __init__(
        self,
        ledger: ActionLedger,
        connections: ConnectionRepository,
        client: KartraClient,
        broker: KafkaBroker,
        topics: Topics,
        metrics: GatewayMetrics,
        owner: str = "kartra-gateway",
    ) -> None:
        self._ledger = ledger
        self._connections = connections
        self._client = client
        self._broker = broker
        self._topics = topics
        self._metrics = metrics
        self._owner = owner

    async def handle(self, cmd: ActionCommand) -> ActionResult:
        claim = await self._ledger.claim(cmd, self._owner)
        if claim.decision is Decision.busy:
            raise TransientError(f"command {cmd.command_id} is being executed elsewhere")
        if claim.decision is Decision.replay and claim.result is not None:
            await self._publish(cmd, claim.result)
            return claim.result
        async with self._ledger.keep(cmd):
            result = await self.execute(cmd, reexecution=claim.previous_attempts > 0)
        await self._ledger.complete(cmd, result)
        await self._publish(cmd, result)
        self._metrics.commands.labels(cmd.action, result.status.value).inc()
        return result

    async def _publish(self, cmd: ActionCommand, result: ActionResult) -> None:
        event = CloudEvent(
            id=f"{cmd.command_id}:{cmd.attempt}",
            source=SOURCE,
            type=RESULT_TYPE,
            subject=cmd.command_id,
            tenant=cmd.tenant,
            data=result,
        )
        await publish_event(self._broker, self._topics.action_results, event, cmd.run_id)

    async def execute(self, cmd: ActionCommand, reexecution: bool = False) -> ActionResult:
        started = time.perf_counter()
        status, output, error = ResultStatus.succeeded, None, None
        try:
            output = await self._run(cmd, reexecution)
        except NotFound as exc:
            status, error = ResultStatus.not_found, exc.error
        except Failed as exc:
            status, error = ResultStatus.failed, exc.error
        except KartraCallError as exc:
            status, error = ResultStatus.failed, _kartra_error(exc)
        except Exception as exc:  # a bug or a broken dependency: report it, never leave the claim hanging
            status = ResultStatus.failed
            error = ActionError(code="internal_error", message=f"{type(exc).__name__}: {exc}", retryable=True)
        return ActionResult(
            command_id=cmd.command_id,
            run_id=cmd.run_id,
            step_id=cmd.step_id,
            status=status,
            output=output,
            error=error,
            attempts=cmd.attempt,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def _run(self, cmd: ActionCommand, reexecution: bool) -> dict[str, Any]:
        entry = CATALOG.find(cmd.action)
        if entry is None or entry.app != "kartra" or entry.kind.value == "trigger":
            raise Failed("unknown_action", f"{cmd.action!r} is not a Kartra action or search")
        if cmd.not_after is not None and cmd.not_after < datetime.now(UTC):
            raise Failed("deadline_exceeded", f"command deadline {cmd.not_after.isoformat()} has passed")
        conn = await self._connections.for_tenant(cmd.tenant, cmd.connection_id)
        if conn is None:
            raise Failed("unknown_connection", f"no Kartra connection {cmd.connection_id!r} for this tenant")
        try:
            inp = entry.input_model.model_validate(cmd.input)
        except ValidationError as exc:
            problems = [f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()]
            raise Failed(
                "invalid_input",
                "; ".join(problems),
                details=exc.errors(include_url=False, include_context=False),
            ) from exc
        ctx = Context(self._client, self._connections.credentials(conn), reexecution)
        special = _SPECIAL.get(cmd.action)
        output = await special(ctx, inp) if special else await _single(ctx, SPECS[cmd.action], inp)
        return entry.output_model.model_validate(output).model_dump(mode="json", exclude_none=True)


async def _call(ctx: Context, spec: ActionSpec, inp: BaseModel) -> dict[str, Any]:
    resp = await ctx.client.call(ctx.creds, spec.build(inp), idempotent=spec.idempotent)
    key = "lead_details" if spec.cmd == "get_lead" else spec.cmd
    part = resp.checked(0, key)
    return part if spec.cmd != "get_lead" else resp.body


async def _single(ctx: Context, spec: ActionSpec, inp: BaseModel) -> dict[str, Any]:
    try:
        part = await _call(ctx, spec, inp)
    except KartraCallError as exc:
        if ctx.reexecution and exc.code in spec.already_done:
            return await _already_done(ctx, spec, inp, exc)
        if spec.search and exc.category is Category.not_found:
            raise NotFound(_kartra_error(exc)) from exc
        raise
    return spec.output(part, inp)


async def _already_done(ctx: Context, spec: ActionSpec, inp: Any, exc: KartraCallError) -> dict[str, Any]:
    """Our earlier execution of this same command reached Kartra: report what it did."""
    if spec.cmd == "create_lead":
        found = await _call(ctx, SPECS["kartra.lead.find"], m.LeadRef(email=inp.email))
        return lead_output(found, inp, created=True)
    if spec.cmd == "refund_transaction":
        return {"transaction_refunded": inp.transaction_id, "already_refunded": True}
    if spec.cmd == "cancel_transaction":
        return {"transaction_internal_subscription_id": inp.subscription_id, "already_cancelled": True}
    return {"status": "Success", "message": exc.message, "type": exc.code}


async def _find_transaction(ctx: Context, inp: m.FindTransactionInput) -> dict[str, Any]:
    actions = [{"cmd": "get_transaction_details", "transaction_id": inp.transaction_id}]
    resp = await ctx.client.call(ctx.creds, {"actions": actions}, idempotent=True)
    try:
        part = resp.checked(0, "get_transaction_details")
    except KartraCallError as exc:
        if exc.category is Category.not_found:
            raise NotFound(_kartra_error(exc)) from exc
        raise
    return transaction_output(part, inp)


async def _find_or_create(ctx: Context, inp: m.FindOrCreateLeadInput) -> dict[str, Any]:
    ref = m.LeadRef(email=inp.email)
    try:
        found = await _call(ctx, SPECS["kartra.lead.find"], ref)
        return lead_output(found, ref, created=False)
    except KartraCallError as exc:
        if exc.category is not Category.not_found:
            raise
    resp = await ctx.client.call(ctx.creds, build_create_lead(inp), idempotent=False)
    try:
        return lead_output(resp.checked(0, "create_lead"), inp, created=True)
    except KartraCallError as exc:
        if exc.code != "244":  # created between our search and create (or by our earlier run)
            raise
    found = await ctx.client.call(ctx.creds, build_search_lead(ref), idempotent=True)
    return lead_output(found.checked(0, "search_lead"), ref, created=False)


async def _api_request(ctx: Context, inp: m.ApiRequestInput) -> dict[str, Any]:
    allowed = urlsplit(ctx.client.api_url)
    if inp.url:
        wanted = urlsplit(inp.url)
        same = (wanted.scheme, wanted.netloc, wanted.path.rstrip("/")) == (
            allowed.scheme,
            allowed.netloc,
            allowed.path.rstrip("/"),
        )
        if not same:
            raise Failed("forbidden_url", "API Request may only call the connection's Kartra API URL")
    if _CREDENTIAL_FIELDS & {k.lower() for k in (*inp.query, *inp.body)}:
        raise Failed(
            "invalid_input", "credentials are injected by kxflow; do not pass app_id/api_key/api_password"
        )
    body = php_form.encode({**ctx.creds.fields(), **inp.body})
    resp = await ctx.client.post_raw(
        ctx.creds, body, idempotent=False, params=inp.query or None, headers=inp.headers
    )
    if inp.stop_on_error and str(resp.body.get("status", "")).lower() == "error":
        resp.checked(0, "")
    return {"status_code": resp.status_code, "body": resp.body}


_SPECIAL = {
    "kartra.transaction.find": _find_transaction,
    "kartra.lead.find_or_create": _find_or_create,
    "kartra.api.request": _api_request,
}
