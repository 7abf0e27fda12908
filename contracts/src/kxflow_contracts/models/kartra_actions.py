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
    tag_name: str = Field(
        min_length=1, description="The tag's name, as Kartra shows it (assign_tag / unassign_tag `tag_name`)"
    )


class ListInput(LeadRef):
    list_name: str = Field(min_length=1, description="The list's name (`list_name`)")


class SequenceSubscribeInput(LeadRef):
    sequence_name: str = Field(min_length=1, description="The sequence's name (`sequence_name`)")
    step: str = Field(default="1", min_length=1, description="The sequence step (box number)")


class SequenceUnsubscribeInput(LeadRef):
    sequence_name: str = Field(min_length=1, description="The sequence's name (`sequence_name`)")


class CalendarCancelInput(LeadRef):
    calendar_name: str = Field(min_length=1, description="The calendar's name (`calendar_name`)")
    class_name: str = Field(min_length=1, description="The calendar class's name (`class_name`)")


class CalendarSubscribeInput(CalendarCancelInput):
    starting_date: str | None = Field(default=None, description="DD Mmm YYYY, e.g. 16 Jan 2027 (EST)")
    starting_hour: str | None = Field(default=None, description="HH:MM (EST)")


CustomFieldType = Literal["input_field", "text_area", "drop_down", "radio_button", "checkbox"]


class CustomFieldCreateInput(_Input):
    custom_field_identifier: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The new field's identifier: letters, digits, _ and - (`custom_field_identifier`)",
    )
    custom_field_type: CustomFieldType = Field(
        default="input_field", description="The field's type (`custom_field_type`)"
    )
    custom_field_options: list[str] = Field(default_factory=list, description="≥ 2 for multi-option types")


class CustomFieldValue(_Input):
    field_identifier: str
    field_value: str | list[str] = ""


class LeadFields(_Input):
    first_name: str | None = Field(default=None, description="First name (`lead[first_name]`)")
    middle_name: str | None = Field(default=None, description="Middle name (`lead[middle_name]`)")
    last_name: str | None = Field(default=None, description="Last name (`lead[last_name]`)")
    last_name2: str | None = Field(default=None, description="Second last name (`lead[last_name2]`)")
    phone: str | None = Field(default=None, description="Phone number (`lead[phone]`)")
    phone_country_code: str | None = Field(
        default=None, description="Phone country code, e.g. +44 (`lead[phone_country_code]`)"
    )
    ip: str | None = Field(default=None, description="IP address (`lead[ip]`)")
    address: str | None = Field(default=None, description="Street address (`lead[address]`)")
    zip: str | None = Field(default=None, description="Zip / postal code (`lead[zip]`)")
    city: str | None = Field(default=None, description="City (`lead[city]`)")
    state: str | None = Field(default=None, description="State (`lead[state]`)")
    country: str | None = Field(default=None, description="Country (`lead[country]`)")
    company: str | None = Field(default=None, description="Company (`lead[company]`)")
    lead_picture: str | None = Field(default=None, description="Lead picture URL (`lead[lead_picture]`)")
    website: str | None = Field(default=None, description="Website (`lead[website]`)")
    lead_preferred_time_zone: str | None = Field(
        default=None, description="Preferred time zone, e.g. Europe/London (`lead[lead_preferred_time_zone]`)"
    )
    facebook: str | None = Field(default=None, description="Facebook account (`lead[facebook]`)")
    twitter: str | None = Field(default=None, description="Twitter account (`lead[twitter]`)")
    linkedin: str | None = Field(default=None, description="LinkedIn account (`lead[linkedin]`)")
    sales_tax_id: str | None = Field(default=None, description="Sales tax id (`lead[sales_tax_id]`)")
    business_type: int | None = Field(default=None, description="Business type code (`lead[business_type]`)")
    custom_fields: list[CustomFieldValue] = Field(
        default_factory=list,
        description="Custom field values (`lead[custom_fields][n][field_identifier|field_value]`)",
    )


class CreateLeadInput(LeadFields):
    email: str = Field(min_length=3, description="The lead's email (`lead[email]`)")


class EditLeadInput(LeadFields, LeadRef):
    new_email: str | None = Field(default=None, description="A new email for the lead (`lead[new_email]`)")


class PointsInput(LeadRef):
    points: int = Field(gt=0, description="How many points (`points`)")


class GivePointsInput(PointsInput):
    expiration: int | None = Field(default=None, ge=0, description="Days until the points expire")


class ChangeSubscriptionStatusInput(_Input):
    subscription_id: str = Field(min_length=1, description="Kartra's subscription id (`subscription_id`)")
    status: Literal["cancel", "pause", "unpause"] = Field(description="cancel, pause or unpause (`status`)")


class EditSubscriptionInput(_Input):
    subscription_id: str = Field(min_length=1, description="Kartra's subscription id (`subscription_id`)")
    product_id: str | None = Field(default=None, description="The product to switch to (`product_id`)")
    price_point: str | None = Field(default=None, description="The product's price point (`price_point`)")
    next_payment_date: str | None = Field(default=None, description="yyyy-mm-dd hh:mm (EST)")
    amount: float | None = Field(default=None, description="The new recurring amount (`amount`)")
    recurring_period_1: str | None = Field(
        default=None, description="Recurrence: the number of units between payments (`recurring_period_1`)"
    )
    recurring_period_2: str | None = Field(
        default=None, description="Recurrence: the unit, e.g. days or months (`recurring_period_2`)"
    )
    quantity: int | None = Field(default=None, description="Quantity (`quantity`)")
    installments_left: str | None = Field(default=None, description="Installments left (`installments_left`)")
    tax_percent: float | None = Field(default=None, ge=0, le=100)


class CancelSubscriptionInput(_Input):
    transaction_id: str | None = Field(
        default=None, description="The subscription's transaction id (`transaction_id`)"
    )
    subscription_id: str | None = Field(default=None, description="Kartra's internal subscription id")
    email: str | None = Field(default=None, description="The lead's email (`lead[email]`)")
    lead_id: str | None = Field(default=None, description="The lead's id (`lead[id]`)")

    @model_validator(mode="after")
    def _one_of(self) -> CancelSubscriptionInput:
        if not (self.transaction_id or self.subscription_id):
            raise ValueError("transaction_id or subscription_id is required")
        return self


class RefundTransactionInput(_Input):
    transaction_id: str = Field(min_length=1, description="The transaction to refund (`transaction_id`)")
    amount: float | None = Field(default=None, gt=0, description="Empty = full refund")
    email: str | None = Field(default=None, description="The lead's email (`lead[email]`)")
    lead_id: str | None = Field(default=None, description="The lead's id (`lead[id]`)")


class FindTransactionInput(_Input):
    transaction_id: str = Field(min_length=1, description="The transaction's id (`transaction_id`)")


class FindSubscriptionInput(_Input):
    subscription_id: str = Field(min_length=1, description="Kartra's subscription id (`subscription_id`)")


class FindOrCreateLeadInput(CreateLeadInput):
    lead_id: str | None = Field(
        default=None, description="Kartra lead id: searched first (then the email); never sent on create"
    )


class ApiRequestInput(_Input):
    """Zapier's "API Request (Beta)": a raw call to the connection's Kartra API, credentials injected."""

    method: Literal["POST"] = Field(default="POST", description="HTTP method: Kartra's API only takes POST")
    url: str | None = Field(default=None, description="Must be the connection's Kartra API URL")
    query: dict[str, str] = Field(default_factory=dict, description="Query string parameters")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Additional request headers (credentials are injected, never taken from here)",
    )
    body: dict[str, Any] = Field(default_factory=dict, description="Nested; sent PHP-bracket form-encoded")
    stop_on_error: bool = Field(
        default=True, description="Fail the step when Kartra answers an error (else return the answer)"
    )


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
