"""Normalized Kartra trigger events (the ``data`` of records on ``kxflow.kartra.events.v1``).

One model per trigger family. Every event carries the ``lead`` (Kartra's lead block, normalized),
the raw Kartra ``kartra_action`` (outbound ``action`` string or IPN ``transaction_type``) and the
``channel`` it came through. Ids are strings (Kartra sends them as numbers or strings), amounts are
numbers, timestamps are UTC ISO-8601 (Kartra sends naive US-Eastern strings), and Kartra's IPN
``"N/A"`` placeholder becomes ``None``. Unknown upstream fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from kxflow_contracts.catalog.base import OpenModel
from kxflow_contracts.events.base import TriggerEvent

Channel = Literal["outbound", "ipn"]


class KartraCustomFieldOption(OpenModel):
    option_id: str | None = None
    option_value: str | None = None


class KartraCustomField(OpenModel):
    field_id: str | None = None
    field_identifier: str | None = None
    field_type: str | None = None
    field_value: str | list[KartraCustomFieldOption] | None = None


class KartraLead(OpenModel):
    """A Kartra lead as the outbound API's ``lead`` block (or the IPN's ``lead_*`` fields) gives it."""

    id: str | None = None
    email: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    last_name2: str | None = None
    username: str | None = None
    phone_country_code: str | None = None
    phone: str | None = None
    company: str | None = None
    address: str | None = None
    city: str | None = None
    zip: str | None = None
    state: str | None = None
    country: str | None = None
    country_code_2: str | None = None
    country_code_3: str | None = None
    ip: str | None = None
    ip_country: str | None = None
    website: str | None = None
    sales_tax_id: str | None = None
    source: str | None = None
    source_id: str | None = None
    score: int | None = None
    blacklisted: bool | None = None
    date_joined: str | None = Field(default=None, description="UTC ISO-8601")
    lead_preferred_time_zone: str | None = None
    gdpr_lead_status: int | None = None
    gdpr_lead_communications: int | None = None
    custom_fields: list[KartraCustomField] = Field(default_factory=list)


class KartraProduct(OpenModel):
    id: str | None = None
    name: str | None = None
    price_point: str | None = None
    official_name: str | None = None


class KartraTransaction(OpenModel):
    id: str | None = None
    type: str | None = Field(default=None, description="sale, rebill, refund, partial_refund, …")
    amount: float | None = Field(default=None, description="transaction_full_amount")
    quantity: int | None = None
    date: str | None = Field(default=None, description="UTC ISO-8601")
    base_amount: float | None = None
    discount: float | None = None
    shipping: float | None = None
    tax: float | None = None
    parent_id: str | None = None
    original_id: str | None = None
    subscription_id: str | None = None
    internal_subscription_id: str | None = None
    subscription_pay_number: str | None = None
    affiliate: str | None = None
    jv: str | None = None
    last_4_card_digits: str | None = None
    trial: bool | None = None
    trial_amount: float | None = None
    trial_period: str | None = None
    payments_left: str | None = None


class KartraEvent(TriggerEvent):
    """Fields every Kartra trigger event has."""

    lead: KartraLead
    kartra_action: str = Field(description="Kartra's outbound `action` or the IPN `transaction_type`")
    channel: Channel = "outbound"


class TransactionEvent(KartraEvent):
    """A product transaction (outbound ``transaction_details`` or an IPN post)."""

    product: KartraProduct
    transaction: KartraTransaction


class ProductPurchased(TransactionEvent):
    """Customer Buys Product (outbound ``buy_product``)."""


class ProductRefunded(TransactionEvent):
    """Customer Refunds Product (outbound refund event)."""


class ProductPartiallyRefunded(TransactionEvent):
    """Customer Partially Refunds Product (outbound partial refund event)."""


class SubscriptionCancelled(TransactionEvent):
    """Customer Cancels Subscription (outbound ``cancel_subscription``)."""


class PaymentTracking(OpenModel):
    vendor_tracking_id_1: str | None = None
    vendor_tracking_id_2: str | None = None
    vendor_tracking_link: str | None = None


class PaymentNotification(TransactionEvent):
    """An IPN post (sale, rebill, refund, partial refund, cancellation, failed rebill, chargeback)."""

    channel: Channel = "ipn"
    tracking: PaymentTracking = Field(default_factory=PaymentTracking)


class ProductSignup(KartraEvent):
    """An affiliate or JV partner signed up for a product."""

    product: KartraProduct


class CalendarHost(OpenModel):
    host_first_name: str | None = None
    host_last_name: str | None = None
    host_email_address: str | None = None


class KartraCalendar(OpenModel):
    id: str | None = None
    name: str | None = None
    class_id: str | None = None
    class_name: str | None = None
    subscription_id: str | None = None
    vendor_timezone: str | None = None
    hosts: list[CalendarHost] = Field(default_factory=list)
    events: list[Any] = Field(default_factory=list)


class CalendarEvent(KartraEvent):
    calendar: KartraCalendar


class NamedThing(OpenModel):
    """A Kartra object known by id and name (tag, list, sequence, form, video, page, link)."""

    id: str | None = None
    name: str | None = None


class TagEvent(KartraEvent):
    tag: NamedThing


class ListEvent(KartraEvent):
    list: NamedThing


class SequenceEvent(KartraEvent):
    sequence: NamedThing


class KartraMembership(OpenModel):
    id: str | None = None
    name: str | None = None
    level_id: str | None = None
    level_name: str | None = None


class MembershipEvent(KartraEvent):
    membership: KartraMembership


class FormFilled(KartraEvent):
    form: NamedThing


class ScoreReached(KartraEvent):
    points: int | None = None


class VideoEvent(KartraEvent):
    video: NamedThing


class SurveyAnswer(OpenModel):
    option_id: str | None = None


class SurveyQuestion(OpenModel):
    question_id: str | None = None
    question_title: str | None = None
    question_correct: Any = None
    answers: list[SurveyAnswer] = Field(default_factory=list)


class KartraSurvey(OpenModel):
    id: str | None = None
    name: str | None = None
    type: str | None = None
    score: float | None = None
    completion_time: str | None = None
    questions: list[SurveyQuestion] = Field(default_factory=list)


class SurveyCompleted(KartraEvent):
    survey: KartraSurvey


class PageVisited(KartraEvent):
    page: NamedThing


class SplitTestLink(NamedThing):
    version: str | None = Field(default=None, description="The split test's version the lead was sent to")


class SplitTestLinkClicked(KartraEvent):
    split_test_link: SplitTestLink


# --------------------------------------------------------------------------- trigger parameters


class ProductParams(BaseModel):
    product_id: str | None = Field(default=None, description="Kartra product id")
    price_point: str | None = Field(default=None, description="Product price point (1..n)")


class CalendarParams(BaseModel):
    calendar_id: str | None = Field(default=None, description="Kartra calendar id")
    class_id: str | None = Field(default=None, description="Kartra calendar class id")


class TagParams(BaseModel):
    tag_id: str | None = Field(default=None, description="Kartra tag id")
    tag_name: str | None = Field(default=None, description="Tag name (instead of the id)")


class ListParams(BaseModel):
    list_id: str | None = Field(default=None, description="Kartra list id")
    list_name: str | None = Field(default=None, description="List name (instead of the id)")


class SequenceParams(BaseModel):
    sequence_id: str | None = Field(default=None, description="Kartra sequence id")
    sequence_name: str | None = Field(default=None, description="Sequence name (instead of the id)")


class MembershipParams(BaseModel):
    membership_id: str | None = Field(default=None, description="Kartra membership id")
    level_id: str | None = Field(default=None, description="Membership level id")


class FormParams(BaseModel):
    form_id: str | None = Field(default=None, description="Kartra optin form id")


class VideoParams(BaseModel):
    video_id: str | None = Field(default=None, description="Kartra video id")


class SurveyParams(BaseModel):
    survey_id: str | None = Field(default=None, description="Kartra survey or quiz id")


class PageParams(BaseModel):
    page_id: str | None = Field(default=None, description="Kartra page id")


class SplitTestLinkParams(BaseModel):
    split_test_link_id: str | None = Field(default=None, description="Kartra page split-test link id")
    version: str | None = Field(
        default=None, description="The split test's version (A, B, …) the lead was sent to"
    )


class TrackingLinkParams(BaseModel):
    tracking_link_id: str | None = Field(default=None, description="Kartra tracking link id")
