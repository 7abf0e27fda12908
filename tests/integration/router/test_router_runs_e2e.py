"""End to end through Kafka and FerretDB with a fake gateway consumer (issue 5, "Done when")."""

from __future__ import annotations

from typing import Any

import pytest
from design_zap import DESIGN_EXAMPLE
from router_harness import ACME, ok, publish_events, read_all, record_json, trigger_event
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand, command_id
from kxflow_contracts.results import ActionError, ActionResult
from zap_router.testing import purchase_event

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

THREE_STEPS = DESIGN_EXAMPLE


async def create_zap(router, spec: dict[str, Any]) -> dict[str, Any]:
    response = await router.http.post("/v1/zaps", json=spec, headers=ACME)
    assert response.status_code == 201, response.text
    return response.json()


async def send(router, event_id: str, **data: Any) -> None:
    topics = router.services.settings.topics
    event = trigger_event(event_id, "acme", purchase_event(connection_id="kartra-main", **data))
    await publish_events(
        router.services.settings.kafka_bootstrap_servers, topics.kartra_events, [("acme:L1", event)]
    )


async def run_of(router, zap_id: str, event_id: str, status: str | None = None, timeout: float = 45) -> dict:
    from zap_router.domain.runs import run_id_for

    run_id = run_id_for(zap_id, event_id)

    async def fetch() -> dict | None:
        response = await router.http.get(f"/v1/runs/{run_id}", headers=ACME)
        if response.status_code != 200:
            return None
        body = response.json()
        return body if status is None or body["status"] == status else None

    return await wait_for(fetch, timeout=timeout, message=f"run {run_id} {status or ''}")


async def test_three_step_zap_uses_earlier_outputs_and_completes(router):
    router.gateway.responders.update(
        {
            "xero.contact.find_or_create": ok({"ContactID": "C-42"}),
            "xero.sales_invoice.create": ok({"InvoiceID": "INV-7"}),
            "xero.payment.create": ok({"PaymentID": "P-9"}),
        }
    )
    zap = await create_zap(router, THREE_STEPS)
    await send(router, "evt-1", amount=49.5)
    run = await run_of(router, zap["id"], "evt-1", "succeeded")

    assert run["zap_version"] == 1
    assert [run["steps"][s]["status"] for s in run["step_order"]] == ["succeeded"] * 3
    invoice = router.gateway.commands("xero.sales_invoice.create")[0]
    assert invoice.input["Contact"] == {"ContactID": "C-42"}
    assert invoice.input["LineItems"][0]["UnitAmount"] == 49.5  # a number stays a number
    paid = router.gateway.commands("xero.payment.create")[0]
    assert paid.input["Invoice"] == {"InvoiceID": "INV-7"}
    assert paid.input["Date"] == "2026-11-20"
    assert paid.command_id == command_id(zap["id"], "evt-1", "paid")
    assert run["steps"]["invoice"]["output"] == {"InvoiceID": "INV-7"}
    assert run["steps"]["contact"]["input"]["Name"] == "Ada Lovelace"

    # Every transition was published on runs.v1 for other teams.
    topics = router.services.settings.topics
    records = await read_all(router.services.settings.kafka_bootstrap_servers, topics.runs, expect=5)
    transitions = [record_json(r)["transition"] for r in records if record_json(r)["run_id"] == run["id"]]
    assert transitions == ["started", "step_done", "step_done", "step_done", "finished"]


async def test_filtered_event_records_filtered_and_sends_nothing(router):
    zap = await create_zap(router, THREE_STEPS)
    await send(router, "evt-free", amount=0)
    run = await run_of(router, zap["id"], "evt-free", "filtered")
    assert run["steps"] == {}
    assert run["filter"][0]["held"] is False
    assert router.gateway.commands() == []


async def test_search_not_found_halts_the_run(router):
    spec = {
        "name": "find then tag",
        "trigger": THREE_STEPS["trigger"],
        "steps": [
            {
                "id": "find",
                "action": "xero.contact.find",
                "connection": "xero-acme-au",
                "input": {"EmailAddress": "{{ trigger.lead.email }}"},
            },
            {
                "id": "tag",
                "action": "kartra.lead.tag.assign",
                "connection": "kartra-main",
                "input": {"lead_email": "{{ trigger.lead.email }}", "tag": "{{ steps.find.ContactID }}"},
            },
        ],
    }
    router.gateway.responders["xero.contact.find"] = lambda cmd: ActionResult(
        command_id=cmd.command_id, run_id=cmd.run_id, step_id=cmd.step_id, status="not_found"
    )
    zap = await create_zap(router, spec)
    await send(router, "evt-nf")
    run = await run_of(router, zap["id"], "evt-nf", "halted")
    assert run["steps"]["find"]["status"] == "not_found"
    assert "tag" not in run["steps"]
    assert router.gateway.commands("kartra.lead.tag.assign") == []


async def test_retryable_failure_is_retried_on_the_ladder_and_succeeds(router):
    attempts: list[int] = []

    def flaky(cmd: ActionCommand) -> ActionResult:
        attempts.append(cmd.attempt)
        if cmd.attempt == 1:
            error = ActionError(code="rate_limited", message="429 from Xero", retryable=True, http_status=429)
            return ActionResult(
                command_id=cmd.command_id,
                run_id=cmd.run_id,
                step_id=cmd.step_id,
                status="failed",
                error=error,
            )
        return ok({"ContactID": "C-1"})(cmd)

    spec = {**THREE_STEPS, "steps": THREE_STEPS["steps"][:1]}
    router.gateway.responders["xero.contact.find_or_create"] = flaky
    zap = await create_zap(router, spec)
    await send(router, "evt-retry")
    run = await run_of(router, zap["id"], "evt-retry", "waiting")
    assert run["steps"]["contact"]["error"]["code"] == "rate_limited"

    engine = router.services.engine
    router.clock.advance(59)
    assert await engine.tick() == 0  # not due before the first rung (60 s)
    router.clock.advance(1)
    assert await engine.tick() == 1
    run = await run_of(router, zap["id"], "evt-retry", "succeeded")
    assert attempts == [1, 2]
    assert run["steps"]["contact"]["attempt"] == 2
    cmds = router.gateway.commands()
    assert {c.command_id for c in cmds} == {command_id(zap["id"], "evt-retry", "contact")}


async def test_retries_stop_after_the_last_rung_with_the_last_error(router):
    def always_down(cmd: ActionCommand) -> ActionResult:
        error = ActionError(code="upstream_5xx", message=f"503 on attempt {cmd.attempt}", retryable=True)
        return ActionResult(
            command_id=cmd.command_id, run_id=cmd.run_id, step_id=cmd.step_id, status="failed", error=error
        )

    router.services.engine.ladder = router.services.engine.ladder[:2]
    router.gateway.responders["xero.contact.find_or_create"] = always_down
    zap = await create_zap(router, {**THREE_STEPS, "steps": THREE_STEPS["steps"][:1]})
    await send(router, "evt-down")
    await run_of(router, zap["id"], "evt-down", "waiting")
    router.clock.advance(60)
    assert await router.services.engine.tick() == 1
    await wait_for(lambda: len(router.gateway.commands()) == 2, message="second attempt")
    await run_of(router, zap["id"], "evt-down", "waiting")
    router.clock.advance(300)
    assert await router.services.engine.tick() == 1
    run = await run_of(router, zap["id"], "evt-down", "failed")
    assert run["error"]["message"] == "503 on attempt 3"


async def test_permanent_failure_fails_at_once_with_the_upstream_error(router):
    details = [{"Message": "Account code '200' is not a valid code"}]

    def rejected(cmd: ActionCommand) -> ActionResult:
        error = ActionError(
            code="validation", message="A validation exception occurred", http_status=400, details=details
        )
        return ActionResult(
            command_id=cmd.command_id, run_id=cmd.run_id, step_id=cmd.step_id, status="failed", error=error
        )

    router.gateway.responders["xero.contact.find_or_create"] = rejected
    zap = await create_zap(router, THREE_STEPS)
    await send(router, "evt-perm")
    run = await run_of(router, zap["id"], "evt-perm", "failed")
    assert run["error"]["details"] == details
    router.clock.advance(hours=24)
    assert await router.services.engine.tick() == 0
    assert len(router.gateway.commands()) == 1


async def test_replay_resumes_from_the_failed_step_without_resending_succeeded_ones(router):
    calls: dict[str, int] = {}

    def invoice_fails_once(cmd: ActionCommand) -> ActionResult:
        calls["invoice"] = calls.get("invoice", 0) + 1
        if calls["invoice"] == 1:
            error = ActionError(code="validation", message="Contact is archived", http_status=400)
            return ActionResult(
                command_id=cmd.command_id,
                run_id=cmd.run_id,
                step_id=cmd.step_id,
                status="failed",
                error=error,
            )
        return ok({"InvoiceID": "INV-2"})(cmd)

    router.gateway.responders.update(
        {
            "xero.contact.find_or_create": ok({"ContactID": "C-5"}),
            "xero.sales_invoice.create": invoice_fails_once,
            "xero.payment.create": ok({"PaymentID": "P-2"}),
        }
    )
    zap = await create_zap(router, THREE_STEPS)
    await send(router, "evt-replay")
    failed = await run_of(router, zap["id"], "evt-replay", "failed")
    assert failed["current_step"] == "invoice"

    response = await router.http.post(f"/v1/runs/{failed['id']}/replay", headers=ACME)
    assert response.status_code == 200, response.text
    run = await run_of(router, zap["id"], "evt-replay", "succeeded")

    assert len(router.gateway.commands("xero.contact.find_or_create")) == 1  # not repeated
    invoices = router.gateway.commands("xero.sales_invoice.create")
    assert [c.attempt for c in invoices] == [1, 2]
    assert len({c.command_id for c in invoices}) == 1  # same id: the gateway ledger dedupes
    assert invoices[1].input["Contact"] == {"ContactID": "C-5"}  # from the succeeded step's output
    assert run["replays"] == 1
    again = await router.http.post(f"/v1/runs/{failed['id']}/replay", headers=ACME)
    assert again.status_code == 409


async def test_redelivered_event_creates_nothing_new(router):
    router.gateway.responders["xero.contact.find_or_create"] = ok({"ContactID": "C-1"})
    zap = await create_zap(router, {**THREE_STEPS, "steps": THREE_STEPS["steps"][:1]})
    await send(router, "evt-dup")
    await send(router, "evt-dup")
    await send(router, "evt-other")
    await run_of(router, zap["id"], "evt-other", "succeeded")
    await run_of(router, zap["id"], "evt-dup", "succeeded")
    listing = (await router.http.get("/v1/runs", params={"zap_id": zap["id"]}, headers=ACME)).json()
    assert len(listing["items"]) == 2
    assert len(router.gateway.commands()) == 2


async def test_a_result_whose_run_write_fails_is_announced_before_and_applied_once(router):
    """The store fails at the run write (a crash there): the step's lifecycle events are already on
    runs.v1, the redelivered result applies, and the events carry the same ce_ids both times."""
    from pymongo.errors import AutoReconnect

    router.gateway.responders["xero.contact.find_or_create"] = ok({"ContactID": "C-9"})
    zap = await create_zap(router, {**THREE_STEPS, "steps": THREE_STEPS["steps"][:1]})
    runs = router.services.engine.runs
    real, failed = runs.update_if, []

    async def fail_once(*args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(True)
            raise AutoReconnect("store went away at the run write")
        return await real(*args, **kwargs)

    runs.update_if = fail_once
    try:
        await send(router, "evt-crash")
        run = await run_of(router, zap["id"], "evt-crash", "succeeded")
    finally:
        runs.update_if = real
    assert failed
    topics = router.services.settings.topics
    records = await read_all(router.services.settings.kafka_bootstrap_servers, topics.runs, expect=4)
    headers = [
        {k: v.decode() for k, v in r.headers} for r in records if record_json(r)["run_id"] == run["id"]
    ]
    step_done = [h["ce_id"] for h in headers if h["ce_type"] == "kxflow.run.step_done.v1"]
    finished = [h["ce_id"] for h in headers if h["ce_type"] == "kxflow.run.finished.v1"]
    assert len(step_done) == 2 and len(set(step_done)) == 1, step_done  # announced, then again
    assert len(finished) == 2 and len(set(finished)) == 1, finished
    assert len(router.gateway.commands()) == 1


async def test_an_event_no_zap_listens_to_is_skipped_but_counted_as_unmatched(router):
    """The consumer's fast path skips events no zap of the tenant watches without decoding them;
    the events counter must still see them, or dashboards undercount what the router consumed."""
    registry = router.app.state.metrics.registry

    def unmatched() -> float:
        value = registry.get_sample_value(
            "kxflow_router_events_total", {"type": "kartra.product.purchased.v1", "outcome": "unmatched"}
        )
        return value or 0.0

    before = unmatched()
    await send(router, "evt-nobody-listens", amount=10)
    await wait_for(lambda: unmatched() == before + 1, timeout=30, message="the skipped event counted")


async def test_bulk_replay_is_bounded_and_a_second_call_continues(router):
    """``POST /v1/zaps/{id}/replay`` replays at most ``limit`` runs (never a page more) and says
    whether runs are left; calling again replays the rest (issue 11, item 6)."""

    def rejected(cmd: ActionCommand) -> ActionResult:
        error = ActionError(code="validation", message="Contact is archived", http_status=400)
        return ActionResult(
            command_id=cmd.command_id, run_id=cmd.run_id, step_id=cmd.step_id, status="failed", error=error
        )

    router.gateway.responders["xero.contact.find_or_create"] = rejected
    zap = await create_zap(router, {**THREE_STEPS, "steps": THREE_STEPS["steps"][:1]})
    for i in range(3):
        await send(router, f"evt-bulk-{i}")
    for i in range(3):
        await run_of(router, zap["id"], f"evt-bulk-{i}", "failed")
    router.gateway.responders["xero.contact.find_or_create"] = ok({"ContactID": "C-9"})

    url = f"/v1/zaps/{zap['id']}/replay"
    first = (await router.http.post(url, json={"limit": 2}, headers=ACME)).json()
    assert (len(first["replayed"]), first["refused"], first["more"]) == (2, [], True)
    second = (await router.http.post(url, json={"limit": 2}, headers=ACME)).json()
    assert (len(second["replayed"]), second["more"]) == (1, False)
    assert not set(first["replayed"]) & set(second["replayed"])
    for i in range(3):
        await run_of(router, zap["id"], f"evt-bulk-{i}", "succeeded")
