"""Executing one Kartra command: validate → call Kartra → typed output (``KartraActions``).

The rest of a command's path (ledger claim and renewal, redelivery, busy, deadline, the result
event) is the shared skeleton, ``kxflow_contracts.runtime.commands.CommandRunner``; this module is
the port it executes through. When a command is executed a second time (the first executor died
mid-call, or a later attempt follows an unknown outcome), Kartra answers like "Lead already
exists" or "Transaction already refunded" are read as "our earlier execution did it" and
reported as success, so a create or refund is never done twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from kartra_gateway.domain import php_form
from kartra_gateway.domain.actions import (
    SPECS,
    ActionSpec,
    build_create_lead,
    build_search_lead,
    lead_output,
    transaction_output,
)
from kartra_gateway.domain.kartra_api import KartraCallError, KartraCredentials
from kartra_gateway.domain.kartra_errors import Category
from kartra_gateway.service_layer.ports import ConnectionSource, KartraApi
from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.models import kartra_actions as m
from kxflow_contracts.results import ActionError, ResultStatus
from kxflow_contracts.runtime.commands import ActionFailed

SOURCE = "/kartra-gateway"
_CREDENTIAL_FIELDS = {"app_id", "api_key", "api_password"}


class Failed(ActionFailed):
    """A step failure that is not a Kartra answer (bad input, unknown connection…)."""

    def __init__(self, code: str, message: str, *, retryable: bool = False, details: Any = None) -> None:
        super().__init__(ActionError(code=code, message=message, retryable=retryable, details=details))


class NotFound(ActionFailed):
    def __init__(self, error: ActionError) -> None:
        super().__init__(error, ResultStatus.not_found)


@dataclass
class Context:
    client: KartraApi
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


class KartraActions:
    """The ``ActionPort`` of kartra-gateway."""

    def __init__(self, connections: ConnectionSource, client: KartraApi) -> None:
        self._connections = connections
        self._client = client

    def failure(self, cmd: ActionCommand, exc: Exception) -> ActionError:
        """Kartra's own errors verbatim; anything else (a bug, a broken dependency) is reported,
        never left hanging."""
        if isinstance(exc, KartraCallError):
            return _kartra_error(exc)
        return ActionError(code="internal_error", message=f"{type(exc).__name__}: {exc}", retryable=True)

    async def run(self, cmd: ActionCommand, reexecution: bool) -> dict[str, Any]:
        entry = CATALOG.find(cmd.action)
        if entry is None or entry.app != "kartra" or entry.kind.value == "trigger":
            raise Failed("unknown_action", f"{cmd.action!r} is not a Kartra action or search")
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
    ref = m.LeadRef(email=inp.email, lead_id=inp.lead_id)
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
