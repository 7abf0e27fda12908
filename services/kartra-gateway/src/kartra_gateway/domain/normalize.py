"""Kartra outbound-API and IPN payloads → typed, normalized trigger events (pure, no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kartra_gateway.domain.payloads import (
    WebhookRejected,
    as_bool,
    as_float,
    as_int,
    as_str,
    clean,
    clean_deep,
    container,
)
from kartra_gateway.domain.timestamps import to_utc_iso
from kxflow_contracts.catalog import CatalogEntry
from kxflow_contracts.catalog.kartra import TRIGGERS_BY_UPSTREAM
from kxflow_contracts.events.kartra import KartraEvent

SECRET_FIELD = "secret_key"
_MASK = "***"
_LEAD_STRINGS = (
    "email",
    "first_name",
    "middle_name",
    "last_name",
    "last_name2",
    "username",
    "phone_country_code",
    "phone",
    "company",
    "address",
    "city",
    "zip",
    "state",
    "country",
    "country_code_2",
    "country_code_3",
    "ip",
    "ip_country",
    "website",
    "sales_tax_id",
    "source",
    "lead_preferred_time_zone",
    "lead_picture",
    "facebook",
    "twitter",
    "linkedin",
)


@dataclass(frozen=True)
class Normalized:
    """One accepted delivery: the trigger it maps to (None for an unknown action) and its event."""

    channel: str
    action: str
    entry: CatalogEntry | None
    event: KartraEvent | None
    subject: str
    payload: dict[str, Any]
    digest: str


def delivery_digest(connection_id: str, channel: str, payload: dict[str, Any]) -> str:
    """Content hash of a delivery: Kartra sends no event id, so identical content = same delivery."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{connection_id}\x1f{channel}\x1f{canonical}".encode()).hexdigest()


def normalize_lead(raw: dict[str, Any]) -> dict[str, Any]:
    lead: dict[str, Any] = {k: clean_deep(v) for k, v in raw.items() if k not in _LEAD_STRINGS}
    for key in _LEAD_STRINGS:
        if key in raw:
            lead[key] = as_str(raw[key])
    lead["id"] = as_str(raw.get("id"))
    lead["source_id"] = as_str(raw.get("source_id"))
    for key in ("score", "gdpr_lead_status", "gdpr_lead_communications", "referring_id"):
        if key in raw:
            lead[key] = as_int(raw[key])
    if "blacklisted" in raw:
        lead["blacklisted"] = as_bool(raw["blacklisted"])
    for key in ("date_joined", "lead_deleted_date", "gdpr_lead_status_date"):
        if key in raw:
            lead[key] = to_utc_iso(raw[key])
    fields = raw.get("custom_fields")
    lead["custom_fields"] = [_custom_field(f) for f in fields] if isinstance(fields, list) else []
    return lead


def _custom_field(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {"field_value": as_str(raw)}
    value = raw.get("field_value")
    if isinstance(value, list):
        value = [
            {"option_id": as_str(o.get("option_id")), "option_value": as_str(o.get("option_value"))}
            if isinstance(o, dict)
            else {"option_id": as_str(o)}
            for o in value
        ]
    elif clean(value) is None:
        value = None
    else:
        value = str(value)
    return {
        **clean_deep(raw),
        "field_id": as_str(raw.get("field_id")),
        "field_identifier": as_str(raw.get("field_identifier")),
        "field_type": as_str(raw.get("field_type")),
        "field_value": value,
    }


def _prefixed_lead(flat: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``lead_first_name`` style fields (IPN, ``transaction_details``) → a lead block."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if key.startswith(prefix):
            name = key[len(prefix) :]
            out["phone" if name == "phone_number" else name] = value
    return out


def _transaction(details: dict[str, Any], default_type: str | None) -> dict[str, Any]:
    def tx(name: str) -> Any:
        return details.get(f"transaction_{name}")

    return {
        "id": as_str(tx("id")),
        "type": as_str(tx("type")) or default_type,
        "amount": as_float(tx("full_amount")),
        "quantity": as_int(tx("quantity")),
        "date": to_utc_iso(tx("date")),
        "base_amount": as_float(tx("base_amount")),
        "discount": as_float(tx("discount")),
        "shipping": as_float(tx("shipping")),
        "tax": as_float(tx("tax")),
        "parent_id": as_str(tx("parent_id")),
        "original_id": as_str(details.get("original_id")),
        "subscription_id": as_str(tx("subscription_id")),
        "internal_subscription_id": as_str(tx("internal_subscription_id")),
        "subscription_pay_number": as_str(tx("subscription_pay_number")),
        "affiliate": as_str(tx("affiliate")),
        "jv": as_str(tx("jv")),
        "last_4_card_digits": as_str(tx("last_4_card_digits")),
        "trial": as_bool(details.get("trial")),
        "trial_amount": as_float(details.get("trial_amount")),
        "trial_period": as_str(details.get("trial_period")),
        "payments_left": as_str(details.get("payments_left")),
    }


def _product(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": as_str(details.get("product_id")),
        "name": as_str(details.get("product_name")),
        "price_point": as_str(details.get("product_price_point")),
        "official_name": as_str(details.get("official_product_name")),
    }


def _merge_lead(lead: dict[str, Any], fallback: dict[str, Any]) -> dict[str, Any]:
    merged = dict(lead)
    for key, value in fallback.items():
        if merged.get(key) in (None, "") and value not in (None, ""):
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- per-event readers

Reader = Callable[[Any, str], dict[str, Any]]


def _read_transaction(details: Any, action: str) -> dict[str, Any]:
    tx = container(details, "transaction_details", "transaction")
    return {
        "product": _product(tx),
        "transaction": _transaction(tx, action),
        "_lead": _prefixed_lead(tx, "lead_"),
    }


def _read_product(details: Any, _: str) -> dict[str, Any]:
    return {"product": _product(container(details, "product"))}


def _read_calendar(details: Any, _: str) -> dict[str, Any]:
    cal = container(details, "calendar")
    hosts = cal.get("hosts")
    events = cal.get("events")
    return {
        "calendar": {
            "id": as_str(cal.get("calendar_id")),
            "name": as_str(cal.get("calendar_name")),
            "class_id": as_str(cal.get("class_id")),
            "class_name": as_str(cal.get("class_name")),
            "subscription_id": as_str(cal.get("calendar_subscription_id")),
            "vendor_timezone": as_str(cal.get("vendor_timezone")),
            "hosts": [clean_deep(h) for h in hosts if isinstance(h, dict)] if isinstance(hosts, list) else [],
            "events": clean_deep(events) if isinstance(events, list) else [],
        }
    }


def _named(attr: str, containers: tuple[str, ...], prefix: str) -> Reader:
    def read(details: Any, _: str) -> dict[str, Any]:
        inner = container(details, *containers)
        return {attr: {"id": as_str(inner.get(f"{prefix}_id")), "name": as_str(inner.get(f"{prefix}_name"))}}

    return read


def _read_split_test_link(details: Any, action: str) -> dict[str, Any]:
    """The link as ``_named`` reads it, plus the version the lead was sent to when Kartra names it
    (``page_split_test_link_version``, or ``version``; the public documentation shows neither)."""
    data = _named("split_test_link", ("page_split_test_link",), "page_split_test_link")(details, action)
    inner = container(details, "page_split_test_link")
    version = inner.get("page_split_test_link_version", inner.get("version"))
    if version is not None:
        data["split_test_link"]["version"] = as_str(version)
    return data


def _read_membership(details: Any, _: str) -> dict[str, Any]:
    m = container(details, "membership")
    return {
        "membership": {
            "id": as_str(m.get("membership_id")),
            "name": as_str(m.get("membership_name")),
            "level_id": as_str(m.get("level_id")),
            "level_name": as_str(m.get("level_name")),
        }
    }


def _read_score(details: Any, _: str) -> dict[str, Any]:
    points = details.get("points") if isinstance(details, dict) else details
    if isinstance(points, dict):
        points = points.get("points")
    return {"points": as_int(points)}


def _read_survey(details: Any, _: str) -> dict[str, Any]:
    s = container(details, "survey")
    questions = s.get("questions")
    return {
        "survey": {
            "id": as_str(s.get("survey_id")),
            "name": as_str(s.get("survey_name")),
            "type": as_str(s.get("survey_type")),
            "score": as_float(s.get("survey_score")),
            "completion_time": as_str(s.get("survey_completion_time")),
            "questions": clean_deep(questions) if isinstance(questions, list) else [],
        }
    }


_TX = _read_transaction
READERS: dict[str, Reader] = {
    "buy_product": _TX,
    "refund_product": _TX,
    "partial_refund_product": _TX,
    "cancel_subscription": _TX,
    "affiliate_signup": _read_product,
    "jv_signup": _read_product,
    "calendar_subscribe": _read_calendar,
    "calendar_complete": _read_calendar,
    "calendar_cancel": _read_calendar,
    "assign_tag": _named("tag", ("tag",), "tag"),
    "unassign_tag": _named("tag", ("tag",), "tag"),
    "list_subscription": _named("list", ("list",), "list"),
    "list_unsubscription": _named("list", ("list",), "list"),
    "sequence_subscription": _named("sequence", ("sequence",), "sequence"),
    "sequence_unsubscription": _named("sequence", ("sequence",), "sequence"),
    "sequence_completion": _named("sequence", ("sequence",), "sequence"),
    "membership_granted": _read_membership,
    "membership_revoked": _read_membership,
    "filled_form": _named("form", ("form", "tag"), "form"),
    "reaches_score": _read_score,
    "video_play": _named("video", ("video",), "video"),
    "video_complete": _named("video", ("video",), "video"),
    "survey_complete": _read_survey,
    "kartra_page_visit": _named("page", ("kartra_page", "page"), "kartra_page"),
    "click_page_split_test_link": _read_split_test_link,
}
ALIASES = {"subscription_cancelled": "cancel_subscription", "refund": "refund_product"}
"""Action strings seen in the wild that mean a documented event (reference §2.3, AU code)."""


def _subject(lead: dict[str, Any]) -> str:
    subject = lead.get("id") or lead.get("email")
    if not subject:
        raise WebhookRejected("no lead: the body must carry lead.id or lead.email")
    return str(subject)


def _build(entry: CatalogEntry, data: dict[str, Any]) -> KartraEvent:
    try:
        return entry.output_model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WebhookRejected(f"{entry.upstream} payload invalid at {where}: {first['msg']}") from exc


def normalize_outbound(payload: dict[str, Any], connection_id: str, received_at: str) -> Normalized:
    """An outbound-API delivery ``{lead, action, action_details}`` → its trigger event."""
    action = as_str(payload.get("action"))
    if not action:
        raise WebhookRejected("no action: the body must carry Kartra's 'action' field")
    raw_lead = payload.get("lead")
    if not isinstance(raw_lead, dict):
        raise WebhookRejected("no lead: the body must carry a 'lead' object with id or email")
    lead = normalize_lead(raw_lead)
    canonical = ALIASES.get(action, action)
    entry = TRIGGERS_BY_UPSTREAM.get(canonical)
    reader = READERS.get(canonical)
    digest = delivery_digest(connection_id, "outbound", payload)
    if entry is None or reader is None:
        return Normalized("outbound", action, None, None, _subject(lead), payload, digest)
    fields = reader(payload.get("action_details") or {}, canonical)
    lead = _merge_lead(lead, normalize_lead(fields.pop("_lead", {})))
    subject = _subject(lead)
    tx = fields.get("transaction") or {}
    data = {
        "connection_id": connection_id,
        "origin": "webhook",
        "occurred_at": tx.get("date") or received_at,
        "lead": lead,
        "kartra_action": action,
        "channel": "outbound",
        **fields,
    }
    return Normalized("outbound", action, entry, _build(entry, data), subject, payload, digest)


def scrub_secret(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: (_MASK if k == SECRET_FIELD else v) for k, v in payload.items()}


def normalize_ipn(payload: dict[str, Any], connection_id: str, received_at: str) -> Normalized:
    """An IPN form post (flat ``transaction_*``/``product_*``/``lead_*`` fields) → its event.

    Older IPN pages used ``buyer_*`` instead of ``lead_*``; both are read. The secret is masked
    before anything is hashed or published.
    """
    payload = scrub_secret(payload)
    tx_type = as_str(payload.get("transaction_type"))
    if not tx_type:
        raise WebhookRejected("no transaction_type: not a Kartra IPN post")
    lead = normalize_lead({**_prefixed_lead(payload, "buyer_"), **_prefixed_lead(payload, "lead_")})
    for key in (
        "gdpr_lead_status",
        "gdpr_lead_status_date",
        "gdpr_lead_status_ip",
        "gdpr_lead_communications",
    ):
        if key in payload:
            lead[key] = normalize_lead({key: payload[key]}).get(key, clean(payload[key]))
    subject = _subject(lead)
    digest = delivery_digest(connection_id, "ipn", payload)
    entry = TRIGGERS_BY_UPSTREAM.get(f"ipn:{tx_type}")
    if entry is None:
        return Normalized("ipn", tx_type, None, None, subject, payload, digest)
    transaction = _transaction(payload, tx_type)
    data = {
        "connection_id": connection_id,
        "origin": "webhook",
        "occurred_at": transaction["date"] or received_at,
        "lead": lead,
        "kartra_action": tx_type,
        "channel": "ipn",
        "product": _product(payload),
        "transaction": transaction,
        "tracking": {
            k: as_str(payload.get(k))
            for k in ("vendor_tracking_id_1", "vendor_tracking_id_2", "vendor_tracking_link")
        },
    }
    return Normalized("ipn", tx_type, entry, _build(entry, data), subject, payload, digest)
