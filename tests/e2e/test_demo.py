"""`make demo` against a running system, non-interactively: the run completes and the invoice and
payment exist in the Xero sandbox (the issue's "done when")."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from system_harness import ROOT, System

DEMO = ROOT / "deploy" / "local" / "demo.py"
Demo = Callable[[System], Awaitable[tuple[int, dict[str, Any], str]]]


async def test_demo_completes_a_run_whose_invoice_exists_in_the_xero_sandbox(
    system: System, demo: Demo
) -> None:
    code, summary, log = await demo(system)
    assert code == 0, log
    assert summary["status"] == "succeeded", log
    assert [s["id"] for s in summary["steps"]] == ["contact", "invoice", "paid"]
    assert all(s["status"] == "succeeded" for s in summary["steps"]), summary["steps"]
    assert summary["contact"]["ContactID"] and summary["contact"]["Name"] == "Ada Lovelace"
    assert summary["invoice"]["InvoiceNumber"] and summary["invoice"]["Total"] == 97
    assert summary["payment"]["PaymentID"] and summary["payment"]["Amount"] == 97
    assert summary["webhook_to_last_xero_call_ms"] > 0
    # Both of Kartra's channels are registered and accepted: the IPN is what kartra.payment.* fire on.
    assert summary["deliveries"] == {"outbound": 200, "ipn": 200}
    # Read back through the Xero sandbox's API (the demo did it; prove the values agree).
    assert summary["xero_sandbox"] == {
        "invoice_exists": True,
        "InvoiceNumber": summary["invoice"]["InvoiceNumber"],
        "Status": "PAID",
        "AmountDue": 0,
        "payment_exists": True,
    }

    # Idempotent: a second run reuses both connections and the zap, and sells again.
    code2, again, log2 = await demo(system)
    assert code2 == 0, log2
    assert again["zap_id"] == summary["zap_id"]
    assert again["run_id"] != summary["run_id"]
    async with httpx.AsyncClient(headers=system.auth) as client:
        kartra = (await client.get(f"{system.url('kartra-gateway')}/v1/connections")).json()
        xero = (await client.get(f"{system.url('xero-gateway')}/v1/connections")).json()
        zaps = (await client.get(f"{system.url('router')}/v1/zaps")).json()["items"]
    assert [c["name"] for c in kartra] == ["kartra-main"]
    assert sorted(c["id"] for c in xero) == ["xero-acme-au", "xero-beta-nz"]
    assert len(zaps) == 1


async def test_demo_says_how_to_start_the_system_when_it_is_not_running() -> None:
    from asgi_server import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DEMO),
        *[
            a
            for flag in (
                "--router-url",
                "--kartra-gateway-url",
                "--xero-gateway-url",
                "--kartra-sandbox-url",
                "--xero-sandbox-url",
            )
            for a in (flag, dead)
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    assert "make run" in out.decode()


def _families(text: str) -> dict[str, list[Any]]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f.samples for f in text_string_to_metric_families(text)}


async def test_every_service_exposes_the_observability_metrics_after_the_demo(
    system: System, demo: Demo
) -> None:
    code, _, log = await demo(system)
    assert code == 0, log
    async with httpx.AsyncClient() as client:
        scraped = {
            name: _families((await client.get(f"{system.url(name)}/metrics")).text)
            for name in ("router", "kartra-gateway", "xero-gateway")
        }
    router, kartra, xero = scraped["router"], scraped["kartra-gateway"], scraped["xero-gateway"]
    # events in by type, runs by status, step latency (= command latency) per action
    assert any(
        s.labels.get("type") == "kartra.product.purchased.v1" and s.value >= 1
        for s in router["kxflow_router_events"]
    )
    assert any(s.labels["status"] == "succeeded" and s.value >= 1 for s in router["kxflow_router_runs"])
    actions = {s.labels["action"] for s in router["kxflow_router_step_seconds"] if s.name.endswith("_count")}
    assert {"xero.contact.find_or_create", "xero.sales_invoice.create", "xero.payment.create"} <= actions
    # DLQ messages on every service (families exist from the start; nothing dead-lettered here)
    assert "kxflow_router_dead_letters" in router
    assert "kxflow_dead_letters" in kartra
    assert "xero_dead_letters" in xero
    # rate-limit budget left per Xero organisation
    orgs = {s.labels["xero_tenant_id"] for s in xero["xero_budget_minute_remaining"]}
    assert orgs and all(s.value < 60 for s in xero["xero_budget_minute_remaining"])
    assert "xero_budget_day_remaining" in xero
    # intake and results
    assert any(s.value >= 1 for s in kartra["kartra_webhooks"])
    assert any(s.labels.get("status") == "succeeded" and s.value >= 3 for s in xero["xero_action_results"])
    # consumer lag on every service, per partition of its group, caught up after the run
    for name, topic in (
        ("router", "kartra.events.v1"),
        ("kartra-gateway", "kartra.commands.v1"),
        ("xero-gateway", "xero.commands.v1"),
    ):
        lag = [s for s in scraped[name]["kxflow_consumer_lag"] if s.labels["topic"] == system.prefix + topic]
        assert len(lag) == 12, (name, lag)
