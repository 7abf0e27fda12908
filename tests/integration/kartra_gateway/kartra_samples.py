"""Kartra sample payloads (reference §5) for every trigger, in the encodings Kartra uses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

LEAD = {
    "id": "4174086",
    "first_name": "Jane",
    "middle_name": "",
    "last_name": "Smith",
    "last_name2": "",
    "email": "jane@example.com",
    "phone_country_code": "+44",
    "phone": "7700900219",
    "company": "",
    "country": "United Kingdom",
    "date_joined": "2024-05-02 09:14:00",
    "score": "10",
    "source": "checkout",
    "blacklisted": "0",
    "gdpr_lead_status": "2",
    "custom_fields": [
        {
            "field_id": 3,
            "field_identifier": "vat_number",
            "field_type": "input_field",
            "field_value": "GB123456789",
        }
    ],
}
TX = {
    "transaction_id": 48110,
    "lead_id": 4174086,
    "lead_first_name": "Jane",
    "lead_last_name": "Smith",
    "lead_email": "jane@example.com",
    "lead_username": "janesmith",
    "product_id": 223,
    "product_name": "Pro Course",
    "product_price_point": 2,
    "transaction_quantity": 1,
    "transaction_full_amount": 97.00,
}
CAL = {
    "calendar_id": 5,
    "calendar_name": "First calendar",
    "class_id": 9,
    "class_name": "First class",
    "hosts": [{"host_first_name": "Ann", "host_last_name": "Host", "host_email_address": "ann@example.com"}],
    "vendor_timezone": "America/New_York",
    "calendar_subscription_id": 1201,
    "events": [],
}

# action → (action_details, catalog key, {dotted path in event data: expected value})
OUTBOUND: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "buy_product": (
        {"transaction_details": TX},
        "kartra.product.purchased",
        {"product.id": "223", "transaction.amount": 97.0, "lead.first_name": "Jane"},
    ),
    "refund_product": ({"transaction_details": TX}, "kartra.product.refunded", {"transaction.id": "48110"}),
    "partial_refund_product": (
        {"transaction_details": TX},
        "kartra.product.partially_refunded",
        {"product.price_point": "2"},
    ),
    "cancel_subscription": (
        {
            "transaction_details": {
                **TX,
                "transaction_date": "2024-05-02 09:14:00",
                "transaction_type": "cancellation",
            }
        },
        "kartra.subscription.cancelled",
        {"transaction.date": "2024-05-02T13:14:00Z", "transaction.type": "cancellation"},
    ),
    "affiliate_signup": (
        {"product": {"product_id": 223, "product_name": "Pro Course", "official_product_name": "Pro Course"}},
        "kartra.affiliate.signed_up",
        {"product.id": "223"},
    ),
    "jv_signup": (
        {"product": {"product_id": 223, "product_name": "Pro Course"}},
        "kartra.jv_partner.signed_up",
        {"product.name": "Pro Course"},
    ),
    "calendar_subscribe": ({"calendar": CAL}, "kartra.calendar.registered", {"calendar.class_id": "9"}),
    "calendar_complete": ({"calendar": CAL}, "kartra.calendar.completed", {"calendar.id": "5"}),
    "calendar_cancel": ({"calendar": CAL}, "kartra.calendar.cancelled", {"calendar.subscription_id": "1201"}),
    "assign_tag": (
        {"tag": {"tag_id": 12, "tag_name": "Customer"}},
        "kartra.tag.assigned",
        {"tag.name": "Customer"},
    ),
    "unassign_tag": ({"tag_id": 12, "tag_name": "Customer"}, "kartra.tag.unassigned", {"tag.id": "12"}),
    "list_subscription": (
        {"list": {"list_id": "1", "list_name": "List name"}},
        "kartra.list.subscribed",
        {"list.name": "List name"},
    ),
    "list_unsubscription": (
        {"list": {"list_id": 1, "list_name": "List name"}},
        "kartra.list.unsubscribed",
        {"list.id": "1"},
    ),
    "sequence_subscription": (
        {"sequence": {"sequence_id": 3, "sequence_name": "Welcome"}},
        "kartra.sequence.subscribed",
        {"sequence.name": "Welcome"},
    ),
    "sequence_unsubscription": (
        {"sequence": {"sequence_id": 3, "sequence_name": "Welcome"}},
        "kartra.sequence.unsubscribed",
        {"sequence.id": "3"},
    ),
    "sequence_completion": (
        {"sequence": {"sequence_id": 3, "sequence_name": "Welcome"}},
        "kartra.sequence.completed",
        {"sequence.id": "3"},
    ),
    "membership_granted": (
        {
            "membership": {
                "membership_id": 7,
                "membership_name": "Pro Academy",
                "level_id": 2,
                "level_name": "Gold",
            }
        },
        "kartra.membership.granted",
        {"membership.level_name": "Gold"},
    ),
    "membership_revoked": (
        {"membership_id": 7, "membership_name": "Pro Academy", "level_id": 2, "level_name": "Gold"},
        "kartra.membership.revoked",
        {"membership.id": "7"},
    ),
    "filled_form": (
        {"tag": {"form_id": 8, "form_name": "Optin"}},
        "kartra.form.filled",
        {"form.name": "Optin"},
    ),
    "reaches_score": ({"points": 100}, "kartra.score.reached", {"points": 100}),
    "video_play": (
        {"video": {"video_id": 21, "video_name": "Intro"}},
        "kartra.video.played",
        {"video.id": "21"},
    ),
    "video_complete": (
        {"video": {"video_id": 21, "video_name": "Intro"}},
        "kartra.video.completed",
        {"video.name": "Intro"},
    ),
    "survey_complete": (
        {
            "survey": {
                "survey_id": 4,
                "survey_name": "Quiz",
                "survey_type": "quiz",
                "survey_score": "80",
                "questions": [],
            }
        },
        "kartra.survey.completed",
        {"survey.score": 80.0},
    ),
    "kartra_page_visit": (
        {"kartra_page": {"kartra_page_id": 31, "kartra_page_name": "Sales page"}},
        "kartra.page.visited",
        {"page.id": "31"},
    ),
    "click_page_split_test_link": (
        {"page_split_test_link": {"page_split_test_link_id": 2, "page_split_test_link_name": "B"}},
        "kartra.split_test_link.clicked",
        {"split_test_link.name": "B"},
    ),
}

IPN_TYPES = {
    "sale": "kartra.payment.sold",
    "rebill": "kartra.payment.rebilled",
    "refund": "kartra.payment.refunded",
    "partial_refund": "kartra.payment.partially_refunded",
    "cancellation": "kartra.payment.subscription_cancelled",
    "failed": "kartra.payment.rebill_failed",
    "chargeback": "kartra.payment.charged_back",
}


def outbound(action: str, lead: dict[str, Any] | None = None) -> dict[str, Any]:
    details = OUTBOUND[action][0]
    return {"lead": dict(lead or LEAD), "action": action, "action_details": details}


def ipn_fields(tx_type: str, secret: str, lead_email: str = "jane@example.com") -> dict[str, str]:
    """W6: an IPN sale (one-time, no trial) with its literal N/A placeholders."""
    return {
        "transaction_id": "48110",
        "transaction_full_amount": "116.40",
        "transaction_base_amount": "97.00",
        "transaction_discount": "0",
        "transaction_shipping": "0",
        "transaction_tax": "19.40",
        "transaction_date": "2024-05-02 09:14:00",
        "transaction_type": tx_type,
        "transaction_parent_id": "0" if tx_type in ("sale", "rebill") else "48109",
        "transaction_affiliate": "N/A",
        "transaction_jv": "N/A",
        "transaction_quantity": "1",
        "transaction_subscription_id": "N/A",
        "transaction_internal_subscription_id": "N/A",
        "transaction_subscription_pay_number": "N/A",
        "transaction_last_4_card_digits": "4242",
        "original_id": "0",
        "product_name": "Pro Course",
        "product_id": "223",
        "product_price_point": "2",
        "trial": "0",
        "trial_amount": "N/A",
        "trial_period": "N/A",
        "payments_left": "0",
        "lead_id": "4174086",
        "lead_first_name": "Jane",
        "lead_last_name": "Smith",
        "lead_email": lead_email,
        "lead_username": "janesmith",
        "lead_phone_country_code": "+44",
        "lead_phone_number": "7700900219",
        "lead_address": "1 High St",
        "lead_city": "London",
        "lead_zip": "N1 1AA",
        "lead_state": "N/A",
        "lead_country": "United Kingdom",
        "lead_country_code_2": "GB",
        "lead_country_code_3": "GBR",
        "lead_ip": "82.34.12.198",
        "secret_key": secret,
        "vendor_tracking_id_1": "N/A",
        "vendor_tracking_id_2": "N/A",
        "vendor_tracking_link": "N/A",
        "gdpr_lead_status": "2",
        "gdpr_lead_status_date": "02 May 2024 09:14:00",
        "gdpr_lead_status_ip": "82.34.12.198",
        "gdpr_lead_communications": "1",
    }


def php_form(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """What PHP's http_build_query would send for ``data`` (test-side, independent of the gateway)."""
    out: list[tuple[str, str]] = []
    for k, v in data.items():
        name = f"{prefix}[{k}]" if prefix else k
        if isinstance(v, dict):
            out += php_form(v, name)
        elif isinstance(v, list):
            out += php_form({str(i): x for i, x in enumerate(v)}, name)
        else:
            out.append((name, str(v)))
    return out


def form_body(data: dict[str, Any]) -> str:
    return urlencode(php_form(data))
