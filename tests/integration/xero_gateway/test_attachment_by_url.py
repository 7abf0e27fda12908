"""Attachments by URL through the gateway: the file is fetched (SSRF guard, size, type, time) and
uploaded to Xero; a refused file fails the step as permanent ``invalid_input`` *before* the document
is written, and a time-out is retryable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_server import serve
from integration.xero_gateway.test_xero_every_action import _cmd, _invoice
from integration.xero_gateway.xero_gw_helpers import connect_all
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kxflow_sandboxes.xero import accounting
from kxflow_sandboxes.xero.state import RESOURCES

PDF = b"%PDF-1.4 order 42"


@pytest.fixture
async def files() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def handle(request: Request) -> Response:
        hits.append(request.url.path)
        if request.url.path == "/slow.pdf":
            await asyncio.sleep(2)  # the slow file host is the case under test
        if request.url.path == "/page.html":
            return Response("<html>", media_type="text/html")
        return Response(PDF, media_type="application/pdf")

    async with serve(Starlette(routes=[Route("/{p:path}", handle)])) as url:
        yield url, hits


def _invoice_input(contact: str, **file: Any) -> dict[str, Any]:
    return {
        "Contact": {"ContactID": contact},
        "LineItems": [{"Description": "Seat", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}],
        "Attachments": [{"FileName": "order-42.pdf", **file}],
    }


async def test_files_by_url_are_fetched_checked_and_attached(start_gateway, xero_sandbox, files) -> None:
    file_url, hits = files
    app, url = await start_gateway(
        attachment_url_allow_hosts=["127.0.0.1"], attachment_fetch_timeout_seconds=1.0
    )
    await connect_all(url)
    executor = app.state.executor
    org = xero_sandbox.org("Acme AU")
    contact = accounting.create(org, RESOURCES["Contacts"], {"Name": "Ada URL"})["ContactID"]

    ok = await executor.execute(
        _cmd("xero.sales_invoice.create", _invoice_input(contact, URL=f"{file_url}/order.pdf"))
    )
    assert ok.status.value == "succeeded", ok.error
    stored = org.attachments[ok.output["InvoiceID"].lower()]
    assert [(a["FileName"], a["ContentLength"]) for a in stored] == [("order-42.pdf", len(PDF))]

    invoice = _invoice(org, contact)
    upload = await executor.execute(
        _cmd(
            "xero.attachment.upload",
            {
                "ResourceType": "Invoices",
                "ResourceID": invoice,
                "FileName": "receipt.pdf",
                "ContentBase64": "",
                "URL": f"{file_url}/receipt.pdf",
            },
        )
    )
    assert upload.status.value == "succeeded", upload.error
    assert org.attachments[invoice.lower()][0]["ContentLength"] == len(PDF)

    invoices_before = len(org.coll("Invoices"))
    refused = {
        "wrong type": f"{file_url}/page.html",
        "internal host": f"https://localhost:{file_url.rsplit(':', 1)[1]}/order.pdf",
        "metadata address": "https://169.254.169.254/latest/meta-data/",
    }
    seen_before = list(hits)
    for name, target in refused.items():
        result = await executor.execute(_cmd("xero.bill.create", _invoice_input(contact, URL=target)))
        assert result.status.value == "failed", name
        assert (result.error.code, result.error.retryable) == ("invalid_input", False), (name, result.error)
        assert "order-42.pdf" in result.error.message, result.error.message
    assert hits == [*seen_before, "/page.html"], "only the allowlisted file host was asked"
    assert len(org.coll("Invoices")) == invoices_before, "a refused file stops the step before its write"

    slow = await executor.execute(
        _cmd("xero.sales_invoice.create", _invoice_input(contact, URL=f"{file_url}/slow.pdf"))
    )
    assert slow.status.value == "failed" and slow.error.code == "fetch_timeout" and slow.error.retryable
