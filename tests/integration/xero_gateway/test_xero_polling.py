"""Every polling trigger fires exactly once per change, including after a gateway restart.

Table-driven over the pollers: each row makes one change in the sandbox (as a Xero user would)
and says which trigger events it must cause. Round 1: change → exactly those events; restart
the gateway (a new process state on the same MongoDB) → polling again emits nothing; round 2:
another change → exactly one more each.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from asgi_server import free_port, serve
from integration.xero_gateway.xero_gw_helpers import Results, connect_all
from waiting import wait_for

from kxflow_contracts.runtime.kafka import ensure_topics
from kxflow_contracts.topics import Topics
from kxflow_sandboxes.xero import accounting, payroll, projects
from kxflow_sandboxes.xero.state import RESOURCES, Org, ms_date, now
from xero_gateway.main import create_app

LINE = {"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}


def _contact(org: Org) -> str:
    return accounting.create(org, RESOURCES["Contacts"], {"Name": f"C {uuid.uuid4().hex[:8]}"})["ContactID"]


def _invoice(org: Org, **fields: Any) -> dict[str, Any]:
    body = {
        "Type": "ACCREC",
        "Contact": {"ContactID": _contact(org)},
        "Status": "AUTHORISED",
        "LineItems": [LINE],
    }
    return accounting.create(org, RESOURCES["Invoices"], {**body, **fields})


def _payment(org: Org, reconciled: bool) -> dict[str, int]:
    inv = _invoice(org)
    accounting.create(
        org,
        RESOURCES["Payments"],
        {
            "Invoice": {"InvoiceID": inv["InvoiceID"]},
            "Account": {"Code": "090"},
            "Amount": 10,
            "IsReconciled": reconciled,
        },
    )
    fired = {"xero.payment.created": 1}
    if reconciled:
        fired["xero.payment.reconciled"] = 1
    return fired


def _document(collection: str, trigger: str, **fields: Any) -> Callable[[Org], dict[str, int]]:
    def make(org: Org) -> dict[str, int]:
        accounting.create(
            org,
            RESOURCES[collection],
            {"Contact": {"ContactID": _contact(org)}, "LineItems": [LINE], **fields},
        )
        return {trigger: 1}

    return make


def _employee(org: Org) -> dict[str, int]:
    emp_id = str(uuid.uuid4())
    org.employees[emp_id] = {
        "EmployeeID": emp_id,
        "FirstName": "Ada",
        "LastName": emp_id[:6],
        "Status": "ACTIVE",
        "UpdatedDateUTC": ms_date(now()),
    }
    return {"xero.payroll_au.employee.created": 1}


def _pay_run(org: Org) -> dict[str, int]:
    run = payroll.post_pay_run(org, {"Wages": 1000})
    return {"xero.payslip.created": len(run["Payslips"])}


def _draft_pay_run(org: Org) -> dict[str, int]:
    """Posts the drafts of the previous round (their payslips fire again, now POSTED) and adds one."""
    fired = 0
    for run in org.pay_runs.values():
        if run["PayRunStatus"] == "DRAFT":
            run.update(PayRunStatus="POSTED", UpdatedDateUTC=ms_date(now()))
            fired += len(run["Payslips"])
    run = payroll.post_pay_run(org, {"Wages": 900, "PayRunStatus": "DRAFT"})
    return {"xero.payslip.created": fired + len(run["Payslips"])}


def _overdue(org: Org) -> dict[str, int]:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    _invoice(org, DueDate=yesterday)  # also changes the reports' figures
    return {"xero.sales_invoice.overdue": 1}


def _project(org: Org) -> dict[str, int]:
    body = json.dumps({"contactId": _contact(org), "name": f"P {uuid.uuid4().hex[:6]}"}).encode()
    assert projects.handle(org, "POST", ["Projects"], {}, body).status_code == 201
    return {"xero.project.created": 1}


def _reports(org: Org) -> dict[str, int]:
    return {"xero.report.updated": 2}  # ProfitAndLoss and BalanceSheet: sales moved this round


ROWS: list[tuple[str, Callable[[Org], dict[str, int]]]] = [
    ("payments", lambda org: _payment(org, reconciled=False)),
    ("reconciled payments", lambda org: _payment(org, reconciled=True)),
    ("purchase orders", _document("PurchaseOrders", "xero.purchase_order.status_entered")),
    ("quotes", _document("Quotes", "xero.quote.created")),
    (
        "bank transactions",
        _document(
            "BankTransactions", "xero.bank_transaction.created", Type="RECEIVE", BankAccount={"Code": "090"}
        ),
    ),
    ("employees (AU)", _employee),
    ("payslips (AU)", _pay_run),
    ("draft payslips (AU), then posted", _draft_pay_run),
    ("overdue sales invoices", _overdue),
    ("projects", _project),
    ("reports", _reports),
]


async def test_each_polling_trigger_fires_once_per_change_across_a_restart(
    gateway_settings, xero_sandbox, kafka_bootstrap, topic_prefix, mongo_client, mongo_db_name
) -> None:
    sandbox = xero_sandbox.sandbox
    sandbox.limits.per_minute = 1000  # this test is about change detection, not rate limits
    org = xero_sandbox.org("Acme AU")
    port = free_port()
    settings = gateway_settings(
        reconcile_enabled=False, per_minute=1000, public_url=f"http://127.0.0.1:{port}"
    )
    await ensure_topics(kafka_bootstrap, settings.topics.specs(settings.topic_partitions))
    cursors = mongo_client[mongo_db_name]["poll_cursors"]

    async def poll_now(app: Any) -> None:
        await cursors.update_many({}, {"$set": {"next_due": datetime(2000, 1, 1, tzinfo=UTC)}})
        await app.state.poller.tick()

    def round_of_changes() -> Counter[str]:
        expected: Counter[str] = Counter()
        for _, make in ROWS:
            expected.update(make(org))
        return expected

    async with Results(kafka_bootstrap, Topics(topic_prefix).xero_events) as events:

        def counts() -> Counter[str]:
            return Counter(
                e.type.removesuffix(".v1") for e in events.items if e.data["xero_tenant_id"] == org.tenant_id
            )

        app = create_app(settings)
        async with serve(app, port=port) as url:
            await connect_all(url)
            await poll_now(app)  # baseline: the reports' first figures
            await wait_for(lambda: counts()["xero.report.updated"] == 2, timeout=20)
            before = counts()
            expected = round_of_changes()
            await poll_now(app)
            await wait_for(lambda: counts() - before == expected, timeout=20, message="round 1 events")
        after_round_1 = counts()

        app = create_app(settings)  # a restarted gateway: nothing in memory, same MongoDB
        async with serve(app):
            await poll_now(app)
            assert app.state.poller.polls_done >= len(ROWS)
            expected = round_of_changes()
            await poll_now(app)
            await wait_for(lambda: counts() - after_round_1 == expected, timeout=20, message="round 2 events")
        ids = [e.id for e in events.items]
        assert len(ids) == len(set(ids)), "an event was emitted twice"
        assert {e.data["origin"] for e in events.items} == {"poll"}
        slips = [e.data for e in events.items if e.type == "xero.payslip.created.v1"]
        assert slips and all(  # the period as YYYY-MM-DD, what a zap's period parameters match
            len(d["pay_run_period_start_date"]) == 10
            and d["pay_run_period_end_date"] >= d["pay_run_period_start_date"]
            for d in slips
        )
        by_status: dict[str, set[str]] = {}
        for d in slips:
            by_status.setdefault(d["pay_run"]["PayRunStatus"], set()).add(d["pay_run"]["PayRunID"])
        assert by_status["DRAFT"] & by_status["POSTED"], "a draft pay run fired again once posted"
    assert sandbox.stats.rate_limited == 0
