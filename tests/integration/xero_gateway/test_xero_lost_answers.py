"""Issue 4: a Xero write whose answer was lost is never performed twice, even when it is sent
again after Xero has forgotten its Idempotency-Key (6 minutes; shortened here on both sides).

The sandbox performs the write and holds its answer past the gateway's HTTP time-out
(``lose_answer``); the gateway's in-process retry, or a later attempt of the command, then comes
after both the gateway's safe window and the sandbox's key window. Real Kafka and FerretDB.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from faststream.kafka import KafkaBroker
from integration.xero_gateway.xero_gw_helpers import TENANT, Results, connect_all, send
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.topics import Topics
from kxflow_sandboxes.xero import accounting
from kxflow_sandboxes.xero.state import RESOURCES, Org

LINE = {"Description": "Course", "Quantity": 1, "UnitAmount": 49.5, "AccountCode": "200"}
# The gateway gives up on an answer after 1 s; the sandbox holds lost answers 3 s. The gateway's
# in-process retry comes 2 s after the time-out, i.e. ~3 s after the first send.
FAST = {"http_timeout_seconds": 1, "write_safe_window_seconds": 1}
SANDBOX_KEY_WINDOW = 2.0  # virtual seconds the sandbox remembers a key (Xero: 360)


def _cmd(action: str, inp: dict[str, Any], attempt: int = 1, command_id: str | None = None) -> ActionCommand:
    return ActionCommand(
        command_id=command_id or uuid.uuid4().hex,
        tenant=TENANT,
        connection_id="xero-acme-au",
        action=action,
        input=inp,
        run_id="run-lost",
        zap_id="zap-lost",
        zap_version=1,
        step_id=action,
        attempt=attempt,
    )


def _contact(org: Org, name: str = "Ada Lovelace") -> str:
    return accounting.create(org, RESOURCES["Contacts"], {"Name": name})["ContactID"]


def _invoice_input(contact: str, reference: str) -> dict[str, Any]:
    return {
        "Contact": {"ContactID": contact},
        "Status": "AUTHORISED",
        "Reference": reference,
        "LineItems": [LINE],
    }


def _invoices(org: Org, reference: str) -> list[dict[str, Any]]:
    return [i for i in org.coll("Invoices").values() if i.get("Reference") == reference]


def _lose_answer(sandbox: Any, path: str) -> None:
    sandbox.injected_failures.append({"lose_answer": True, "delay_s": 3, "path_contains": path, "count": 1})


def _requests(sandbox: Any, method: str, path_end: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.log if r["method"] == method and r["path"].endswith(path_end)]


async def _guard_counts(url: str) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics")).text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^xero_write_guard_total\{outcome="(\w+)"\} (\S+)$', text, re.MULTILINE)
    }


async def _short_window_gateway(start_gateway: Any, xero_sandbox: Any) -> tuple[Any, str, Org]:
    """A gateway connected to the sandbox, whose Idempotency-Key window is shortened (test clock)."""
    xero_sandbox.sandbox.config.idempotency_window = SANDBOX_KEY_WINDOW
    app, url = await start_gateway(**FAST)
    await connect_all(url)
    return app, url, xero_sandbox.org("Acme AU")


async def test_lost_invoice_answer_retried_after_the_window_is_found_not_created_again(
    start_gateway, xero_sandbox, kafka_bootstrap, topic_prefix
) -> None:
    sandbox = xero_sandbox.sandbox
    app, url, org = await _short_window_gateway(start_gateway, xero_sandbox)
    contact = _contact(org)
    _lose_answer(sandbox, "/Invoices")
    topics = Topics(topic_prefix)
    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    try:
        async with Results(kafka_bootstrap, topics.action_results) as results:
            cmd = await send(
                broker, topics, "xero.sales_invoice.create", _invoice_input(contact, "kartra-1001"), "invoice"
            )
            found = await wait_for(
                lambda: results.by_subject(cmd.command_id), timeout=60, message="the invoice step's result"
            )
    finally:
        await broker.stop()
    result = found[0].data
    assert sandbox.stats.injected.get("lost_answer") == 1
    assert result["status"] == "succeeded", result
    invoices = _invoices(org, "kartra-1001")
    assert len(invoices) == 1, invoices  # without the lookup the retry creates a second one
    assert result["output"]["InvoiceID"] == invoices[0]["InvoiceID"]  # the real one, from Xero
    assert result["output"]["InvoiceNumber"] == invoices[0]["InvoiceNumber"]
    assert len(_requests(sandbox, "PUT", "/Invoices")) == 1  # never sent again past the window
    assert len(_requests(sandbox, "GET", "/Invoices")) == 1  # the lookup
    assert sandbox.stats.idempotent_replays == 0
    assert await _guard_counts(url) == {"lookup_found": 1.0}
    doc = await app.state.writes.store.attempts.find_one({"_id": cmd.command_id})
    assert doc["open"] == 0 and doc["adopted"] is True and doc["resource_id"] == invoices[0]["InvoiceID"]
    assert sandbox.stats.openapi_rejections == 0, sandbox.stats.rejection_reasons


async def test_lost_payment_answer_retried_after_the_window_is_found_not_paid_twice(
    start_gateway, xero_sandbox
) -> None:
    sandbox = xero_sandbox.sandbox
    app, url, org = await _short_window_gateway(start_gateway, xero_sandbox)
    invoice = accounting.create(
        org, RESOURCES["Invoices"], {"Type": "ACCREC", **_invoice_input(_contact(org), "p")}
    )
    _lose_answer(sandbox, "/Payments")
    payment = {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Account": {"Code": "090"},
        "Amount": 20,  # a part payment: a second one would be accepted (and wrong)
        "Date": "2026-11-29",
    }
    result = await app.state.executor.handle(_cmd("xero.payment.create", payment))
    assert result.status.value == "succeeded", result.error
    payments = list(org.coll("Payments").values())
    assert len(payments) == 1, payments
    assert result.output["PaymentID"] == payments[0]["PaymentID"]
    assert invoice["AmountDue"] == 29.5 and invoice["Status"] == "AUTHORISED"
    assert len(_requests(sandbox, "PUT", "/Payments")) == 1
    assert await _guard_counts(url) == {"lookup_found": 1.0}
    assert sandbox.stats.openapi_rejections == 0, sandbox.stats.rejection_reasons


async def test_a_later_attempt_after_a_restart_looks_the_record_up(start_gateway, xero_sandbox) -> None:
    """The router's retry ladder: attempt 1 ends retryable with the outcome unknown (no in-process
    retry), attempt 2 comes minutes later, on another gateway instance: the record is in MongoDB."""
    sandbox = xero_sandbox.sandbox
    first, first_url = await start_gateway(http_timeout_seconds=1, max_attempts=1)
    second, _ = await start_gateway(http_timeout_seconds=1)
    await connect_all(first_url)
    org = xero_sandbox.org("Acme AU")
    inp = _invoice_input(_contact(org), "kartra-2002")
    _lose_answer(sandbox, "/Invoices")
    cmd = _cmd("xero.sales_invoice.create", inp)
    one = await first.state.executor.handle(cmd)
    assert one.status.value == "failed" and one.error.retryable, one.error
    assert len(_invoices(org, "kartra-2002")) == 1  # performed; its answer was lost
    # Seven minutes later: Xero forgot the key, and the gateway's clock says so too.
    sandbox.clock.advance(420)
    second.state.writes.now = lambda: datetime.now(UTC) + timedelta(seconds=420)
    two = await second.state.executor.handle(cmd.model_copy(update={"attempt": 2}))
    assert two.status.value == "succeeded", two.error
    invoices = _invoices(org, "kartra-2002")
    assert len(invoices) == 1, invoices
    assert two.output["InvoiceID"] == invoices[0]["InvoiceID"]
    assert len(_requests(sandbox, "PUT", "/Invoices")) == 1


async def test_an_identical_command_never_adopts_a_record_another_one_owns(
    start_gateway, xero_sandbox
) -> None:
    """Two commands with the same content: A's answer was lost (A created it and adopts it), B's
    first send timed out without being performed; B's lookup finds A's invoice, which is claimed,
    so B creates its own."""
    sandbox = xero_sandbox.sandbox
    app, url, org = await _short_window_gateway(start_gateway, xero_sandbox)
    inp = _invoice_input(_contact(org), "same")
    _lose_answer(sandbox, "/Invoices")
    a = await app.state.executor.handle(_cmd("xero.sales_invoice.create", inp))
    sandbox.injected_failures.append({"status": 504, "delay_s": 3, "path_contains": "/Invoices", "count": 1})
    b = await app.state.executor.handle(_cmd("xero.sales_invoice.create", inp))
    assert a.status.value == b.status.value == "succeeded", (a.error, b.error)
    invoices = _invoices(org, "same")
    assert len(invoices) == 2
    assert {a.output["InvoiceID"], b.output["InvoiceID"]} == {i["InvoiceID"] for i in invoices}
    assert await _guard_counts(url) == {"lookup_found": 1.0, "lookup_not_found": 1.0}


async def test_a_write_without_lookup_fails_outcome_unknown_and_is_not_sent_again(
    start_gateway, xero_sandbox
) -> None:
    sandbox = xero_sandbox.sandbox
    app, url, org = await _short_window_gateway(start_gateway, xero_sandbox)
    invoice = accounting.create(
        org, RESOURCES["Invoices"], {"Type": "ACCREC", **_invoice_input(_contact(org), "e")}
    )
    _lose_answer(sandbox, "/Email")
    cmd = _cmd("xero.sales_invoice.email", {"InvoiceID": invoice["InvoiceID"]})
    result = await app.state.executor.handle(cmd)
    assert result.status.value == "failed"
    assert result.error.code == "outcome_unknown" and result.error.retryable is False
    assert (
        "the write may have been performed in xero; check xero, then replay the run"
        in result.error.message.lower()
    )
    assert result.error.details["idempotency_key"] == cmd.command_id
    assert org.emails_sent == [invoice["InvoiceID"]]  # e-mailed once, never twice
    assert len(_requests(sandbox, "POST", "/Email")) == 1
    # A redelivery of the same attempt gets the same answer without calling Xero.
    again = await app.state.executor.handle(cmd)
    assert again.error is not None and again.error.code == "outcome_unknown"
    assert len(_requests(sandbox, "POST", "/Email")) == 1
    # The user checked Xero and replays the run (a later attempt): that is the decision to send.
    replay = await app.state.executor.handle(cmd.model_copy(update={"attempt": 2}))
    assert replay.status.value == "succeeded", replay.error
    assert len(_requests(sandbox, "POST", "/Email")) == 2
    assert await _guard_counts(url) == {"outcome_unknown": 1.0, "fresh_epoch": 1.0}


async def test_a_repeatable_update_is_simply_sent_again_after_the_window(start_gateway, xero_sandbox) -> None:
    sandbox = xero_sandbox.sandbox
    app, url, org = await _short_window_gateway(start_gateway, xero_sandbox)
    invoice = accounting.create(
        org, RESOURCES["Invoices"], {"Type": "ACCREC", **_invoice_input(_contact(org), "u")}
    )
    _lose_answer(sandbox, f"/Invoices/{invoice['InvoiceID']}")
    update = {"InvoiceID": invoice["InvoiceID"], "Reference": "updated"}
    result = await app.state.executor.handle(_cmd("xero.sales_invoice.update", update))
    assert result.status.value == "succeeded", result.error
    assert org.coll("Invoices")[invoice["InvoiceID"]]["Reference"] == "updated"
    assert len(_requests(sandbox, "POST", f"/Invoices/{invoice['InvoiceID']}")) == 2
    assert await _guard_counts(url) == {"fresh_epoch": 1.0}


async def test_a_retry_inside_the_window_still_uses_the_idempotency_replay(
    start_gateway, xero_sandbox
) -> None:
    """Xero's own window (360 s) and the gateway's safe window (300 s) as in production: the
    in-process retry 3 s later is replayed by Xero, no lookup."""
    sandbox = xero_sandbox.sandbox
    app, url = await start_gateway(http_timeout_seconds=1)
    await connect_all(url)
    org = xero_sandbox.org("Acme AU")
    _lose_answer(sandbox, "/Invoices")
    result = await app.state.executor.handle(
        _cmd("xero.sales_invoice.create", _invoice_input(_contact(org), "kartra-3003"))
    )
    assert result.status.value == "succeeded", result.error
    invoices = _invoices(org, "kartra-3003")
    assert len(invoices) == 1 and result.output["InvoiceID"] == invoices[0]["InvoiceID"]
    assert sandbox.stats.idempotent_replays == 1
    puts = _requests(sandbox, "PUT", "/Invoices")
    assert len(puts) == 2 and puts[0]["idempotency_key"] == puts[1]["idempotency_key"]
    assert _requests(sandbox, "GET", "/Invoices") == []
    assert await _guard_counts(url) == {}
