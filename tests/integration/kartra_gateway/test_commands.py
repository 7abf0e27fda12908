"""Every Kartra action and search through the real gateway against the sandbox: the sandbox changes
as Kartra would, the result is the documented one, errors carry Kartra's type code, a redelivered
command calls Kartra once, and 60 commands/s against one connection never draw a 429."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from integration.kartra_gateway.kartra_stack import TENANT, Stack
from waiting import wait_for

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.commands import COMMAND_TYPE, ActionCommand
from kxflow_contracts.envelope import CloudEvent, encode

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


@pytest.fixture(scope="module")
async def producer(stack: Stack) -> Any:
    p = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap_servers, acks="all")
    await p.start()
    yield p
    await p.stop()


def _cmd(stack: Stack, action: str, inp: dict[str, Any], command_id: str | None = None) -> ActionCommand:
    return ActionCommand(
        command_id=command_id or uuid.uuid4().hex,
        tenant=TENANT,
        connection_id=stack.connection["id"],
        action=action,
        input=inp,
        run_id="run-" + uuid.uuid4().hex[:8],
        zap_id="zap-1",
        zap_version=1,
        step_id="s1",
    )


async def _send(stack: Stack, producer: Any, cmd: ActionCommand) -> None:
    value, headers = encode(
        CloudEvent(
            id=f"{cmd.command_id}:{cmd.attempt}", source="/router", type=COMMAND_TYPE, tenant=TENANT, data=cmd
        )
    )
    await producer.send_and_wait(
        stack.settings.topics.kartra_commands,
        value,
        key=cmd.key().encode(),
        headers=[(k, v.encode()) for k, v in headers.items()],
    )


async def _run(stack: Stack, producer: Any, action: str, inp: dict[str, Any]) -> dict[str, Any]:
    cmd = _cmd(stack, action, inp)
    await _send(stack, producer, cmd)
    return await _result(stack, cmd.command_id)


async def _result(stack: Stack, command_id: str, n: int = 1) -> dict[str, Any]:
    records = await wait_for(
        lambda: (
            (
                found := [
                    r
                    for r in stack.on(stack.settings.topics.action_results)
                    if r.event.data["command_id"] == command_id
                ]
            )
            and len(found) >= n
            and found
        ),
        timeout=30,
        message=f"result of {command_id}",
    )
    return records[-1].event.data


def _account(stack: Stack) -> Any:
    return stack.sandbox_app.state.sandbox.accounts[stack.kartra_app["app_id"]]


async def test_every_action_changes_the_sandbox_as_kartra_would(stack: Stack, producer: Any) -> None:
    email = f"lead-{uuid.uuid4().hex[:6]}@example.com"
    acc = _account(stack)

    created = await _run(stack, producer, "kartra.lead.create", {"email": email, "first_name": "Ada"})
    assert created["status"] == "succeeded", created
    lead = acc.lead_by_email(email)
    assert lead is not None and created["output"]["id"] == str(lead.id) and created["output"]["created"]

    steps: list[tuple[str, dict[str, Any], Any]] = [
        ("kartra.lead.tag.assign", {"email": email, "tag_name": "VIP"}, lambda: "VIP" in lead.tags),
        ("kartra.lead.tag.unassign", {"email": email, "tag_name": "VIP"}, lambda: "VIP" not in lead.tags),
        (
            "kartra.lead.list.subscribe",
            {"email": email, "list_name": "Buyers"},
            lambda: "Buyers" in lead.lists,
        ),
        ("kartra.lead.list.unsubscribe", {"email": email, "list_name": "Buyers"}, lambda: not lead.lists),
        (
            "kartra.lead.sequence.subscribe",
            {"lead_id": str(lead.id), "sequence_name": "Welcome", "step": "2"},
            lambda: lead.sequences == {"Welcome": "2"},
        ),
        (
            "kartra.lead.sequence.unsubscribe",
            {"email": email, "sequence_name": "Welcome"},
            lambda: not lead.sequences,
        ),
        (
            "kartra.lead.calendar.subscribe",
            {"email": email, "calendar_name": "First calendar", "class_name": "First class"},
            lambda: ("First calendar", "First class") in lead.calendars,
        ),
        (
            "kartra.lead.calendar.cancel",
            {"email": email, "calendar_name": "First calendar", "class_name": "First class"},
            lambda: not lead.calendars,
        ),
        ("kartra.lead.points.give", {"email": email, "points": 15}, lambda: lead.score == 15),
        ("kartra.lead.points.remove", {"email": email, "points": 5}, lambda: lead.score == 10),
        (
            "kartra.lead.update",
            {"email": email, "last_name": "Lovelace", "new_email": "new-" + email},
            lambda: lead.email == "new-" + email and lead.fields["last_name"] == "Lovelace",
        ),
        (
            "kartra.custom_field.create",
            {
                "custom_field_identifier": "colour",
                "custom_field_type": "drop_down",
                "custom_field_options": ["a", "b"],
            },
            lambda: acc.custom_fields["colour"]["options"] == ["a", "b"],
        ),
    ]
    for action, inp, check in steps:
        result = await _run(stack, producer, action, inp)
        assert result["status"] == "succeeded", (action, result)
        assert check(), action
    email = "new-" + email

    for action, expected in [
        ("kartra.lists.retrieve", "Newsletter"),
        ("kartra.tags.retrieve", "Customer"),
        ("kartra.sequences.retrieve", "Welcome"),
    ]:
        result = await _run(stack, producer, action, {})
        assert expected in result["output"]["items"], action
    fields = await _run(stack, producer, "kartra.custom_fields.retrieve", {})
    assert {f["field_identifier"] for f in fields["output"]["items"]} >= {"vat_number", "colour"}
    pages = await _run(stack, producer, "kartra.pages.retrieve", {})
    assert pages["output"]["items"][0]["page_name"] == "Sales page"

    found = await _run(stack, producer, "kartra.lead.find", {"email": email})
    assert found["output"]["id"] == str(lead.id)
    details = await _run(stack, producer, "kartra.lead_details.find", {"lead_id": str(lead.id)})
    assert details["output"]["score"] == 10 and details["output"]["last_name"] == "Lovelace"
    missing = await _run(stack, producer, "kartra.lead.find", {"email": "nobody@example.com"})
    assert missing["status"] == "not_found" and missing["error"]["code"] == "243"
    foc = await _run(stack, producer, "kartra.lead.find_or_create", {"email": email})
    assert foc["output"]["created"] is False and foc["output"]["id"] == str(lead.id)
    foc_new = await _run(stack, producer, "kartra.lead.find_or_create", {"email": "fresh-" + email})
    assert foc_new["output"]["created"] is True and acc.lead_by_email("fresh-" + email) is not None
    # Zapier's Lead ID: the lead with that id is found (Kartra: the id wins over the email)
    by_id = await _run(
        stack, producer, "kartra.lead.find_or_create", {"lead_id": str(lead.id), "email": "other-" + email}
    )
    assert by_id["output"]["created"] is False and by_id["output"]["id"] == str(lead.id)
    assert acc.lead_by_email("other-" + email) is None
    # every field of the Create New Lead form, from the catalog's example, is stored
    example = CATALOG.get("kartra.lead.create").input_example
    full = await _run(stack, producer, "kartra.lead.create", {**example, "email": "full-" + email})
    stored = acc.lead_by_email("full-" + email)
    assert full["status"] == "succeeded" and stored is not None
    assert {k: stored.fields.get(k) for k in example if k != "email"} == {
        k: v for k, v in example.items() if k != "email"
    }

    sale = (
        await stack.http.post(
            f"{stack.sandbox}/_sandbox/simulate/purchase",
            json={"app_id": acc.app_id, "email": email, "recurring": True},
        )
    ).json()
    tx_id, sub_id = sale["transaction_id"], sale["subscription_id"]
    tx = await _run(stack, producer, "kartra.transaction.find", {"transaction_id": tx_id})
    assert tx["output"]["transaction_full_amount"] == 97.0
    sub = await _run(stack, producer, "kartra.subscription.find", {"subscription_id": sub_id})
    assert sub["output"]["subscription_status"] == "Active"
    paused = await _run(
        stack, producer, "kartra.subscription.status.change", {"subscription_id": sub_id, "status": "pause"}
    )
    assert paused["output"]["type"] == "115" and acc.subscriptions[sub_id]["subscription_status"] == "Paused"
    edited = await _run(
        stack, producer, "kartra.subscription.update", {"subscription_id": sub_id, "amount": 120}
    )
    assert edited["status"] == "succeeded"
    assert acc.subscriptions[sub_id]["subscription_next_scheduled_payment_amount"] == 120.0
    refund = await _run(stack, producer, "kartra.transaction.refund", {"transaction_id": tx_id, "amount": 10})
    assert refund["status"] == "succeeded" and acc.transactions[tx_id]["refunded"] == 10.0
    cancel = await _run(stack, producer, "kartra.subscription.cancel", {"subscription_id": sub_id})
    assert cancel["output"]["transaction_internal_subscription_id"] == sub_id
    assert acc.subscriptions[sub_id]["subscription_status"] == "Cancelled"
    raw = await _run(
        stack, producer, "kartra.api.request", {"body": {"actions": [{"cmd": "retrieve_account_tags"}]}}
    )
    assert "Customer" in raw["output"]["body"]["account_tags"]


@pytest.mark.parametrize(
    ("action", "inp", "code"),
    [
        ("kartra.lead.tag.assign", {"email": "x@example.com", "tag_name": "VIP"}, "243"),
        ("kartra.lead.create", {"email": "dup@example.com"}, "244"),
        ("kartra.transaction.refund", {"transaction_id": "999999"}, "247"),
        ("kartra.subscription.status.change", {"subscription_id": "1", "status": "pause"}, "248"),
    ],
)
async def test_kartra_errors_come_back_with_their_type_code(
    stack: Stack, producer: Any, action: str, inp: dict[str, Any], code: str
) -> None:
    acc = _account(stack)
    if code == "244" and acc.lead_by_email("dup@example.com") is None:
        acc.create_lead({"email": "dup@example.com"})
    result = await _run(stack, producer, action, inp)
    assert result["status"] == "failed"
    assert result["error"]["code"] == code
    assert result["error"]["retryable"] is False


async def test_unknown_tag_fails_with_212_and_bad_input_is_reported(stack: Stack, producer: Any) -> None:
    email = f"t-{uuid.uuid4().hex[:6]}@example.com"
    _account(stack).create_lead({"email": email})
    result = await _run(stack, producer, "kartra.lead.tag.assign", {"email": email, "tag_name": "Nope"})
    assert result["error"]["code"] == "212" and result["error"]["message"] == "Tag does not exist"
    bad = await _run(stack, producer, "kartra.lead.tag.assign", {"tag_name": "VIP"})
    assert bad["error"]["code"] == "invalid_input" and "email or lead_id" in bad["error"]["message"]


async def test_redelivered_command_calls_kartra_once(stack: Stack, producer: Any) -> None:
    acc = _account(stack)
    email = f"r-{uuid.uuid4().hex[:6]}@example.com"
    acc.create_lead({"email": email})
    lead = acc.lead_by_email(email)
    before = acc.calls
    cmd = _cmd(stack, "kartra.lead.points.give", {"email": email, "points": 7})
    await _send(stack, producer, cmd)
    await _send(stack, producer, cmd)
    results = await _result(stack, cmd.command_id, n=2)
    assert results["status"] == "succeeded"
    assert acc.calls - before == 1
    assert lead.score == 7


async def test_sixty_commands_per_second_draw_no_429(stack: Stack, producer: Any) -> None:
    acc = _account(stack)
    email = f"burst-{uuid.uuid4().hex[:6]}@example.com"
    acc.create_lead({"email": email})
    rate_limited_before = acc.rate_limited
    cmds = [
        _cmd(stack, "kartra.lead.tag.assign", {"email": email, "tag_name": ("VIP", "Customer")[i % 2]})
        for i in range(90)
    ]
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, cmd in enumerate(cmds):  # 60 per second, paced by the clock (the pace is the behaviour)
        await asyncio.sleep(max(0.0, start + i / 60 - loop.time()))  # the send pace under test
        await _send(stack, producer, cmd)
    for cmd in cmds:
        assert (await _result(stack, cmd.command_id))["status"] == "succeeded"
    assert acc.rate_limited == rate_limited_before
