"""Each Kartra action and search as a request to build and a response part to read (pure).

A spec says which ``cmd`` an action sends, how its input becomes Kartra's ``lead``/``actions``
fields, how the answer becomes the action's output, whether repeating it is harmless, and which
Kartra ``type`` codes mean "already done" when an earlier execution of the same command may have
reached Kartra (the action ledger's takeover or a retry after an unknown outcome).
Multi-call actions (find transaction, find-or-create, API request) are composed in the use case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from kartra_gateway.domain.normalize import normalize_lead
from kartra_gateway.domain.payloads import as_float, as_int, as_str
from kxflow_contracts.catalog.base import NoParams
from kxflow_contracts.models import kartra_actions as m

Fields = dict[str, Any]


@dataclass(frozen=True)
class ActionSpec:
    key: str
    cmd: str
    input_model: type[BaseModel]
    build: Callable[[Any], Fields]
    output: Callable[[dict[str, Any], Any], dict[str, Any]]
    idempotent: bool = True
    already_done: frozenset[str] = field(default_factory=frozenset)
    search: bool = False


def lead_block(inp: Any) -> dict[str, Any]:
    """``lead[id]`` and/or ``lead[email]`` (Kartra: id wins when both are sent)."""
    block: dict[str, Any] = {}
    if getattr(inp, "lead_id", None):
        block["id"] = inp.lead_id
    if getattr(inp, "email", None):
        block["email"] = inp.email
    return block


def _lead_cmd(cmd: str, *params: str) -> Callable[[Any], Fields]:
    def build(inp: Any) -> Fields:
        action = {"cmd": cmd, **{p: getattr(inp, p) for p in params if getattr(inp, p) is not None}}
        return {"lead": lead_block(inp), "actions": [action]}

    return build


def _message(part: dict[str, Any], inp: Any) -> dict[str, Any]:
    return {
        "status": part.get("status", "Success"),
        "message": part.get("message"),
        "type": as_str(part.get("type")),
        "lead_id": getattr(inp, "lead_id", None),
        "email": getattr(inp, "email", None),
    }


def lead_fields(inp: m.LeadFields, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    data = inp.model_dump(exclude_none=True, exclude={"custom_fields", *exclude})
    if inp.custom_fields:
        data["custom_fields"] = [cf.model_dump() for cf in inp.custom_fields]
    return data


def build_create_lead(inp: m.CreateLeadInput) -> Fields:
    # a find-or-create's lead id only finds; Kartra assigns the id of a lead it creates
    return {"lead": lead_fields(inp, exclude=("lead_id",)), "actions": [{"cmd": "create_lead"}]}


def build_edit_lead(inp: m.EditLeadInput) -> Fields:
    lead = {**lead_fields(inp, exclude=("lead_id", "email", "new_email")), **lead_block(inp)}
    if inp.new_email:
        lead["new_email"] = inp.new_email
    return {"lead": lead, "actions": [{"cmd": "edit_lead"}]}


def build_search_lead(inp: Any) -> Fields:
    return {"lead": lead_block(inp), "actions": [{"cmd": "search_lead"}]}


def build_get_lead(inp: Any) -> Fields:
    return {"get_lead": lead_block(inp)}


def lead_output(part: dict[str, Any], inp: Any, created: bool = False) -> dict[str, Any]:
    details = part.get("lead_details") if isinstance(part.get("lead_details"), dict) else {}
    lead = normalize_lead(details)
    if not lead.get("email") and getattr(inp, "email", None):
        lead["email"] = getattr(inp, "new_email", None) or inp.email
    if not lead.get("id") and getattr(inp, "lead_id", None):
        lead["id"] = inp.lead_id
    return {**lead, "created": created}


def build_custom_field(inp: m.CustomFieldCreateInput) -> Fields:
    action: dict[str, Any] = {
        "cmd": "create_custom_field",
        "custom_field_identifier": inp.custom_field_identifier,
        "custom_field_type": inp.custom_field_type,
    }
    if inp.custom_field_options:
        action["custom_field_options"] = [{"option_name": o} for o in inp.custom_field_options]
    return {"actions": [action]}


def build_status_change(inp: m.ChangeSubscriptionStatusInput) -> Fields:
    return {
        "actions": [
            {
                "cmd": "modify_subscription_status",
                "subscription_id": inp.subscription_id,
                "subscription_status_modification": inp.status,
            }
        ]
    }


def build_edit_subscription(inp: m.EditSubscriptionInput) -> Fields:
    action: dict[str, Any] = {"cmd": "edit_subscription", "subscription_id": inp.subscription_id}
    mapping = {
        "product_id": "subscription_product_id",
        "price_point": "subscription_price_point",
        "next_payment_date": "subscription_next_payment_date",
        "amount": "subscription_amount",
        "quantity": "subscription_product_quantity",
        "installments_left": "subscription_installments_left",
        "tax_percent": "subscription_tax_percent",
    }
    for attr, name in mapping.items():
        value = getattr(inp, attr)
        if value is not None:
            action[name] = value
    recurrence = {
        k: v
        for k, v in (
            ("recurring_period_1", inp.recurring_period_1),
            ("recurring_period_2", inp.recurring_period_2),
        )
        if v
    }
    if recurrence:
        action["subscription_recurrence"] = recurrence
    return {"actions": [action]}


def _optional_lead(inp: Any) -> Fields:
    block = lead_block(inp)
    return {"lead": block} if block else {}


def build_cancel_subscription(inp: m.CancelSubscriptionInput) -> Fields:
    action: dict[str, Any] = {"cmd": "cancel_transaction"}
    if inp.transaction_id:
        action["transaction_id"] = inp.transaction_id
    else:
        action["transaction_internal_subscription_id"] = inp.subscription_id
    return {**_optional_lead(inp), "actions": [action]}


def build_refund(inp: m.RefundTransactionInput) -> Fields:
    action: dict[str, Any] = {"cmd": "refund_transaction", "transaction_id": inp.transaction_id}
    if inp.amount is not None:
        action["refund_amount"] = f"{inp.amount:.2f}"
    return {**_optional_lead(inp), "actions": [action]}


def _account(cmd: str) -> Callable[[Any], Fields]:
    return lambda _inp: {"actions": [{"cmd": cmd}]}


def _names(key: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    def read(part: dict[str, Any], _inp: Any) -> dict[str, Any]:
        items = part.get(key) or []
        names = [str(i) if not isinstance(i, dict) else str(next(iter(i.values()), "")) for i in items]
        return {"items": names, "count": len(names)}

    return read


def _pages(part: dict[str, Any], _inp: Any) -> dict[str, Any]:
    items = [i if isinstance(i, dict) else {"page_name": str(i)} for i in part.get("account_pages") or []]
    return {"items": items, "count": len(items)}


def _custom_fields(part: dict[str, Any], _inp: Any) -> dict[str, Any]:
    items = normalize_lead({"custom_fields": part.get("custom_fields") or []})["custom_fields"]
    return {"items": items, "count": len(items)}


def _refund_output(part: dict[str, Any], _inp: Any) -> dict[str, Any]:
    return {"transaction_refunded": as_str(part.get("transaction_refunded"))}


def _cancel_output(part: dict[str, Any], _inp: Any) -> dict[str, Any]:
    return {
        "transaction_subscription_id": as_str(part.get("transaction_subscription_id")),
        "transaction_internal_subscription_id": as_str(part.get("transaction_internal_subscription_id")),
    }


def subscription_output(part: dict[str, Any], _inp: Any) -> dict[str, Any]:
    details = part.get("subscription_details") or {}
    return {k: (as_str(v) if not isinstance(v, dict | list) else v) for k, v in details.items()}


def transaction_output(part: dict[str, Any], _inp: Any) -> dict[str, Any]:
    details = dict(part.get("transaction_details") or {})
    out: dict[str, Any] = {
        k: (as_str(v) if not isinstance(v, dict | list) else v) for k, v in details.items()
    }
    if "transaction_full_amount" in details:
        out["transaction_full_amount"] = as_float(details["transaction_full_amount"])
        out["transaction_quantity"] = as_int(details.get("transaction_quantity"))
    return out


def _spec(
    key: str, cmd: str, model: type[BaseModel], build: Callable[[Any], Fields], output: Any, **kw: Any
) -> ActionSpec:
    return ActionSpec(key=key, cmd=cmd, input_model=model, build=build, output=output, **kw)


SPECS: dict[str, ActionSpec] = {
    s.key: s
    for s in (
        _spec(
            "kartra.lead.tag.assign", "assign_tag", m.TagInput, _lead_cmd("assign_tag", "tag_name"), _message
        ),
        _spec(
            "kartra.lead.tag.unassign",
            "unassign_tag",
            m.TagInput,
            _lead_cmd("unassign_tag", "tag_name"),
            _message,
        ),
        _spec(
            "kartra.lead.list.subscribe",
            "subscribe_lead_to_list",
            m.ListInput,
            _lead_cmd("subscribe_lead_to_list", "list_name"),
            _message,
        ),
        _spec(
            "kartra.lead.list.unsubscribe",
            "unsubscribe_lead_from_list",
            m.ListInput,
            _lead_cmd("unsubscribe_lead_from_list", "list_name"),
            _message,
        ),
        _spec(
            "kartra.lead.sequence.subscribe",
            "subscribe_lead_to_sequence_at_step",
            m.SequenceSubscribeInput,
            _lead_cmd("subscribe_lead_to_sequence_at_step", "sequence_name", "step"),
            _message,
        ),
        _spec(
            "kartra.lead.sequence.unsubscribe",
            "unsubscribe_lead_from_sequence",
            m.SequenceUnsubscribeInput,
            _lead_cmd("unsubscribe_lead_from_sequence", "sequence_name"),
            _message,
        ),
        _spec(
            "kartra.lead.calendar.subscribe",
            "calendar_subscribe",
            m.CalendarSubscribeInput,
            _lead_cmd("calendar_subscribe", "calendar_name", "class_name", "starting_date", "starting_hour"),
            _message,
        ),
        _spec(
            "kartra.lead.calendar.cancel",
            "calendar_cancel",
            m.CalendarCancelInput,
            _lead_cmd("calendar_cancel", "calendar_name", "class_name"),
            _message,
            already_done=frozenset({"259"}),
        ),
        _spec(
            "kartra.custom_field.create",
            "create_custom_field",
            m.CustomFieldCreateInput,
            build_custom_field,
            _message,
            idempotent=False,
            already_done=frozenset({"264"}),
        ),
        _spec(
            "kartra.lead.create",
            "create_lead",
            m.CreateLeadInput,
            build_create_lead,
            lambda part, inp: lead_output(part, inp, created=True),
            idempotent=False,
            already_done=frozenset({"244"}),
        ),
        _spec("kartra.lead.update", "edit_lead", m.EditLeadInput, build_edit_lead, lead_output),
        _spec(
            "kartra.lead.points.give",
            "give_points_to_lead",
            m.GivePointsInput,
            _lead_cmd("give_points_to_lead", "points", "expiration"),
            _message,
            idempotent=False,
        ),
        _spec(
            "kartra.lead.points.remove",
            "remove_points_from_lead",
            m.PointsInput,
            _lead_cmd("remove_points_from_lead", "points"),
            _message,
            idempotent=False,
        ),
        _spec(
            "kartra.subscription.status.change",
            "modify_subscription_status",
            m.ChangeSubscriptionStatusInput,
            build_status_change,
            _message,
        ),
        _spec(
            "kartra.subscription.update",
            "edit_subscription",
            m.EditSubscriptionInput,
            build_edit_subscription,
            _message,
        ),
        _spec(
            "kartra.subscription.cancel",
            "cancel_transaction",
            m.CancelSubscriptionInput,
            build_cancel_subscription,
            _cancel_output,
            idempotent=False,
            already_done=frozenset({"252"}),
        ),
        _spec(
            "kartra.transaction.refund",
            "refund_transaction",
            m.RefundTransactionInput,
            build_refund,
            _refund_output,
            idempotent=False,
            already_done=frozenset({"251"}),
        ),
        _spec(
            "kartra.lists.retrieve",
            "retrieve_account_lists",
            NoParams,
            _account("retrieve_account_lists"),
            _names("account_lists"),
        ),
        _spec(
            "kartra.tags.retrieve",
            "retrieve_account_tags",
            NoParams,
            _account("retrieve_account_tags"),
            _names("account_tags"),
        ),
        _spec(
            "kartra.sequences.retrieve",
            "retrieve_account_sequences",
            NoParams,
            _account("retrieve_account_sequences"),
            _names("account_sequences"),
        ),
        _spec(
            "kartra.custom_fields.retrieve",
            "retrieve_custom_fields",
            NoParams,
            _account("retrieve_custom_fields"),
            _custom_fields,
        ),
        _spec(
            "kartra.pages.retrieve",
            "retrieve_account_pages",
            NoParams,
            _account("retrieve_account_pages"),
            _pages,
        ),
        _spec("kartra.lead.find", "search_lead", m.LeadRef, build_search_lead, lead_output, search=True),
        _spec("kartra.lead_details.find", "get_lead", m.LeadRef, build_get_lead, lead_output, search=True),
        _spec(
            "kartra.subscription.find",
            "get_subscription_details",
            m.FindSubscriptionInput,
            lambda inp: {
                "actions": [{"cmd": "get_subscription_details", "subscription_id": inp.subscription_id}]
            },
            subscription_output,
            search=True,
        ),
    )
}
"""Single-call actions by catalog key; ``kartra.transaction.find``, ``kartra.lead.find_or_create``
and ``kartra.api.request`` are composed from these pieces in the executor."""
