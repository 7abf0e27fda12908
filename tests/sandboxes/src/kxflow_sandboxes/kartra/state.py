"""The fake Kartra account: leads, tags, lists, sequences, calendars, custom fields, transactions,
subscriptions, and the command semantics of Kartra's inbound API (reference §1.7), with the
documented ``type`` codes. Pure state; HTTP and outbound webhooks live in ``app.py``.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EST = ZoneInfo("America/New_York")
LEAD_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "last_name2",
    "phone",
    "phone_country_code",
    "ip",
    "address",
    "zip",
    "city",
    "state",
    "country",
    "company",
    "lead_picture",
    "website",
    "lead_preferred_time_zone",
    "facebook",
    "twitter",
    "linkedin",
    "sales_tax_id",
    "business_type",
)


class KartraError(Exception):
    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message

    def body(self) -> dict[str, str]:
        return {"status": "Error", "message": self.message, "type": self.type}


def now_est() -> str:
    return datetime.now(EST).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Lead:
    id: int
    email: str
    fields: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    sequences: dict[str, str] = field(default_factory=dict)
    calendars: set[tuple[str, str]] = field(default_factory=set)
    score: int = 0
    date_joined: str = field(default_factory=now_est)


@dataclass
class Account:
    """One Kartra account (the API-key owner's) with seeded catalogue objects."""

    app_id: str
    api_key: str
    api_password: str
    test_mode: bool = False
    webhook_urls: list[str] = field(default_factory=list)
    ipn_url: str | None = None
    ipn_secret: str | None = None
    leads: dict[int, Lead] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=lambda: {"Customer": 12, "VIP": 13, "Refunded": 14})
    lists: dict[str, int] = field(default_factory=lambda: {"Newsletter": 1, "Buyers": 2})
    sequences: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "Welcome": {"id": 3, "steps": ["1", "2", "3"]},
            "Onboarding": {"id": 4, "steps": ["1"]},
        }
    )
    calendars: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "First calendar": {"id": 5, "classes": {"First class": 9, "Second class": 10}}
        }
    )
    custom_fields: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"vat_number": {"field_id": "3", "field_type": "input_field", "options": []}}
    )
    pages: list[dict[str, str]] = field(
        default_factory=lambda: [
            {"page_id": "31", "page_name": "Sales page"},
            {"page_id": "32", "page_name": "Thanks"},
        ]
    )
    products: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"223": {"name": "Pro Course", "price_points": {"1": 49.0, "2": 97.0}}}
    )
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    rate_limited: int = 0
    window: deque[float] = field(default_factory=deque)
    ids: itertools.count = field(default_factory=lambda: itertools.count(4174086))
    tx_ids: itertools.count = field(default_factory=lambda: itertools.count(48110))

    # ------------------------------------------------------------------ helpers

    def lead_by_email(self, email: str) -> Lead | None:
        return next((lead for lead in self.leads.values() if lead.email.lower() == email.lower()), None)

    def resolve(self, block: Any, not_found: str = "243") -> Lead:
        if not isinstance(block, dict):
            raise KartraError("223", "'lead' not an array")
        if block.get("id"):
            lead = self.leads.get(int(block["id"])) if str(block["id"]).isdigit() else None
        elif block.get("email"):
            lead = self.lead_by_email(str(block["email"]))
        else:
            raise KartraError("206", "email or lead id is required. Nothing done")
        if lead is None:
            raise KartraError(not_found, "No lead found")
        return lead

    def create_lead(self, data: dict[str, Any]) -> Lead:
        email = str(data.get("email") or "")
        if not email:
            raise KartraError("206", "email or lead id is required. Nothing done")
        if self.test_mode:
            email = email.split("@")[0] + "@kartra.com"
        if self.lead_by_email(email):
            raise KartraError("244", "Lead already exists")
        lead = Lead(id=next(self.ids), email=email)
        self._apply(lead, data)
        self.leads[lead.id] = lead
        return lead

    def _apply(self, lead: Lead, data: dict[str, Any]) -> None:
        for key in LEAD_FIELDS:
            if key in data:
                lead.fields[key] = data[key]
        for cf in data.get("custom_fields") or []:
            ident = cf.get("field_identifier") if isinstance(cf, dict) else None
            if ident in self.custom_fields:  # unknown identifiers are silently ignored (Kartra)
                lead.custom[ident] = cf.get("field_value", "")

    def lead_block(self, lead: Lead) -> dict[str, Any]:
        """The outbound-API ``lead`` object / ``get_lead`` ``lead_details``."""
        return {
            "id": str(lead.id),
            "email": lead.email,
            **{k: lead.fields.get(k, "") for k in LEAD_FIELDS},
            "date_joined": lead.date_joined,
            "score": lead.score,
            "source": "api",
            "blacklisted": 0,
            "custom_fields": [
                {
                    "field_id": cf["field_id"],
                    "field_identifier": ident,
                    "field_type": cf["field_type"],
                    "field_value": lead.custom.get(ident, ""),
                }
                for ident, cf in self.custom_fields.items()
            ],
            "tags": [{"tag_name": t} for t in sorted(lead.tags)],
            "lists": [{"list_name": name, "active": 1} for name in sorted(lead.lists)],
            "sequences": [
                {"sequence_name": s, "step": st, "status": "active"} for s, st in lead.sequences.items()
            ],
        }

    def sell(
        self, lead: Lead, product_id: str, price_point: str, amount: float | None, quantity: int
    ) -> dict:
        product = self.products.get(product_id) or {"name": f"Product {product_id}", "price_points": {}}
        full = amount if amount is not None else float(product["price_points"].get(price_point, 97.0))
        tx = {
            "transaction_id": str(next(self.tx_ids)),
            "transaction_type": "sale",
            "lead_id": str(lead.id),
            "lead_email": lead.email,
            "lead_first_name": lead.fields.get("first_name", ""),
            "lead_last_name": lead.fields.get("last_name", ""),
            "product_id": product_id,
            "product_name": product["name"],
            "product_price_point": price_point,
            "transaction_full_amount": round(full * quantity, 2),
            "transaction_quantity": quantity,
            "transaction_date": now_est(),
            "refunded": 0.0,
            "subscription_id": None,
        }
        self.transactions[tx["transaction_id"]] = tx
        return tx

    def subscribe(self, tx: dict[str, Any]) -> dict[str, Any]:
        sub_id = str(14833 + len(self.subscriptions))
        sub = {
            "subscription_id": sub_id,
            "transaction_subscription_id": f"I-{sub_id}SANDBOX",
            "subscription_product_id": tx["product_id"],
            "subscription_price_point": tx["product_price_point"],
            "subscription_lead_id": tx["lead_id"],
            "subscription_start_date": tx["transaction_date"],
            "subscription_end_date": "0000-00-00 00:00:00",
            "subscription_installments_left": "Until cancelled",
            "subscription_recurring_period": "monthly",
            "subscription_status": "Active",
            "subscription_next_payment_date": (datetime.now(EST) + timedelta(days=30)).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "subscription_next_scheduled_payment_amount": tx["transaction_full_amount"],
            "subscription_affiliate": "N/A",
            "subscription_jv": "N/A",
        }
        self.subscriptions[sub_id] = sub
        tx["subscription_id"] = sub_id
        return sub


def require(value: Any, type_: str, message: str) -> str:
    if value is None or str(value).strip() == "":
        raise KartraError(type_, message)
    return str(value)


STEP = re.compile(r"^[A-Za-z0-9]+$")
IDENT = re.compile(r"^[A-Za-z0-9_-]+$")
