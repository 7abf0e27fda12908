"""Kartra catalog entries: every trigger, action and search of Zapier's Kartra app (reference §7).

Triggers arrive as Kartra outbound-API webhooks (``upstream`` = the ``action`` string) or IPN posts
(``upstream`` = ``ipn:<transaction_type>``). Three Zapier triggers have no public Kartra source and
are listed as unavailable, so nobody builds a zap that can never fire. Examples are normalized from
the reference's sample payloads (§5).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from kxflow_contracts.catalog.base import CatalogEntry, Delivery, Kind, NoParams
from kxflow_contracts.events import kartra as ev
from kxflow_contracts.models import kartra_actions as act

APP = "kartra"

_LEAD = {
    "id": "4174086",
    "email": "jane@example.com",
    "first_name": "Jane",
    "last_name": "Smith",
    "country": "United Kingdom",
    "custom_fields": [],
}
_PRODUCT = {"id": "223", "name": "Pro Course", "price_point": "2"}
_TRANSACTION = {"id": "48110", "type": "sale", "amount": 97.0, "quantity": 1}
_IPN_TRANSACTION = {
    "id": "48110",
    "type": "sale",
    "amount": 116.4,
    "base_amount": 97.0,
    "discount": 0.0,
    "shipping": 0.0,
    "tax": 19.4,
    "quantity": 1,
    "date": "2024-05-02T13:14:00Z",
    "parent_id": "0",
    "original_id": "0",
    "last_4_card_digits": "4242",
    "trial": False,
    "payments_left": "0",
}


def _event(action: str, channel: str = "outbound", **payload: Any) -> dict[str, Any]:
    return {
        "connection_id": "kc_example",
        "origin": "webhook",
        "occurred_at": "2024-05-02T13:14:00Z",
        "lead": dict(_LEAD),
        "kartra_action": action,
        "channel": channel,
        **payload,
    }


def _trigger(
    key: str,
    name: str,
    description: str,
    upstream: str,
    output: type[BaseModel],
    example: dict[str, Any],
    params: type[BaseModel] = NoParams,
    param_fields: dict[str, str] | None = None,
) -> CatalogEntry:
    return CatalogEntry(
        key=key,
        app=APP,
        kind=Kind.trigger,
        display_name=name,
        description=description,
        input_model=params,
        output_model=output,
        example=example,
        delivery=Delivery.webhook,
        param_fields=param_fields or {},
        upstream=upstream,
    )


def _unavailable(key: str, name: str, reason: str, params: type[BaseModel] = NoParams) -> CatalogEntry:
    return CatalogEntry(
        key=key,
        app=APP,
        kind=Kind.trigger,
        display_name=name,
        description=f"Triggers when {name[0].lower()}{name[1:]}. Not deliverable: {reason}",
        input_model=params,
        output_model=ev.KartraEvent,
        example=_event("unavailable"),
        available=False,
        unavailable_reason=reason,
        delivery=Delivery.none,
        upstream="none",
    )


_PRODUCT_PARAMS = {"product_id": "product.id", "price_point": "product.price_point"}
_CAL = {
    "id": "5",
    "name": "First calendar",
    "class_id": "9",
    "class_name": "First class",
    "subscription_id": "1201",
    "vendor_timezone": "America/New_York",
    "hosts": [{"host_first_name": "Ann", "host_last_name": "Host", "host_email_address": "ann@example.com"}],
    "events": [],
}
_CAL_PARAMS = {"calendar_id": "calendar.id", "class_id": "calendar.class_id"}


def _tx_trigger(key: str, name: str, what: str, upstream: str, model: type[BaseModel]) -> CatalogEntry:
    tx = dict(_TRANSACTION, type=upstream)
    return _trigger(
        key,
        name,
        f"Triggers when {what}.",
        upstream,
        model,
        _event(upstream, product=dict(_PRODUCT), transaction=tx),
        ev.ProductParams,
        _PRODUCT_PARAMS,
    )


def _ipn_trigger(key: str, name: str, what: str, tx_type: str) -> CatalogEntry:
    tx = dict(_IPN_TRANSACTION, type=tx_type)
    if tx_type in ("refund", "partial_refund", "chargeback"):
        tx["parent_id"] = "48109"
    return _trigger(
        key,
        name,
        f"Triggers when Kartra's IPN reports {what} (richer accounting fields: tax, discount, shipping).",
        f"ipn:{tx_type}",
        ev.PaymentNotification,
        _event(tx_type, "ipn", product=dict(_PRODUCT), transaction=tx, tracking={}),
        ev.ProductParams,
        _PRODUCT_PARAMS,
    )


def _named_trigger(
    key: str, name: str, what: str, upstream: str, model: type[BaseModel], attr: str, params: type[BaseModel]
) -> CatalogEntry:
    thing = {"id": "12", "name": f"Example {attr.replace('_', ' ')}"}
    fields = {f"{attr}_id": f"{attr}.id"}
    if f"{attr}_name" in params.model_fields:
        fields[f"{attr}_name"] = f"{attr}.name"
    if "version" in params.model_fields:
        fields["version"] = f"{attr}.version"
        thing["version"] = "A"
    return _trigger(
        key,
        name,
        f"Triggers when {what}.",
        upstream,
        model,
        _event(upstream, **{attr: thing}),
        params,
        fields,
    )


TRIGGERS: list[CatalogEntry] = [
    _tx_trigger(
        "kartra.product.purchased",
        "Customer Buys Product",
        "a customer buys a product",
        "buy_product",
        ev.ProductPurchased,
    ),
    _tx_trigger(
        "kartra.product.refunded",
        "Customer Refunds Product",
        "a customer's product purchase is refunded",
        "refund_product",
        ev.ProductRefunded,
    ),
    _tx_trigger(
        "kartra.product.partially_refunded",
        "Customer Partially Refunds Product",
        "a customer's product purchase is partially refunded",
        "partial_refund_product",
        ev.ProductPartiallyRefunded,
    ),
    _tx_trigger(
        "kartra.subscription.cancelled",
        "Customer Cancels Subscription",
        "a customer cancels a subscription",
        "cancel_subscription",
        ev.SubscriptionCancelled,
    ),
    _trigger(
        "kartra.affiliate.signed_up",
        "Affiliate Signs Up for Product",
        "Triggers when an affiliate signs up for a product.",
        "affiliate_signup",
        ev.ProductSignup,
        _event("affiliate_signup", product=dict(_PRODUCT, official_name="Pro Course")),
        ev.ProductParams,
        {"product_id": "product.id"},
    ),
    _trigger(
        "kartra.jv_partner.signed_up",
        "JV Signs Up for Product",
        "Triggers when a JV partner signs up for a product.",
        "jv_signup",
        ev.ProductSignup,
        _event("jv_signup", product=dict(_PRODUCT, official_name="Pro Course")),
        ev.ProductParams,
        {"product_id": "product.id"},
    ),
    *[
        _trigger(
            key,
            name,
            f"Triggers when a lead {what} a calendar class.",
            upstream,
            ev.CalendarEvent,
            _event(upstream, calendar=dict(_CAL)),
            ev.CalendarParams,
            _CAL_PARAMS,
        )
        for key, name, what, upstream in (
            (
                "kartra.calendar.registered",
                "Lead Registers to a Calendar",
                "registers to",
                "calendar_subscribe",
            ),
            ("kartra.calendar.completed", "Lead Completes a Calendar", "completes", "calendar_complete"),
            ("kartra.calendar.cancelled", "Lead Cancels a Calendar", "cancels", "calendar_cancel"),
        )
    ],
    _named_trigger(
        "kartra.tag.assigned",
        "Lead Is Assigned Tag",
        "a lead is assigned a tag",
        "assign_tag",
        ev.TagEvent,
        "tag",
        ev.TagParams,
    ),
    _named_trigger(
        "kartra.tag.unassigned",
        "Lead Is Unassigned Tag",
        "a tag is removed from a lead",
        "unassign_tag",
        ev.TagEvent,
        "tag",
        ev.TagParams,
    ),
    _named_trigger(
        "kartra.list.subscribed",
        "Lead Subscribes to List",
        "a lead is subscribed to a list",
        "list_subscription",
        ev.ListEvent,
        "list",
        ev.ListParams,
    ),
    _named_trigger(
        "kartra.list.unsubscribed",
        "Lead Unsubscribes from List",
        "a lead unsubscribes from a list",
        "list_unsubscription",
        ev.ListEvent,
        "list",
        ev.ListParams,
    ),
    _named_trigger(
        "kartra.sequence.subscribed",
        "Lead Subscribes to Sequence",
        "a lead is subscribed to a sequence",
        "sequence_subscription",
        ev.SequenceEvent,
        "sequence",
        ev.SequenceParams,
    ),
    _named_trigger(
        "kartra.sequence.unsubscribed",
        "Lead Unsubscribes from Sequence",
        "a lead is unsubscribed from a sequence",
        "sequence_unsubscription",
        ev.SequenceEvent,
        "sequence",
        ev.SequenceParams,
    ),
    _named_trigger(
        "kartra.sequence.completed",
        "Lead Completes Sequence",
        "a lead completes a sequence",
        "sequence_completion",
        ev.SequenceEvent,
        "sequence",
        ev.SequenceParams,
    ),
    *[
        _trigger(
            key,
            name,
            f"Triggers when a lead is {what} access to a membership.",
            upstream,
            ev.MembershipEvent,
            _event(
                upstream,
                membership={"id": "7", "name": "Pro Academy", "level_id": "2", "level_name": "Gold"},
            ),
            ev.MembershipParams,
            {"membership_id": "membership.id", "level_id": "membership.level_id"},
        )
        for key, name, what, upstream in (
            (
                "kartra.membership.granted",
                "Lead Is Granted Access to Membership",
                "granted",
                "membership_granted",
            ),
            (
                "kartra.membership.revoked",
                "Lead Is Revoked Access to Membership",
                "revoked",
                "membership_revoked",
            ),
        )
    ],
    _named_trigger(
        "kartra.form.filled",
        "Lead Fills an Optin Form",
        "a lead fills in an optin form",
        "filled_form",
        ev.FormFilled,
        "form",
        ev.FormParams,
    ),
    _trigger(
        "kartra.score.reached",
        "Lead Reaches Score for the First Time",
        "Triggers when a lead reaches a score for the first time.",
        "reaches_score",
        ev.ScoreReached,
        _event("reaches_score", points=100),
    ),
    _named_trigger(
        "kartra.video.played",
        "Lead Plays Video",
        "a lead plays a video",
        "video_play",
        ev.VideoEvent,
        "video",
        ev.VideoParams,
    ),
    _named_trigger(
        "kartra.video.completed",
        "Lead Completes Video",
        "a lead watches a video to the end",
        "video_complete",
        ev.VideoEvent,
        "video",
        ev.VideoParams,
    ),
    _trigger(
        "kartra.survey.completed",
        "Lead Completes Survey",
        "Triggers when a lead completes a survey or quiz.",
        "survey_complete",
        ev.SurveyCompleted,
        _event(
            "survey_complete",
            survey={"id": "4", "name": "Onboarding quiz", "type": "quiz", "score": 80.0, "questions": []},
        ),
        ev.SurveyParams,
        {"survey_id": "survey.id"},
    ),
    _named_trigger(
        "kartra.page.visited",
        "Lead Visits a Kartra Page",
        "a lead visits a Kartra page",
        "kartra_page_visit",
        ev.PageVisited,
        "page",
        ev.PageParams,
    ),
    _named_trigger(
        "kartra.split_test_link.clicked",
        "Lead Clicks Page Split Test Link",
        "a lead clicks a page split-test link",
        "click_page_split_test_link",
        ev.SplitTestLinkClicked,
        "split_test_link",
        ev.SplitTestLinkParams,
    ),
    _ipn_trigger("kartra.payment.sold", "Payment Received (IPN Sale)", "a sale", "sale"),
    _ipn_trigger("kartra.payment.rebilled", "Subscription Rebilled (IPN)", "a subscription rebill", "rebill"),
    _ipn_trigger("kartra.payment.refunded", "Payment Refunded (IPN)", "a full refund", "refund"),
    _ipn_trigger(
        "kartra.payment.partially_refunded",
        "Payment Partially Refunded (IPN)",
        "a partial refund",
        "partial_refund",
    ),
    _ipn_trigger(
        "kartra.payment.subscription_cancelled",
        "Subscription Cancelled (IPN)",
        "a recurring subscription's cancellation",
        "cancellation",
    ),
    _ipn_trigger("kartra.payment.rebill_failed", "Rebill Failed (IPN)", "a failed rebill", "failed"),
    _ipn_trigger("kartra.payment.charged_back", "Chargeback (IPN)", "a chargeback", "chargeback"),
    _unavailable(
        "kartra.tracking_link.clicked",
        "Lead Clicks Tracking Link",
        "Kartra's public outbound API and IPN send no tracking-link click event "
        "(only Kartra's private Zapier channel has it).",
        ev.TrackingLinkParams,
    ),
    _unavailable(
        "kartra.external_page.visited",
        "Lead Visits Page",
        "visits to tracked external (non-Kartra) pages are not sent by Kartra's public outbound API.",
        ev.PageParams,
    ),
    _unavailable(
        "kartra.cancellation.requested",
        "Customer Requests Cancellation",
        "'customer requests cancellation' exists only as a Kartra automation trigger, not in the public API.",
    ),
]

# --------------------------------------------------------------------------- actions and searches

_OK = {"status": "Success", "lead_id": "4174086", "email": "jane@example.com"}


def _action(
    key: str,
    name: str,
    description: str,
    upstream: str,
    input_model: type[BaseModel],
    output_model: type[BaseModel],
    example: dict[str, Any],
    kind: Kind = Kind.action,
    writes: bool = True,
) -> CatalogEntry:
    return CatalogEntry(
        key=key,
        app=APP,
        kind=kind,
        display_name=name,
        description=description,
        input_model=input_model,
        output_model=output_model,
        example=example,
        writes=writes,
        upstream=upstream,
    )


def _msg(message: str, type_: str | None) -> dict[str, Any]:
    return dict(_OK, message=message, type=type_)


def _retrieve(key: str, name: str, cmd: str, model: type[BaseModel], items: list[Any]) -> CatalogEntry:
    return _action(
        key,
        name,
        f"Retrieves every item of this kind in the Kartra account ({cmd}).",
        cmd,
        NoParams,
        model,
        {"items": items, "count": len(items)},
        writes=False,
    )


_LEAD_OUT = dict(_LEAD, created=False)

ACTIONS: list[CatalogEntry] = [
    _action(
        "kartra.lead.tag.assign",
        "Assign Tag to Lead",
        "Assigns an existing tag to a lead.",
        "assign_tag",
        act.TagInput,
        act.KartraMessageOutput,
        _msg("Tag added to lead", "103"),
    ),
    _action(
        "kartra.lead.tag.unassign",
        "Unassign Tag From Lead",
        "Removes a tag from a lead.",
        "unassign_tag",
        act.TagInput,
        act.KartraMessageOutput,
        _msg("Tag removed from lead", "104"),
    ),
    _action(
        "kartra.lead.list.subscribe",
        "Subscribe Lead to List",
        "Subscribes a lead to a list.",
        "subscribe_lead_to_list",
        act.ListInput,
        act.KartraMessageOutput,
        _msg("Lead subscribed to list", "101"),
    ),
    _action(
        "kartra.lead.list.unsubscribe",
        "Unsubscribe Lead From List",
        "Unsubscribes a lead from a list.",
        "unsubscribe_lead_from_list",
        act.ListInput,
        act.KartraMessageOutput,
        _msg("Lead unsubscribed from list", "101"),
    ),
    _action(
        "kartra.lead.sequence.subscribe",
        "Subscribe Lead to Sequence",
        "Subscribes a lead to a sequence at a given step.",
        "subscribe_lead_to_sequence_at_step",
        act.SequenceSubscribeInput,
        act.KartraMessageOutput,
        _msg("Lead added to sequence", "107"),
    ),
    _action(
        "kartra.lead.sequence.unsubscribe",
        "Unsubscribe Lead From Sequence",
        "Unsubscribes a lead from a sequence.",
        "unsubscribe_lead_from_sequence",
        act.SequenceUnsubscribeInput,
        act.KartraMessageOutput,
        _msg("Lead removed from sequence", None),
    ),
    _action(
        "kartra.lead.calendar.subscribe",
        "Subscribe Lead to Calendar",
        "Registers a lead to a calendar class.",
        "calendar_subscribe",
        act.CalendarSubscribeInput,
        act.KartraMessageOutput,
        _msg("Lead subscribed to class", "112"),
    ),
    _action(
        "kartra.lead.calendar.cancel",
        "Cancel Calendar Subscription",
        "Cancels a lead's calendar class subscription.",
        "calendar_cancel",
        act.CalendarCancelInput,
        act.KartraMessageOutput,
        _msg("Lead unsubscribed from class", "113"),
    ),
    _action(
        "kartra.custom_field.create",
        "Create Custom Field",
        "Creates a custom lead field in the Kartra account.",
        "create_custom_field",
        act.CustomFieldCreateInput,
        act.KartraMessageOutput,
        {"status": "Success", "message": "Custom Field created", "type": "114"},
    ),
    _action(
        "kartra.lead.create",
        "Create New Lead",
        "Creates a new lead in your Kartra account.",
        "create_lead",
        act.CreateLeadInput,
        act.LeadOutput,
        dict(_LEAD_OUT, created=True),
    ),
    _action(
        "kartra.lead.update",
        "Edit Lead",
        "Edits an existing lead (a new email may be given).",
        "edit_lead",
        act.EditLeadInput,
        act.LeadOutput,
        _LEAD_OUT,
    ),
    _action(
        "kartra.lead.points.give",
        "Give Points to Lead",
        "Adds points to a lead's score.",
        "give_points_to_lead",
        act.GivePointsInput,
        act.KartraMessageOutput,
        _msg("Points added to lead", "105"),
    ),
    _action(
        "kartra.lead.points.remove",
        "Remove Points From Lead",
        "Removes points from a lead's score.",
        "remove_points_from_lead",
        act.PointsInput,
        act.KartraMessageOutput,
        _msg("Points removed from lead", "106"),
    ),
    _action(
        "kartra.subscription.status.change",
        "Change Subscription Status",
        "Cancels, pauses or unpauses a recurring subscription.",
        "modify_subscription_status",
        act.ChangeSubscriptionStatusInput,
        act.KartraMessageOutput,
        {"status": "Success", "message": "Subscription modified", "type": "115"},
    ),
    _action(
        "kartra.subscription.update",
        "Edit Subscription",
        "Edits a recurring subscription (product, amount, next payment date, recurrence…).",
        "edit_subscription",
        act.EditSubscriptionInput,
        act.KartraMessageOutput,
        {"status": "Success", "message": "Subscription modified", "type": "115"},
    ),
    _action(
        "kartra.subscription.cancel",
        "Cancel Subscription",
        "Cancels a recurring payment subscription.",
        "cancel_transaction",
        act.CancelSubscriptionInput,
        act.CancelSubscriptionOutput,
        {"transaction_subscription_id": "I-EV375R0H61SM", "transaction_internal_subscription_id": "14833"},
    ),
    _action(
        "kartra.transaction.refund",
        "Refund Transaction",
        "Refunds a transaction, fully or partially.",
        "refund_transaction",
        act.RefundTransactionInput,
        act.RefundOutput,
        {"transaction_refunded": "792354"},
    ),
    _retrieve(
        "kartra.lists.retrieve",
        "Retrieve All Lists",
        "retrieve_account_lists",
        act.NamesOutput,
        ["List name 1"],
    ),
    _retrieve(
        "kartra.tags.retrieve", "Retrieve All Tags", "retrieve_account_tags", act.NamesOutput, ["Customer"]
    ),
    _retrieve(
        "kartra.sequences.retrieve",
        "Retrieve All Sequences",
        "retrieve_account_sequences",
        act.NamesOutput,
        ["Welcome"],
    ),
    _retrieve(
        "kartra.custom_fields.retrieve",
        "Retrieve All Custom Fields",
        "retrieve_custom_fields",
        act.CustomFieldsOutput,
        [{"field_id": "3", "field_identifier": "vat_number", "field_type": "input_field"}],
    ),
    _retrieve(
        "kartra.pages.retrieve",
        "Retrieve All Pages",
        "retrieve_account_pages",
        act.PagesOutput,
        [{"page_id": "31", "page_name": "Sales page"}],
    ),
    _action(
        "kartra.api.request",
        "API Request (Beta)",
        "A raw call to the connection's Kartra API with its credentials injected.",
        "POST /api",
        act.ApiRequestInput,
        act.ApiRequestOutput,
        {"status_code": 200, "body": {"status": "Success", "account_tags": ["Customer"]}},
    ),
    _action(
        "kartra.lead.find",
        "Find Lead",
        "Finds a lead by id or email.",
        "search_lead",
        act.LeadRef,
        act.LeadOutput,
        _LEAD_OUT,
        kind=Kind.search,
        writes=False,
    ),
    _action(
        "kartra.lead_details.find",
        "Get Lead Details",
        "Gets every detail of a lead (custom fields, tags…) by id or email.",
        "get_lead",
        act.LeadRef,
        act.LeadOutput,
        dict(_LEAD_OUT, score=10, tags=[{"tag_name": "Customer"}]),
        kind=Kind.search,
        writes=False,
    ),
    _action(
        "kartra.transaction.find",
        "Find Transaction",
        "Finds a payment transaction by id and returns its details.",
        "search_transaction + get_transaction_details",
        act.FindTransactionInput,
        act.TransactionDetails,
        {
            "transaction_id": "48110",
            "lead_id": "4174086",
            "lead_email": "jane@example.com",
            "product_id": "223",
            "product_name": "Pro Course",
            "product_price_point": "2",
            "transaction_full_amount": 97.0,
            "transaction_quantity": 1,
        },
        kind=Kind.search,
        writes=False,
    ),
    _action(
        "kartra.subscription.find",
        "Find Subscription",
        "Finds a recurring subscription by id and returns its details.",
        "get_subscription_details",
        act.FindSubscriptionInput,
        act.SubscriptionDetails,
        {
            "subscription_id": "993037",
            "subscription_status": "Active",
            "subscription_product_id": "223",
            "subscription_price_point": "2",
            "subscription_lead_id": "4174086",
            "subscription_recurring_period": "monthly",
        },
        kind=Kind.search,
        writes=False,
    ),
    _action(
        "kartra.lead.find_or_create",
        "Find or Create Lead",
        "Finds a lead by lead id or email, creating it when it does not exist.",
        "search_lead → create_lead",
        act.FindOrCreateLeadInput,
        act.LeadOutput,
        dict(_LEAD_OUT, created=True),
        kind=Kind.search,
    ),
]

_BY_LEAD = {"email": "jane@example.com", "lead_id": "4174086"}
_LEAD_INPUT = {
    "first_name": "Jane",
    "middle_name": "Ann",
    "last_name": "Smith",
    "last_name2": "Jones",
    "phone": "7700900123",
    "phone_country_code": "+44",
    "ip": "203.0.113.7",
    "address": "1 High St",
    "zip": "SW1A 1AA",
    "city": "London",
    "state": "Greater London",
    "country": "United Kingdom",
    "company": "Smith Ltd",
    "lead_picture": "https://example.com/jane.png",
    "website": "https://smith.example",
    "lead_preferred_time_zone": "Europe/London",
    "facebook": "jane.smith",
    "twitter": "janesmith",
    "linkedin": "jane-smith",
}
INPUT_EXAMPLES: dict[str, dict[str, Any]] = {
    "kartra.lead.tag.assign": {**_BY_LEAD, "tag_name": "Customer"},
    "kartra.lead.tag.unassign": {**_BY_LEAD, "tag_name": "Prospect"},
    "kartra.lead.list.subscribe": {**_BY_LEAD, "list_name": "Newsletter"},
    "kartra.lead.list.unsubscribe": {**_BY_LEAD, "list_name": "Newsletter"},
    "kartra.lead.sequence.subscribe": {**_BY_LEAD, "sequence_name": "Welcome", "step": "1"},
    "kartra.lead.sequence.unsubscribe": {**_BY_LEAD, "sequence_name": "Welcome"},
    "kartra.lead.calendar.subscribe": {
        **_BY_LEAD,
        "calendar_name": "First calendar",
        "class_name": "First class",
        "starting_date": "16 Jan 2027",
        "starting_hour": "10:00",
    },
    "kartra.lead.calendar.cancel": {
        **_BY_LEAD,
        "calendar_name": "First calendar",
        "class_name": "First class",
    },
    "kartra.custom_field.create": {
        "custom_field_identifier": "tshirt_size",
        "custom_field_type": "drop_down",
        "custom_field_options": ["S", "M", "L"],
    },
    "kartra.lead.create": {"email": "jane@example.com", **_LEAD_INPUT},
    "kartra.lead.update": {**_BY_LEAD, "new_email": "jane.smith@example.com", **_LEAD_INPUT},
    "kartra.lead.points.give": {**_BY_LEAD, "points": 10, "expiration": 30},
    "kartra.lead.points.remove": {**_BY_LEAD, "points": 5},
    "kartra.subscription.status.change": {"subscription_id": "993037", "status": "pause"},
    "kartra.subscription.update": {
        "subscription_id": "993037",
        "product_id": "223",
        "price_point": "2",
        "next_payment_date": "2027-01-16 10:00",
        "amount": 29.0,
        "recurring_period_1": "1",
        "recurring_period_2": "months",
        "quantity": 1,
        "installments_left": "6",
    },
    "kartra.subscription.cancel": {"subscription_id": "14833", "transaction_id": "48110", **_BY_LEAD},
    "kartra.transaction.refund": {"transaction_id": "48110", "amount": 10.0, **_BY_LEAD},
    "kartra.lists.retrieve": {},
    "kartra.tags.retrieve": {},
    "kartra.sequences.retrieve": {},
    "kartra.custom_fields.retrieve": {},
    "kartra.pages.retrieve": {},
    "kartra.api.request": {"method": "POST", "body": {"actions": [{"cmd": "retrieve_account_tags"}]}},
    "kartra.lead.find": _BY_LEAD,
    "kartra.lead_details.find": _BY_LEAD,
    "kartra.transaction.find": {"transaction_id": "48110"},
    "kartra.subscription.find": {"subscription_id": "993037"},
    "kartra.lead.find_or_create": {**_BY_LEAD, **_LEAD_INPUT},
}
"""Catalog key → a sample INPUT an editor pre-fills (trigger examples come from their parameters)."""

_PARAM_EXAMPLES: dict[type[BaseModel], dict[str, Any]] = {
    NoParams: {},
    ev.ProductParams: {"product_id": "223", "price_point": "2"},
    ev.CalendarParams: {"calendar_id": "5", "class_id": "9"},
    ev.TagParams: {"tag_name": "Customer"},
    ev.ListParams: {"list_name": "Newsletter"},
    ev.SequenceParams: {"sequence_name": "Welcome"},
    ev.MembershipParams: {"membership_id": "7", "level_id": "2"},
    ev.FormParams: {"form_id": "12"},
    ev.VideoParams: {"video_id": "12"},
    ev.SurveyParams: {"survey_id": "4"},
    ev.PageParams: {"page_id": "31"},
    ev.SplitTestLinkParams: {"split_test_link_id": "12", "version": "A"},
    ev.TrackingLinkParams: {"tracking_link_id": "12"},
}


def _with_input_example(entry: CatalogEntry) -> CatalogEntry:
    if entry.kind is Kind.trigger:
        example = _PARAM_EXAMPLES[entry.input_model]
        matched = entry.param_fields or dict.fromkeys(example)  # an unavailable trigger matches nothing yet
        return replace(entry, input_example={k: v for k, v in example.items() if k in matched})
    return replace(entry, input_example=INPUT_EXAMPLES[entry.key])


TRIGGERS = [_with_input_example(e) for e in TRIGGERS]
ACTIONS = [_with_input_example(e) for e in ACTIONS]
ENTRIES: list[CatalogEntry] = [*TRIGGERS, *ACTIONS]

TRIGGERS_BY_UPSTREAM: dict[str, CatalogEntry] = {e.upstream: e for e in TRIGGERS if e.available}
"""Outbound ``action`` string (or ``ipn:<transaction_type>``) → trigger entry."""
