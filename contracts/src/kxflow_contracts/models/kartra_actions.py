"""Inputs and outputs of the Kartra actions and searches (Kartra's own snake_case field names).

A lead is addressed by ``lead_id`` or ``email`` (Kartra: id wins when both are given). Lists, tags,
sequences, calendars and classes are addressed by name, as Kartra's API requires.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kxflow_contracts.catalog.base import OpenModel
from kxflow_contracts.events.kartra import KartraCustomField, KartraLead


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeadRef(_Input):
    email: str | None = Field(default=None, description="Lead email (used when no lead id is given)")
    lead_id: str | None = Field(default=None, description="Kartra lead id (wins over email)")

    @model_validator(mode="after")
    def _one_of(self) -> LeadRef:
        if not (self.email or self.lead_id):
            raise ValueError("email or lead_id is required")
        return self


class TagInput(LeadRef):
    tag_name: str = Field(min_length=1)


class ListInput(LeadRef):
    list_name: str = Field(min_length=1)


class SequenceSubscribeInput(LeadRef):
    sequence_name: str = Field(min_length=1)
    step: str = Field(default="1", min_length=1, description="The sequence step (box number)")


class SequenceUnsubscribeInput(LeadRef):
    sequence_name: str = Field(min_length=1)


class CalendarCancelInput(LeadRef):
    calendar_name: str = Field(min_length=1)
    class_name: str = Field(min_length=1)


class CalendarSubscribeInput(CalendarCancelInput):
    starting_date: str | None = Field(default=None, description="DD Mmm YYYY, e.g. 16 Jan 2027 (EST)")
    starting_hour: str | None = Field(default=None, description="HH:MM (EST)")


CustomFieldType = Literal["input_field", "text_area", "drop_down", "radio_button", "checkbox"]


class CustomFieldCreateInput(_Input):
    custom_field_identifier: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    custom_field_type: CustomFieldType = "input_field"
    custom_field_options: list[str] = Field(default_factory=list, description="≥ 2 for multi-option types")


class CustomFieldValue(_Input):
    field_identifier: str
    field_value: str | list[str] = ""


class LeadFields(_Input):
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    last_name2: str | None = None
    phone: str | None = None
    phone_country_code: str | None = None
    ip: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    company: str | None = None
    lead_picture: str | None = None
    website: str | None = None
    lead_preferred_time_zone: str | None = None
    facebook: str | None = None
    twitter: str | None = None
    linkedin: str | None = None
    sales_tax_id: str | None = None
    business_type: int | None = None
    custom_fields: list[CustomFieldValue] = Field(default_factory=list)


class CreateLeadInput(LeadFields):
    email: str = Field(min_length=3)


class EditLeadInput(LeadFields, LeadRef):
    new_email: str | None = None


class PointsInput(LeadRef):
    points: int = Field(gt=0)


class GivePointsInput(PointsInput):
    expiration: int | None = Field(default=None, ge=0, description="Days until the points expire")


class ChangeSubscriptionStatusInput(_Input):
    subscription_id: str = Field(min_length=1)
    status: Literal["cancel", "pause", "unpause"]


class EditSubscriptionInput(_Input):
    subscription_id: str = Field(min_length=1)
    product_id: str | None = None
    price_point: str | None = None
    next_payment_date: str | None = Field(default=None, description="yyyy-mm-dd hh:mm (EST)")
    amount: float | None = None
    recurring_period_1: str | None = None
    recurring_period_2: str | None = None
    quantity: int | None = None
    installments_left: str | None = None
    tax_percent: float | None = Field(default=None, ge=0, le=100)


class CancelSubscriptionInput(_Input):
    transaction_id: str | None = None
    subscription_id: str | None = Field(default=None, description="Kartra's internal subscription id")
    email: str | None = None
    lead_id: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CancelSubscriptionInput:
        if not (self.transaction_id or self.subscription_id):
            raise ValueError("transaction_id or subscription_id is required")
        return self


class RefundTransactionInput(_Input):
    transaction_id: str = Field(min_length=1)
    amount: float | None = Field(default=None, gt=0, description="Empty = full refund")
    email: str | None = None
    lead_id: str | None = None


class FindTransactionInput(_Input):
    transaction_id: str = Field(min_length=1)


class FindSubscriptionInput(_Input):
    subscription_id: str = Field(min_length=1)


class FindOrCreateLeadInput(CreateLeadInput):
    pass


class ApiRequestInput(_Input):
    """Zapier's "API Request (Beta)": a raw call to the connection's Kartra API, credentials injected."""

    method: Literal["POST"] = "POST"
    url: str | None = Field(default=None, description="Must be the connection's Kartra API URL")
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] = Field(default_factory=dict, description="Nested; sent PHP-bracket form-encoded")
    stop_on_error: bool = True


# --------------------------------------------------------------------------- outputs


class KartraMessageOutput(OpenModel):
    """Kartra's standard answer: ``status``, ``message``, numeric ``type`` (as a string)."""

    status: str = "Success"
    message: str | None = None
    type: str | None = None
    lead_id: str | None = None
    email: str | None = None


class LeadOutput(KartraLead):
    created: bool = False


class NamesOutput(OpenModel):
    items: list[str] = Field(default_factory=list)
    count: int = 0


class PagesOutput(OpenModel):
    items: list[dict[str, Any]] = Field(default_factory=list)
    count: int = 0


class CustomFieldsOutput(OpenModel):
    items: list[KartraCustomField] = Field(default_factory=list)
    count: int = 0


class TransactionDetails(OpenModel):
    transaction_id: str | None = None
    lead_id: str | None = None
    lead_email: str | None = None
    product_id: str | None = None
    product_name: str | None = None
    product_price_point: str | None = None
    transaction_full_amount: float | None = None
    transaction_quantity: int | None = None


class SubscriptionDetails(OpenModel):
    subscription_id: str | None = None
    subscription_status: str | None = None
    subscription_product_id: str | None = None
    subscription_price_point: str | None = None
    subscription_lead_id: str | None = None
    subscription_next_payment_date: str | None = None
    subscription_recurring_period: str | None = None


class RefundOutput(OpenModel):
    transaction_refunded: str | None = None
    already_refunded: bool = False


class CancelSubscriptionOutput(OpenModel):
    transaction_subscription_id: str | None = None
    transaction_internal_subscription_id: str | None = None
    already_cancelled: bool = False


class ApiRequestOutput(OpenModel):
    status_code: int
    body: Any = None
