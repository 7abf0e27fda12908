"""Kartra inbound-API commands (reference §1.7): each returns its answer object and the outbound
events its state change fires (``(action, lead, action_details)`` or ``("ipn", lead, fields)``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kxflow_sandboxes.kartra.state import EST, IDENT, STEP, Account, KartraError, Lead, require

Event = tuple[str, Lead, dict[str, Any]]
Result = tuple[dict[str, Any], list[Event]]
LEAD_CMDS = {
    "edit_lead", "search_lead", "assign_tag", "unassign_tag", "subscribe_lead_to_list",
    "unsubscribe_lead_from_list", "give_points_to_lead", "remove_points_from_lead",
    "subscribe_lead_to_sequence_at_step", "unsubscribe_lead_from_sequence", "calendar_subscribe",
    "calendar_cancel", "retrieve_transactions_from_lead", "retrieve_subscriptions_from_lead",
}  # fmt: skip


def ok(message: str, type_: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "Success", "message": message, **extra}
    if type_:
        out["type"] = type_
    return out


def _tag(acc: Account, lead: Lead, a: dict, assign: bool) -> Result:
    name = require(a.get("tag_name"), "211" if assign else "213", "Tag cannot be empty")
    if name not in acc.tags:
        raise KartraError("212" if assign else "214", "Tag does not exist")
    details = {"tag": {"tag_id": acc.tags[name], "tag_name": name}}
    if assign:
        changed = name not in lead.tags
        lead.tags.add(name)
        return ok("Tag added to lead", "103"), [("assign_tag", lead, details)] if changed else []
    changed = name in lead.tags
    lead.tags.discard(name)
    return ok("Tag removed from lead", "104"), [("unassign_tag", lead, details)] if changed else []


def _list(acc: Account, lead: Lead, a: dict, subscribe: bool) -> Result:
    name = require(a.get("list_name"), "207" if subscribe else "208", "List cannot be empty")
    if name not in acc.lists:
        raise KartraError("231" if subscribe else "209", "List does not exist")
    details = {"list": {"list_id": acc.lists[name], "list_name": name}}
    if subscribe:
        changed = name not in lead.lists
        lead.lists.add(name)
        return ok("Lead subscribed to list", "101"), [("list_subscription", lead, details)] if changed else []
    changed = name in lead.lists
    lead.lists.discard(name)
    return ok("Lead unsubscribed from list", "101"), [
        ("list_unsubscription", lead, details)
    ] if changed else []


def _points(lead: Lead, a: dict, give: bool) -> Result:
    raw = require(a.get("points"), "215" if give else "217", "Points cannot be empty")
    if not raw.lstrip("-").isdigit():
        raise KartraError("227" if give else "228", "Points is not a number")
    lead.score += int(raw) if give else -int(raw)
    return (ok("Points added to lead", "105") if give else ok("Points removed from lead", "106")), []


def _sequence(acc: Account, lead: Lead, a: dict) -> Result:
    name = require(a.get("sequence_name"), "226", "Sequence cannot be empty")
    step = require(a.get("step"), "225", "Step cannot be empty")
    if name not in acc.sequences:
        raise KartraError("219", "Sequence does not exist")
    if not STEP.match(step):
        raise KartraError("229", "Step has to be alphanumeric")
    if step not in acc.sequences[name]["steps"]:
        raise KartraError("230", "Step does not exist")
    lead.sequences[name] = step
    details = {"sequence": {"sequence_id": acc.sequences[name]["id"], "sequence_name": name}}
    return ok("Lead added to sequence", "107"), [("sequence_subscription", lead, details)]


def _unsequence(acc: Account, lead: Lead, a: dict) -> Result:
    name = require(a.get("sequence_name"), "226", "Sequence cannot be empty")
    if name not in acc.sequences:
        raise KartraError("220", "Sequence does not exist")
    was = lead.sequences.pop(name, None)
    details = {"sequence": {"sequence_id": acc.sequences[name]["id"], "sequence_name": name}}
    return ok("Lead removed from sequence"), [("sequence_unsubscription", lead, details)] if was else []


def _calendar(acc: Account, lead: Lead, a: dict, subscribe: bool) -> Result:
    cal_name = require(a.get("calendar_name"), "255", "Calendar cannot be empty")
    class_name = require(a.get("class_name"), "256", "Class cannot be empty")
    cal = acc.calendars.get(cal_name)
    if cal is None:
        raise KartraError("257", "Calendar does not exist")
    if class_name not in cal["classes"]:
        raise KartraError("258", "Class does not exist")
    if subscribe and a.get("starting_date"):
        try:
            when = datetime.strptime(
                f"{a['starting_date']} {a.get('starting_hour') or '00:00'}", "%d %b %Y %H:%M"
            )
        except ValueError:
            raise KartraError("260", "Invalid date format") from None
        if when.replace(tzinfo=EST) < datetime.now(EST):
            raise KartraError("261", "Date is in the past")
    key = (cal_name, class_name)
    details = {
        "calendar": {
            "calendar_id": cal["id"], "calendar_name": cal_name, "class_id": cal["classes"][class_name],
            "class_name": class_name, "hosts": [], "vendor_timezone": "America/New_York",
            "calendar_subscription_id": 1200 + lead.id % 1000, "events": [],
        }
    }  # fmt: skip
    if subscribe:
        lead.calendars.add(key)
        return ok("Lead subscribed to class", "112"), [("calendar_subscribe", lead, details)]
    if key not in lead.calendars:
        raise KartraError("259", "No active/pending calendar subscription for this lead")
    lead.calendars.discard(key)
    return ok("Lead unsubscribed from class", "113"), [("calendar_cancel", lead, details)]


def _custom_field(acc: Account, a: dict) -> Result:
    ident = require(a.get("custom_field_identifier"), "265", "Custom field identifier cannot be empty")
    if not IDENT.match(ident):
        raise KartraError("263", "Custom field identifier has invalid characters")
    if ident in acc.custom_fields:
        raise KartraError("264", "Custom field already exists or is not allowed")
    ftype = a.get("custom_field_type") or "input_field"
    if ftype not in ("input_field", "text_area", "drop_down", "radio_button", "checkbox"):
        raise KartraError("269", "Custom field type not valid")
    options = a.get("custom_field_options") or []
    if ftype not in ("input_field", "text_area"):
        if not isinstance(options, list):
            raise KartraError("270", "Custom field options not an array")
        if any(not (o or {}).get("option_name") for o in options):
            raise KartraError("272", "Custom field option cannot be empty")
        if len(options) < 2:
            raise KartraError("273", "At least two custom field options are required")
    acc.custom_fields[ident] = {
        "field_id": str(len(acc.custom_fields) + 10),
        "field_type": ftype,
        "options": [o["option_name"] for o in options] if isinstance(options, list) else [],
    }
    return ok("Custom Field created", "114"), []


def _tx(acc: Account, a: dict) -> dict[str, Any]:
    tx = acc.transactions.get(str(a.get("transaction_id") or ""))
    if tx is None:
        raise KartraError("247", "Transaction doesn't exist")
    return tx


def _refund(acc: Account, a: dict) -> Result:
    tx = _tx(acc, a)
    if tx["transaction_type"] != "sale":
        raise KartraError("253", "Transaction type cannot be refunded or cancelled")
    remaining = round(tx["transaction_full_amount"] - tx["refunded"], 2)
    if remaining <= 0:
        raise KartraError("251", "Transaction already refunded")
    amount = remaining
    if a.get("refund_amount") not in (None, ""):
        try:
            amount = float(a["refund_amount"])
        except ValueError:
            raise KartraError("268", "Invalid amount") from None
        if amount <= 0 or amount > remaining:
            raise KartraError("268", "Invalid amount")
    tx["refunded"] = round(tx["refunded"] + amount, 2)
    partial = tx["refunded"] < tx["transaction_full_amount"]
    refund_id = str(next(acc.tx_ids))
    kind = "partial_refund" if partial else "refund"
    acc.transactions[refund_id] = {
        **tx, "transaction_id": refund_id, "transaction_type": kind, "transaction_full_amount": amount,
        "parent_id": tx["transaction_id"], "refunded": 0.0,
    }  # fmt: skip
    lead = acc.leads[int(tx["lead_id"])]
    details = {"transaction_details": {**_public_tx(acc.transactions[refund_id])}}
    events: list[Event] = [(f"{'partial_' if partial else ''}refund_product", lead, details)]
    events.append(("ipn", lead, acc.transactions[refund_id]))
    return {"status": "Success", "transaction_refunded": refund_id}, events


def _public_tx(tx: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tx.items() if k not in ("refunded", "parent_id", "subscription_id")}


def _sub(acc: Account, sub_id: Any) -> dict[str, Any]:
    sub = acc.subscriptions.get(str(sub_id or ""))
    if sub is None:
        raise KartraError("248", "Subscription doesn't exist")
    return sub


def _cancel(acc: Account, a: dict) -> Result:
    if a.get("transaction_id"):
        tx = _tx(acc, a)
        if not tx.get("subscription_id"):
            raise KartraError("249", "Transaction not linked to a recurring subscription")
        sub = _sub(acc, tx["subscription_id"])
    else:
        sub = _sub(acc, a.get("transaction_internal_subscription_id"))
    if sub["subscription_status"] == "Cancelled":
        raise KartraError("252", "Subscription already cancelled")
    sub["subscription_status"] = "Cancelled"
    lead = acc.leads[int(sub["subscription_lead_id"])]
    source_tx = next(
        t for t in acc.transactions.values() if t.get("subscription_id") == sub["subscription_id"]
    )
    details = {"transaction_details": {**_public_tx(source_tx), "transaction_type": "cancellation"}}
    answer = {
        "status": "Success",
        "transaction_subscription_id": sub["transaction_subscription_id"],
        "transaction_internal_subscription_id": sub["subscription_id"],
    }
    return answer, [
        ("cancel_subscription", lead, details),
        ("ipn", lead, {**source_tx, "transaction_type": "cancellation"}),
    ]


def _modify(acc: Account, a: dict) -> Result:
    sub = _sub(acc, a.get("subscription_id"))
    change = a.get("subscription_status_modification")
    if change not in ("cancel", "pause", "unpause"):
        raise KartraError("274", "Wrong subscription status")
    if sub["subscription_status"] in ("Cancelled", "Terminated"):
        raise KartraError("275", "Cancelled or terminated subscriptions cannot be updated")
    sub["subscription_status"] = {"cancel": "Cancelled", "pause": "Paused", "unpause": "Active"}[change]
    return ok("Subscription modified", "115"), []


def _edit_sub(acc: Account, a: dict) -> Result:
    sub = _sub(acc, a.get("subscription_id"))
    if sub["subscription_status"] in ("Cancelled", "Terminated"):
        raise KartraError("275", "Cancelled or terminated subscriptions cannot be updated")
    editable = {k: v for k, v in a.items() if k.startswith("subscription_") and k != "subscription_id"}
    if not editable:
        raise KartraError("285", "No editable parameters")
    if (
        "subscription_product_quantity" in editable
        and not 1 <= int(editable["subscription_product_quantity"]) <= 9999
    ):
        raise KartraError("276", "Quantity must be between 1 and 9,999")
    if "subscription_amount" in editable:
        try:
            amount = float(editable["subscription_amount"])
        except ValueError:
            raise KartraError("278", "Invalid number") from None
        if not 1.0 <= amount <= 9999.99:
            raise KartraError("277", "Price must be between 1.00 and 9,999.99")
        sub["subscription_next_scheduled_payment_amount"] = amount
    recurrence = editable.pop("subscription_recurrence", None)
    if isinstance(recurrence, dict) and recurrence.get("recurring_period_1"):
        sub["subscription_recurring_period"] = recurrence["recurring_period_1"]
    for key, value in editable.items():
        if key in sub:
            sub[key] = value
    return ok("Subscription modified", "115"), []


def run_command(acc: Account, a: dict[str, Any], lead_data: Any) -> Result:
    cmd = a.get("cmd")
    if not cmd:
        raise KartraError("254", "'cmd' is required")
    lead = acc.resolve(lead_data) if cmd in LEAD_CMDS else None
    handlers: dict[str, Callable[[], Result]] = {
        "create_lead": lambda: (
            {
                "status": "Success",
                "lead_details": {
                    "id": str(acc.create_lead(lead_data if isinstance(lead_data, dict) else {}).id)
                },
            },
            [],
        ),
        "edit_lead": lambda: _edit(acc, lead, lead_data),
        "search_lead": lambda: (ok("Lead found", lead_details=acc.lead_block(lead)), []),
        "assign_tag": lambda: _tag(acc, lead, a, True),
        "unassign_tag": lambda: _tag(acc, lead, a, False),
        "subscribe_lead_to_list": lambda: _list(acc, lead, a, True),
        "unsubscribe_lead_from_list": lambda: _list(acc, lead, a, False),
        "give_points_to_lead": lambda: _points(lead, a, True),
        "remove_points_from_lead": lambda: _points(lead, a, False),
        "subscribe_lead_to_sequence_at_step": lambda: _sequence(acc, lead, a),
        "unsubscribe_lead_from_sequence": lambda: _unsequence(acc, lead, a),
        "calendar_subscribe": lambda: _calendar(acc, lead, a, True),
        "calendar_cancel": lambda: _calendar(acc, lead, a, False),
        "create_custom_field": lambda: _custom_field(acc, a),
        "retrieve_account_lists": lambda: ({"status": "Success", "account_lists": list(acc.lists)}, []),
        "retrieve_account_tags": lambda: ({"status": "Success", "account_tags": list(acc.tags)}, []),
        "retrieve_account_sequences": lambda: (
            {"status": "Success", "account_sequences": list(acc.sequences)},
            [],
        ),
        "retrieve_account_pages": lambda: ({"status": "Success", "account_pages": list(acc.pages)}, []),
        "retrieve_custom_fields": lambda: ({"status": "Success", "custom_fields": _custom_fields(acc)}, []),
        "search_transaction": lambda: (
            _tx(acc, a) and {"status": "Success", "message": "Transaction exists"},
            [],
        ),
        "get_transaction_details": lambda: (
            {"status": "Success", "transaction_details": _public_tx(_tx(acc, a))},
            [],
        ),
        "retrieve_transactions_from_lead": lambda: (
            {
                "transaction_list": [
                    _public_tx(t) for t in acc.transactions.values() if t["lead_id"] == str(lead.id)
                ]
            },
            [],
        ),
        "refund_transaction": lambda: _refund(acc, a),
        "cancel_transaction": lambda: _cancel(acc, a),
        "get_subscription_details": lambda: (
            {"status": "Success", "subscription_details": dict(_sub(acc, a.get("subscription_id")))},
            [],
        ),
        "search_subscription": lambda: (
            _sub(acc, a.get("subscription_id")) and {"status": "Success", "message": "Subscription exists"},
            [],
        ),
        "retrieve_subscriptions_from_lead": lambda: (
            {
                "subscriptions_list": [
                    s for s in acc.subscriptions.values() if s["subscription_lead_id"] == str(lead.id)
                ]
            },
            [],
        ),
        "modify_subscription_status": lambda: _modify(acc, a),
        "edit_subscription": lambda: _edit_sub(acc, a),
    }
    handler = handlers.get(str(cmd))
    if handler is None:
        raise KartraError("262", "App does not have permission to execute this CMD")
    return handler()


def _edit(acc: Account, lead: Lead, data: dict[str, Any]) -> Result:
    new_email = data.get("new_email")
    if new_email:
        other = acc.lead_by_email(new_email)
        if other is not None and other.id != lead.id:
            raise KartraError("244", "Lead already exists")
        lead.email = new_email
    acc._apply(lead, data)
    return ok("Lead edited", lead_details=acc.lead_block(lead)), []


def _custom_fields(acc: Account) -> list[dict[str, Any]]:
    out = []
    for ident, cf in acc.custom_fields.items():
        item: dict[str, Any] = {
            "field_id": cf["field_id"],
            "field_identifier": ident,
            "field_type": cf["field_type"],
        }
        if cf["options"]:
            item["field_value"] = [
                {"option_id": str(i + 1), "option_value": o} for i, o in enumerate(cf["options"])
            ]
        out.append(item)
    return out
