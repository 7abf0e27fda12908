"""Executing one Xero action command: validate → Xero call(s) → typed output (``Executor``).

The rest of a command's path (ledger claim and renewal, redelivery, busy, deadline, the result
event) is the shared skeleton, ``kxflow_contracts.runtime.commands.CommandRunner``; ``Executor`` is
the ``ActionPort`` it executes through. Simple actions run from their table row
(``domain.actions.SPECS``); composite ones are the small functions in ``COMPOSITES``, each built
on the same ``_send``. Every keyed write goes through ``service_layer.writes.WriteGuard``
(``_call``), which never relies on an Idempotency-Key Xero may have forgotten: past its window a
write whose outcome is unknown is looked up, or refused ``outcome_unknown``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import urlparse

import httpx
from pydantic import BaseModel, ValidationError

from kxflow_contracts.catalog import CATALOG, CatalogError
from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ActionError
from kxflow_contracts.runtime.commands import ActionFailed
from kxflow_contracts.runtime.url_fetch import Fetched, FetchPolicy, FetchRefused, FetchTimedOut, fetch_url
from xero_gateway.domain import actions as act
from xero_gateway.domain.connection import Connection
from xero_gateway.domain.errors import (
    NEEDS_REAUTH,
    NeedsReauth,
    XeroUnavailable,
    body_of,
    classify,
    element_errors,
)
from xero_gateway.domain.ids import InvalidXeroId, path_segment
from xero_gateway.domain.write_attempts import Policy
from xero_gateway.service_layer.ports import ConnectionLookup, XeroCalls
from xero_gateway.service_layer.writes import Adopted, OutcomeUnknown, SendTracker, WriteGuard

Fetch = Callable[[str], Awaitable[Fetched]]
"""Fetches an attachment given by URL (``kxflow_contracts.runtime.url_fetch``, the SSRF guard)."""


class Failed(ActionFailed):
    """A known failure of one command (Xero's answer verbatim, bad input, unknown connection)."""


class Executor:
    """The ``ActionPort`` of xero-gateway."""

    def __init__(
        self,
        api: XeroCalls,
        repos: ConnectionLookup,
        writes: WriteGuard | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        self.api = api
        self.repos = repos
        self.writes = writes
        self.fetch: Fetch = fetch or partial(fetch_url, policy=FetchPolicy())

    async def run(self, cmd: ActionCommand, reexecution: bool) -> dict[str, Any] | None:
        """``reexecution`` needs nothing here: every keyed write goes through the write guard."""
        try:
            return await self._run(cmd)
        except Failed as exc:
            if exc.error.code == "not_found" and CATALOG.get(cmd.action).kind.value == "search":
                return None
            raise

    def failure(self, cmd: ActionCommand, exc: Exception) -> ActionError | None:
        """Known upstream outcomes become results; anything else (MongoDB away…) propagates and
        the command is tried again."""
        if isinstance(exc, InvalidXeroId):  # the command's own id: sending it again cannot help
            return ActionError(code="invalid_input", message=str(exc))
        if isinstance(exc, NeedsReauth):
            return ActionError(
                code=NEEDS_REAUTH,
                message=f"The Xero connection needs re-authorisation: {exc}",
                retryable=False,
                http_status=401,
            )
        if isinstance(exc, XeroUnavailable):
            return ActionError(
                code="upstream_unavailable",
                message=str(exc),
                retryable=True,
                http_status=exc.status,
                details=body_of(exc.text) if exc.text else None,
            )
        return None

    async def _run(self, cmd: ActionCommand) -> dict[str, Any] | None:
        try:
            entry = CATALOG.get(cmd.action)
            spec = act.SPECS[cmd.action]
        except (CatalogError, KeyError):
            raise Failed(
                ActionError(code="unknown_action", message=f"unknown Xero action {cmd.action!r}")
            ) from None
        try:
            data = entry.input_model.model_validate(cmd.input).model_dump(mode="json", exclude_none=True)
        except ValidationError as exc:
            raise Failed(
                ActionError(code="invalid_input", message=str(exc), details=exc.errors(include_url=False))
            ) from None
        conn = await self.repos.get(cmd.tenant, cmd.connection_id)
        if conn is None:
            raise Failed(
                ActionError(code="unknown_connection", message=f"no Xero connection {cmd.connection_id!r}")
            )
        if spec.composite:
            output = await COMPOSITES[spec.composite](self, conn, cmd, data)
        else:
            # files by URL are fetched before the write: a refused file must not fail after it
            files = [(file, await _content(self, file)) for file in data.get("Attachments") or []]
            output = await self._simple(conn, cmd, spec, data)
            if output is not None and files:
                output = await _attach(self, conn, cmd, spec, output, files)
        return _typed(entry.output_model, output)

    async def _simple(
        self,
        conn: Connection,
        cmd: ActionCommand,
        spec: act.ActionSpec,
        data: dict[str, Any],
        key_suffix: str = "",
        policy: Policy | None = None,
    ) -> dict[str, Any] | None:
        req = act.build_request(spec, data)
        body = await self._send(conn, req, cmd.command_id + key_suffix if req.write else None, cmd, policy)
        errors = element_errors(body, spec.collection or "")
        if errors:
            raise Failed(ActionError(code="ValidationException", message="; ".join(errors), details=body))
        return act.read_output(spec, body, data)

    async def _send(
        self,
        conn: Connection,
        req: act.Request,
        idempotency_key: str | None,
        cmd: ActionCommand | None = None,
        policy: Policy | None = None,
    ) -> Any:
        res = await self._call(conn, req, idempotency_key, cmd, policy)
        if isinstance(res, Adopted):
            return res.body  # a lost answer's record, found in Xero: nothing written again
        if res.status_code >= 400:
            raise Failed(classify(res.status_code, res.text))
        if res.status_code == 204 or not res.content:
            return {}
        if req.accept != "application/json":
            return res.content
        return res.json()

    async def _call(
        self,
        conn: Connection,
        req: act.Request,
        idempotency_key: str | None,
        cmd: ActionCommand | None,
        policy: Policy | None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | Adopted:
        """The one place every Xero call goes through; keyed writes under the write guard."""

        def call(hooks: SendTracker | None = None) -> Any:
            return self.api.call(
                conn,
                req.method,
                req.path,
                params=req.params or None,
                json_body=req.json_body,
                content=req.content,
                content_type=req.content_type,
                accept=req.accept,
                idempotency_key=idempotency_key,
                headers=headers,
                hooks=hooks,
            )

        if self.writes is None or not idempotency_key or not req.write:
            return await call()

        async def lookup_get(path: str, params: dict[str, str], hdrs: dict[str, str]) -> Any:
            res = await self.api.call(conn, "GET", path, params=params or None, headers=hdrs)
            if res.status_code >= 400:
                raise Failed(classify(res.status_code, res.text))
            return res.json() if res.content else {}

        meta = {"command_id": cmd.command_id, "action": cmd.action, "tenant": cmd.tenant} if cmd else {}
        try:
            return await self.writes.send(
                conn.xero_tenant_id,
                req,
                idempotency_key,
                cmd.attempt if cmd else 1,
                call,
                lookup_get,
                policy,
                meta,
            )
        except OutcomeUnknown as exc:
            raise Failed(exc.error) from None

    async def get(self, conn: Connection, path: str, params: dict[str, str] | None = None) -> Any:
        return await self._send(conn, act.Request("GET", act.full_path(path), params or {}), None)


def _typed(model: type[BaseModel], output: dict[str, Any] | None) -> dict[str, Any] | None:
    if output is None:
        return None
    return model.model_validate(output).model_dump(mode="json", by_alias=True, exclude_none=True)


def _first(body: Any, collection: str) -> dict[str, Any] | None:
    items = body.get(collection) if isinstance(body, dict) else None
    return items[0] if items else None


async def _contact_find(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    if data.get("ContactID"):
        try:
            return _first(await ex.get(conn, f"/Contacts/{data['ContactID']}"), "Contacts")
        except Failed as exc:
            if exc.error.code == "not_found":
                return None
            raise
    params: dict[str, str] = {"page": "1"}
    if data.get("IncludeArchived"):
        params["includeArchived"] = "true"
    if data.get("EmailAddress"):
        params["where"] = act.where_equals("EmailAddress", data["EmailAddress"])
    elif data.get("Name"):
        params["where"] = act.where_equals("Name", data["Name"])
    else:
        raise Failed(ActionError(code="invalid_input", message="give ContactID, Name or EmailAddress"))
    return _first(await ex.get(conn, "/Contacts", params), "Contacts")


async def _contact_find_or_create(
    ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]
) -> Any:
    by = data.get("SearchBy")
    if by is not None:
        if not data.get(by):
            raise Failed(ActionError(code="invalid_input", message=f"SearchBy is {by} but {by} is empty"))
        params = {"page": "1", "where": act.where_equals(by, data[by])}
        found = _first(await ex.get(conn, "/Contacts", params), "Contacts")
    else:  # by email when given, then by the (unique) name
        found = None
        if data.get("EmailAddress"):
            found = await _contact_find(ex, conn, cmd, {"EmailAddress": data["EmailAddress"]})
        if found is None:
            found = await _contact_find(ex, conn, cmd, {"Name": data["Name"]})
    if found is not None:
        return found
    return await _with_groups(ex, conn, cmd, await ex._simple(conn, cmd, act.CONTACT_CREATE, data), data)


async def _contact_upsert(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    return await _with_groups(ex, conn, cmd, await ex._simple(conn, cmd, act.CONTACT_UPSERT, data), data)


async def _with_groups(
    ex: Executor, conn: Connection, cmd: ActionCommand, contact: dict[str, Any] | None, data: dict[str, Any]
) -> Any:
    """Adds the contact to its ``ContactGroups`` (by name, creating a missing group): Xero's separate
    calls, each keyed from the command and the group so a retry writes nothing twice."""
    if contact is None or not data.get("ContactGroups"):
        return contact
    groups = []
    for name in data["ContactGroups"]:
        path, params = act.contact_group_find(name)
        group = _first(await ex.get(conn, path, params), "ContactGroups")
        if group is None:
            created = await ex._send(
                conn,
                act.contact_group_create(name),
                derived_key(cmd.command_id, "group", name),
                cmd,
                Policy.repeatable,  # a second group of the same name is refused by Xero, never made
            )
            group = _first(created, "ContactGroups")
        if group is None:
            raise Failed(
                ActionError(code="ValidationException", message=f"contact group {name!r} not created")
            )
        await ex._send(
            conn,
            act.contact_group_add(group["ContactGroupID"], contact["ContactID"]),
            derived_key(cmd.command_id, "group-add", name),
            cmd,
            Policy.repeatable,  # adding a member twice leaves the same group
        )
        groups.append({"ContactGroupID": group["ContactGroupID"], "Name": group.get("Name", name)})
    return {**contact, "ContactGroups": groups}


async def _purchase_order_update(
    ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]
) -> Any:
    """Xero's update replaces an order's lines; "add" sends its current lines plus the new ones."""
    if data.get("LineItemsUpdateMethod") != "add" or not data.get("LineItems"):
        return await ex._simple(conn, cmd, act.PURCHASE_ORDER_UPDATE, data)
    order_path = act.full_path(
        act.PURCHASE_ORDER_UPDATE.path.format(
            PurchaseOrderID=path_segment(data["PurchaseOrderID"], "PurchaseOrderID")
        )
    )
    order = _first(await ex._send(conn, act.Request("GET", order_path, {}), None), "PurchaseOrders")
    if order is None:
        return None
    body = {**data, "LineItems": act.kept_lines(order) + list(data["LineItems"])}
    # Not repeatable, as for add-items: the body is built from what the order holds now.
    return await ex._simple(conn, cmd, act.PURCHASE_ORDER_UPDATE, body, policy=Policy.none)


async def _item_find(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    field = "Code" if data.get("Code") else "Name"
    if not data.get(field):
        raise Failed(ActionError(code="invalid_input", message="give Code or Name"))
    return _first(await ex.get(conn, "/Items", {"where": act.where_equals(field, data[field])}), "Items")


async def _item_find_or_create(
    ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]
) -> Any:
    found = await _item_find(ex, conn, cmd, {"Code": data["Code"]})
    return found or await ex._simple(conn, cmd, act.SPECS["xero.item.create"], data)


async def _account_find(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    field = "Code" if data.get("Code") else "Name"
    if not data.get(field):
        raise Failed(ActionError(code="invalid_input", message="give Code or Name"))
    return _first(
        await ex.get(conn, "/Accounts", {"where": act.where_equals(field, data[field])}), "Accounts"
    )


async def _quote_find(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    if data.get("ID"):
        return _first(await ex.get(conn, f"/Quotes/{data['ID']}"), "Quotes")
    return _first(await ex.get(conn, "/Quotes", {"QuoteNumber": data.get("Number") or ""}), "Quotes")


async def _purchase_order_find(
    ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]
) -> Any:
    ref = data.get("ID") or data.get("Number")
    if not ref:
        raise Failed(ActionError(code="invalid_input", message="give Number or ID"))
    return _first(await ex.get(conn, f"/PurchaseOrders/{ref}"), "PurchaseOrders")


async def _invoice_find(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    if data.get("InvoiceID"):
        invoice = _first(await ex.get(conn, f"/Invoices/{data['InvoiceID']}"), "Invoices")
    elif data.get("InvoiceNumber"):
        invoice = _first(
            await ex.get(conn, "/Invoices", {"InvoiceNumbers": data["InvoiceNumber"]}), "Invoices"
        )
    elif data.get("Reference"):
        invoice = _first(
            await ex.get(conn, "/Invoices", {"where": act.where_equals("Reference", data["Reference"])}),
            "Invoices",
        )
    else:
        raise Failed(ActionError(code="invalid_input", message="give InvoiceID, InvoiceNumber or Reference"))
    if invoice is None:
        return None
    if data.get("IncludePDF"):
        pdf = await ex._send(
            conn,
            act.Request(
                "GET", act.full_path(f"/Invoices/{invoice['InvoiceID']}"), {}, accept="application/pdf"
            ),
            None,
        )
        invoice["PdfBase64"] = base64.b64encode(pdf).decode()
    if (
        data.get("IncludeOnlineInvoiceUrl")
        and invoice.get("Type") == "ACCREC"
        and invoice.get("Status") != "DRAFT"
    ):
        online = _first(
            await ex.get(conn, f"/Invoices/{invoice['InvoiceID']}/OnlineInvoice"), "OnlineInvoices"
        )
        invoice["OnlineInvoiceUrl"] = (online or {}).get("OnlineInvoiceUrl")
    return invoice


async def _add_items(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    invoice = _first(await ex.get(conn, f"/Invoices/{data['InvoiceID']}"), "Invoices")
    if invoice is None:
        return None
    keep = act.kept_lines(invoice)
    spec = act.SPECS["xero.sales_invoice.update"]
    # Not repeatable: the body is built from what the invoice holds now, which includes the new
    # items if a send whose answer was lost went through.
    return await ex._simple(
        conn,
        cmd,
        spec,
        {"InvoiceID": data["InvoiceID"], "LineItems": keep + list(data["LineItems"])},
        policy=Policy.none,
    )


async def _content(ex: Executor, file: dict[str, Any]) -> bytes:
    """A file's bytes: fetched from its ``URL`` through the SSRF guard, or its ``ContentBase64``."""
    if not file.get("URL"):
        return _decoded(file)
    try:
        return (await ex.fetch(file["URL"])).content
    except FetchRefused as exc:
        raise Failed(ActionError(code="invalid_input", message=f"{file['FileName']}: {exc}")) from None
    except FetchTimedOut as exc:
        raise Failed(
            ActionError(code="fetch_timeout", message=f"{file['FileName']}: {exc}", retryable=True)
        ) from None


def _decoded(file: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(file["ContentBase64"], validate=True)
    except ValueError:
        raise Failed(
            ActionError(code="invalid_input", message=f"{file['FileName']}: ContentBase64 is not base64")
        ) from None


async def _attachment_upload(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    req = act.attachment_request(
        data["ResourceType"],
        data["ResourceID"],
        data["FileName"],
        await _content(ex, data),
        bool(data.get("IncludeOnline")),
    )
    return _first(await ex._send(conn, req, cmd.command_id, cmd), "Attachments")


async def _attach(
    ex: Executor,
    conn: Connection,
    cmd: ActionCommand,
    spec: act.ActionSpec,
    document: dict[str, Any],
    files: list[tuple[dict[str, Any], bytes]],
) -> dict[str, Any]:
    """Uploads a written document's ``Attachments`` (each keyed from the command and its place, so a
    retry re-sends none that Xero has); the output lists what Xero stored."""
    collection = spec.collection or ""
    resource_id = document[act.ATTACHED_TO[collection]]
    stored = []
    for i, (file, content) in enumerate(files):
        req = act.attachment_request(
            collection, resource_id, file["FileName"], content, bool(file.get("IncludeOnline"))
        )
        body = await ex._send(conn, req, derived_key(cmd.command_id, "attachment", str(i)), cmd)
        stored.append(_first(body, "Attachments"))
    return {**document, "Attachments": [a for a in stored if a]}


async def _api_request(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    url = urlparse(data["URL"])
    if url.scheme != "https" or url.hostname != "api.xero.com":
        raise Failed(
            ActionError(code="invalid_input", message="API Request only calls https://api.xero.com/")
        )
    method = data["Method"]
    headers = {
        k: v
        for k, v in (data.get("Headers") or {}).items()
        if k.lower() not in ("authorization", "xero-tenant-id", "host")
    }
    key = headers.pop("Idempotency-Key", None) or (
        cmd.command_id if method in ("POST", "PUT", "PATCH") else None
    )
    req = act.Request(
        method,
        url.path,
        data.get("Query") or {},
        json_body=data.get("Body"),
        write=method in ("POST", "PUT", "PATCH"),
    )
    # Whatever it writes, an arbitrary request has no lookup: outcome_unknown past the window.
    res = await ex._call(conn, req, key, cmd, Policy.none, headers=headers)
    assert isinstance(res, httpx.Response)
    if res.status_code >= 400 and data.get("StopOnError", True):
        raise Failed(classify(res.status_code, res.text))
    return {
        "status": res.status_code,
        "headers": {
            k: v for k, v in res.headers.items() if k.lower().startswith("x-") or k.lower() == "content-type"
        },
        "body": body_of(res.text),
    }


async def _employee_update(ex: Executor, conn: Connection, cmd: ActionCommand, data: dict[str, Any]) -> Any:
    current = _first(await ex.get(conn, f"{act.PAYROLL_AU}/Employees/{data['EmployeeID']}"), "Employees")
    if current is None:
        raise Failed(
            ActionError(code="not_found", message=f"no employee {data['EmployeeID']}", http_status=404)
        )
    required = {k: current[k] for k in act.EMPLOYEE_REQUIRED if current.get(k)}
    return await ex._simple(conn, cmd, act.EMPLOYEE_UPDATE, {**required, **data})


COMPOSITES: dict[str, Callable[[Executor, Connection, ActionCommand, dict[str, Any]], Awaitable[Any]]] = {
    "contact_find": _contact_find,
    "contact_find_or_create": _contact_find_or_create,
    "contact_upsert": _contact_upsert,
    "purchase_order_update": _purchase_order_update,
    "item_find": _item_find,
    "item_find_or_create": _item_find_or_create,
    "account_find": _account_find,
    "quote_find": _quote_find,
    "purchase_order_find": _purchase_order_find,
    "invoice_find": _invoice_find,
    "add_items": _add_items,
    "attachment_upload": _attachment_upload,
    "api_request": _api_request,
    "employee_update": _employee_update,
}


def derived_key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
