"""Action commands through Kafka: the DESIGN §4 zap's Xero steps, errors verbatim, ledger replay,
and webhooks → hydration → trigger events."""

from __future__ import annotations

import uuid

from faststream.kafka import KafkaBroker
from integration.xero_gateway.xero_gw_helpers import TENANT, Results, connect_all, run, send, wired
from waiting import wait_for

from kxflow_contracts.commands import COMMAND_TYPE
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.runtime.kafka import publish_event
from kxflow_contracts.topics import Topics


async def test_design_example_zap_steps_end_to_end(
    start_gateway, xero_sandbox, kafka_bootstrap, topic_prefix
) -> None:
    _, url = await start_gateway()
    await connect_all(url)
    topics = Topics(topic_prefix)
    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    try:
        async with Results(kafka_bootstrap, topics.action_results) as results:
            contact = await run(
                broker,
                topics,
                results,
                "xero.contact.find_or_create",
                {"Name": "Ada Lovelace", "EmailAddress": "ada@example.com"},
            )
            assert contact["status"] == "succeeded", contact
            contact_id = contact["output"]["ContactID"]
            again = await run(
                broker,
                topics,
                results,
                "xero.contact.find_or_create",
                {"Name": "Ada Lovelace", "EmailAddress": "ada@example.com"},
            )
            assert again["output"]["ContactID"] == contact_id  # found, not created twice
            invoice = await run(
                broker,
                topics,
                results,
                "xero.sales_invoice.create",
                {
                    "Contact": {"ContactID": contact_id},
                    "Status": "AUTHORISED",
                    "LineItems": [
                        {"Description": "Course", "Quantity": 1, "UnitAmount": "49.50", "AccountCode": "200"}
                    ],
                },
            )
            assert invoice["status"] == "succeeded", invoice
            assert invoice["output"]["InvoiceNumber"].startswith("INV-")
            paid = await run(
                broker,
                topics,
                results,
                "xero.payment.create",
                {
                    "Invoice": {"InvoiceID": invoice["output"]["InvoiceID"]},
                    "Account": {"Code": "090"},
                    "Amount": "49.50",
                    "Date": "2026-11-29",
                },
            )
            assert paid["status"] == "succeeded", paid
            assert paid["output"]["PaymentID"]
            org = xero_sandbox.org("Acme AU")
            stored = org.coll("Invoices")[invoice["output"]["InvoiceID"]]
            assert stored["Status"] == "PAID" and stored["AmountDue"] == 0
            assert len(org.coll("Contacts")) == 1
            # a second payment exceeds the amount due: Xero's ValidationException kept verbatim
            over = await run(
                broker,
                topics,
                results,
                "xero.payment.create",
                {
                    "Invoice": {"InvoiceID": invoice["output"]["InvoiceID"]},
                    "Account": {"Code": "090"},
                    "Amount": 10,
                    "Date": "2026-11-29",
                },
            )
            assert over["status"] == "failed" and over["error"]["retryable"] is False
            assert over["error"]["details"]["Type"] == "ValidationException"
            missing = await run(
                broker, topics, results, "xero.contact.find", {"ContactID": str(uuid.uuid4())}
            )
            assert missing["status"] == "not_found"
            writes = [r for r in xero_sandbox.sandbox.log if r["method"] in ("PUT", "POST")]
            assert writes and all(r["idempotency_key"] for r in writes)
    finally:
        await broker.stop()


async def test_redelivered_command_does_not_call_xero_twice(
    start_gateway, xero_sandbox, kafka_bootstrap, topic_prefix
) -> None:
    _, url = await start_gateway()
    await connect_all(url)
    topics = Topics(topic_prefix)
    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    try:
        async with Results(kafka_bootstrap, topics.action_results) as results:
            cmd = await send(broker, topics, "xero.contact.upsert", {"Name": "Grace Hopper"}, "c")
            event = CloudEvent(
                id=f"{cmd.command_id}:1",
                source="/router",
                type=COMMAND_TYPE,
                subject=cmd.command_id,
                tenant=TENANT,
                data=cmd,
            )
            await publish_event(broker, topics.xero_commands, event, cmd.key())
            await wait_for(lambda: len(results.by_subject(cmd.command_id)) >= 2, timeout=30)
            first, second = results.by_subject(cmd.command_id)[:2]
            assert first.data == second.data
            calls = [
                r
                for r in xero_sandbox.sandbox.log
                if r["path"].endswith("/Contacts") and r["method"] == "POST"
            ]
            assert len(calls) == 1
    finally:
        await broker.stop()


async def test_webhook_events_are_hydrated_into_trigger_events(
    start_gateway, xero_sandbox, kafka_bootstrap, topic_prefix
) -> None:
    _, url = await start_gateway()
    await connect_all(url)
    xero_sandbox.sandbox.config.webhook_url = f"{url}/v1/webhooks/xero"
    itr = xero_sandbox.app.state.sandbox
    assert await itr.deliver([]) == 200
    assert await itr.deliver([], bad_signature=True) == 401
    async with wired(kafka_bootstrap, topic_prefix) as wire:
        contact = await wire.run("xero.contact.upsert", {"Name": "Alan Turing"})
        cid = contact["output"]["ContactID"]
        await wire.run(
            "xero.sales_invoice.create",
            {
                "Contact": {"ContactID": cid},
                "Status": "AUTHORISED",
                "LineItems": [{"Description": "x", "Quantity": 2, "UnitAmount": 5, "AccountCode": "200"}],
            },
        )
        types = lambda: sorted(e.type for e in wire.events.items)  # noqa: E731
        await wait_for(
            lambda: "xero.sales_invoice.created.v1" in types() and "xero.contact.created.v1" in types(),
            timeout=30,
            message="hydrated trigger events",
        )
        await xero_sandbox.sandbox.drain()
        inv = next(e for e in wire.events.items if e.type == "xero.sales_invoice.created.v1")
        assert inv.data["invoice"]["Total"] == 10 and inv.data["origin"] == "webhook"
