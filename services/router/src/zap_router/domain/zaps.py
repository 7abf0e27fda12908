"""The zap definition (DESIGN.md §4): one trigger, optional filters, one or more steps.

These models are the ``zapctl`` YAML form and the ``/v1/zaps`` request body. Structural rules
(identifiers, operators, at least one step) live here; rules that need the catalog or the tenant's
connections live in :mod:`zap_router.domain.validation`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

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


# A loop's ``max`` is capped: every iteration is steps in one run document (DESIGN.md §4.1).
MAX_LOOP_ITEMS = 500


class DelaySpec(BaseModel):
    """Delay for a duration (``10m``), until a time (a template), or after a queue (spacing runs)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    for_: str | None = Field(default=None, alias="for", description="A duration: 30s, 10m, 2h, 1d")
    until: str | None = Field(default=None, description="A time (ISO 8601; a template)")
    after_queue: str | None = Field(
        default=None, description="A queue key (a template): runs in one queue pass one by one, `for` apart"
    )

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if "for_" in data:
            data["for"] = data.pop("for_")
        return {k: v for k, v in data.items() if v is not None}


class LoopSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    over: str = Field(min_length=1, description="A template giving the list to loop over")
    max: int = Field(default=100, ge=1, le=MAX_LOOP_ITEMS, description="At most this many items run")


class BranchSpec(BaseModel):
    """An ``on_error`` branch: steps run when the action step fails for good."""

    model_config = ConfigDict(extra="forbid")

    steps: list[StepSpec] = Field(min_length=1)


class PathSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=STEP_ID_PATTERN, description="Part of its steps' paths: route/<name>/<id>")
    when: FilterSpec | None = None
    fallback: bool = False
    steps: list[StepSpec] = Field(min_length=1)


_GRAPH_FIELDS = ("on_error", "filter", "paths", "delay", "loop", "steps")


def _drop_unused(data: dict[str, Any]) -> dict[str, Any]:
    """A step's dump without the step-graph fields it does not use (linear zaps read as before)."""
    return {k: v for k, v in data.items() if not (k in _GRAPH_FIELDS and v is None)}


class StepKind(StrEnum):
    action = "action"
    filter = "filter"
    paths = "paths"
    delay = "delay"
    loop = "loop"


class StepSpec(BaseModel):
    """One step: an action (or search), or a filter, paths, delay or loop step (DESIGN.md §4.1).

    Which kind a step is follows from the key it has; a step with none or several of them is a
    problem :func:`zap_router.domain.validation.validate_zap` reports with every other one.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=STEP_ID_PATTERN, description="Referenced by later steps as steps.<id>")
    action: str | None = Field(default=None, description="Catalog key of an action or search")
    connection: str | None = Field(
        default=None, description="Defaults to the previous step's connection of the same app"
    )
    input: dict[str, Any] = Field(default_factory=dict)
    on_not_found: Literal["halt", "continue"] = "halt"
    on_error: BranchSpec | None = None
    filter: FilterSpec | None = None
    paths: list[PathSpec] | None = None
    delay: DelaySpec | None = None
    loop: LoopSpec | None = None
    steps: list[StepSpec] | None = Field(default=None, description="A loop's sub-steps")

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_unused(handler(self))

    def kinds(self) -> list[StepKind]:
        """The kinds this step claims (exactly one for a valid step)."""
        given = {
            StepKind.action: self.action,
            StepKind.filter: self.filter,
            StepKind.paths: self.paths,
            StepKind.delay: self.delay,
            StepKind.loop: self.loop,
        }
        return [kind for kind, value in given.items() if value is not None]


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
    """A step as stored in a zap version: its connection resolved, its app known.

    Control steps (filter, paths, delay, loop) have no action, app or connection; the fields that
    hold their definition and sub-steps are absent from linear zaps' stored versions, which read
    back unchanged.
    """

    id: str
    action: str = ""
    app: str = ""
    connection: str = ""
    input: dict[str, Any] = Field(default_factory=dict)
    on_not_found: Literal["halt", "continue"] = "halt"
    kind: StepKind = StepKind.action
    filter: FilterSpec | None = None
    paths: list[ResolvedPath] | None = None
    delay: DelaySpec | None = None
    loop: LoopSpec | None = None
    steps: list[ResolvedStep] | None = None
    on_error: list[ResolvedStep] | None = None

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = _drop_unused(handler(self))
        if data.get("kind") == StepKind.action:
            data.pop("kind")  # an action step is stored as it always was
        return data

    def all_steps(self) -> list[ResolvedStep]:
        """This step and every step nested in it (paths, loop, on_error), depth first."""
        found = [self]
        for child in self.children():
            found += child.all_steps()
        return found

    def children(self) -> list[ResolvedStep]:
        nested = [s for p in self.paths or () for s in p.steps]
        return nested + list(self.steps or ()) + list(self.on_error or ())


class ResolvedPath(BaseModel):
    name: str
    when: FilterSpec | None = None
    fallback: bool = False
    steps: list[ResolvedStep]
