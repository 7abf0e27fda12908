"""The zap definition (DESIGN.md §4): one trigger, optional filters, one or more steps.

These models are the ``zapctl`` YAML form and the ``/v1/zaps`` request body. Structural rules
(identifiers, operators, at least one step) live here; rules that need the catalog or the tenant's
connections live in :mod:`zap_router.domain.validation`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

STEP_ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class FilterOp(StrEnum):
    """Zapier's filter operators (text, number, date, boolean, existence)."""

    contains = "contains"
    not_contains = "not_contains"
    exact = "exact"
    not_exact = "not_exact"
    is_in = "in"
    not_in = "not_in"
    starts_with = "starts_with"
    not_starts_with = "not_starts_with"
    ends_with = "ends_with"
    not_ends_with = "not_ends_with"
    matches = "matches"
    not_matches = "not_matches"
    gt = "gt"
    gte = "gte"
    lt = "lt"
    lte = "lte"
    eq = "eq"
    ne = "ne"
    before = "before"
    after = "after"
    date_equals = "date_equals"
    is_true = "true"
    is_false = "false"
    exists = "exists"
    not_exists = "not_exists"


# Zapier's wording, accepted as aliases so a user can write what the Zapier editor shows.
OP_ALIASES: dict[str, str] = {
    "text contains": "contains",
    "text does not contain": "not_contains",
    "text exactly matches": "exact",
    "exactly matches": "exact",
    "text does not exactly match": "not_exact",
    "text is in": "in",
    "is in": "in",
    "text is not in": "not_in",
    "text starts with": "starts_with",
    "text does not start with": "not_starts_with",
    "text ends with": "ends_with",
    "text does not end with": "not_ends_with",
    "matches pattern": "matches",
    "does not match pattern": "not_matches",
    "number greater than": "gt",
    "greater than": "gt",
    "number less than": "lt",
    "less than": "lt",
    "number equals": "eq",
    "equals": "eq",
    "date before": "before",
    "date after": "after",
    "date equals": "date_equals",
    "boolean is true": "true",
    "is true": "true",
    "boolean is false": "false",
    "is false": "false",
    "exists": "exists",
    "does not exist": "not_exists",
}


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="Dotted path, e.g. trigger.transaction.amount")
    op: FilterOp
    value: Any = None

    @field_validator("op", mode="before")
    @classmethod
    def _alias(cls, value: object) -> object:
        if isinstance(value, str):
            key = value.strip().lower()
            return OP_ALIASES.get(key, key.replace(" ", "_"))
        return value


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all: list[Condition] = Field(min_length=1)


class FilterSpec(BaseModel):
    """OR of AND groups: the event passes if every condition of at least one group holds."""

    model_config = ConfigDict(extra="forbid")

    any: list[AllOf] = Field(min_length=1)


class TriggerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str
    event: str = Field(description="Catalog key of the trigger, e.g. kartra.product.purchased")
    connection: str
    params: dict[str, Any] = Field(default_factory=dict)


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=STEP_ID_PATTERN, description="Referenced by later steps as steps.<id>")
    action: str = Field(description="Catalog key of an action or search")
    connection: str | None = Field(
        default=None, description="Defaults to the previous step's connection of the same app"
    )
    input: dict[str, Any] = Field(default_factory=dict)
    on_not_found: Literal["halt", "continue"] = "halt"


class ZapSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    trigger: TriggerSpec
    filter: FilterSpec | None = None
    steps: list[StepSpec] = Field(min_length=1)
    backfill: bool = Field(
        default=False,
        description="Also run on backfilled trigger events (origin: backfill); off by default",
    )


class ResolvedStep(BaseModel):
    """A step as stored in a zap version: its connection resolved, its app known."""

    id: str
    action: str
    app: str
    connection: str
    input: dict[str, Any]
    on_not_found: Literal["halt", "continue"] = "halt"
