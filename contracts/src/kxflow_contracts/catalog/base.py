"""The catalog: every trigger, action and search kxflow offers, with its typed models.

An entry is what a zap editor (and the router's save-time validation) needs: the key, the name
Zapier uses, the input model (trigger parameters or action input), the output model (the trigger's
event data or the action's output), whether it writes, and the example Zapier's "try it" gives a
user mapping fields (a sample OUTPUT), plus for actions and searches a sample INPUT an editor
pre-fills.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Kind(StrEnum):
    trigger = "trigger"
    action = "action"
    search = "search"


class Delivery(StrEnum):
    """How a trigger reaches kxflow."""

    webhook = "webhook"
    poll = "poll"
    none = "none"


class NoParams(BaseModel):
    """A trigger without parameters, or an action without input."""

    model_config = ConfigDict(extra="forbid")


class OpenModel(BaseModel):
    """Base for upstream-shaped payloads: unknown upstream fields are kept, never rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    app: str
    kind: Kind
    display_name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    example: dict[str, Any]
    """A sample OUTPUT: the trigger's event data or the action's/search's output."""
    writes: bool = False
    version: int = 1
    available: bool = True
    unavailable_reason: str | None = None
    delivery: Delivery = Delivery.webhook
    param_fields: dict[str, str] = field(default_factory=dict)
    """Trigger parameter name → dotted path in the event data that must equal it (router matching)."""
    param_defaults: dict[str, str] = field(default_factory=dict)
    """Trigger parameter name → the value the router matches when a zap gives none (so widening what
    a trigger emits, e.g. draft pay runs, does not start existing zaps on the new events)."""
    param_lists: dict[str, str] = field(default_factory=dict)
    """List-matched trigger parameter → the parameter that says how: the zap gives one value or a
    list, the event path (``param_fields``) holds a list, and ``any`` (the default) of the zap's values
    or ``all`` of them must be in it (Updated Sales Invoice's Change and Trigger preference). Both
    parameters are left out of equality matching."""
    upstream: str = ""
    """What it maps to upstream (Kartra cmd/event, Xero endpoint), for operators and docs."""
    input_example: dict[str, Any] | None = None
    """A sample INPUT (trigger parameters or action input) an editor pre-fills."""

    @property
    def ce_type(self) -> str:
        """CloudEvents ``ce_type`` of this trigger's events: catalog key plus major version."""
        return f"{self.key}.v{self.version}"

    def public(self) -> dict[str, Any]:
        """The JSON served at ``/v1/catalog``."""
        return {
            "key": self.key,
            "app": self.app,
            "kind": self.kind.value,
            "display_name": self.display_name,
            "description": self.description,
            "writes": self.writes,
            "version": self.version,
            "ce_type": self.ce_type if self.kind is Kind.trigger else None,
            "available": self.available,
            "unavailable_reason": self.unavailable_reason,
            "delivery": self.delivery.value if self.kind is Kind.trigger else None,
            "param_fields": self.param_fields,
            "param_defaults": self.param_defaults,
            "param_lists": self.param_lists,
            "upstream": self.upstream,
            "input_schema": self.input_model.model_json_schema(),
            "output_schema": self.output_model.model_json_schema(mode="serialization"),
            "example": self.example,
            "input_example": self.input_example,
        }


class CatalogError(KeyError):
    pass


class Catalog:
    """A registry of entries by key; also finds a trigger by its CloudEvents type."""

    def __init__(self) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        self._by_ce_type: dict[str, CatalogEntry] = {}

    def register(self, *entries: CatalogEntry) -> None:
        for entry in entries:
            if entry.key in self._entries:
                raise ValueError(f"catalog key registered twice: {entry.key}")
            if not entry.key.startswith(f"{entry.app}."):
                raise ValueError(f"catalog key {entry.key} must start with its app {entry.app!r}")
            self._entries[entry.key] = entry
            if entry.kind is Kind.trigger:
                self._by_ce_type[entry.ce_type] = entry

    def get(self, key: str) -> CatalogEntry:
        try:
            return self._entries[key]
        except KeyError:
            raise CatalogError(f"unknown catalog key {key!r}") from None

    def find(self, key: str) -> CatalogEntry | None:
        return self._entries.get(key)

    def by_ce_type(self, ce_type: str) -> CatalogEntry | None:
        return self._by_ce_type.get(ce_type)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.key))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def of(self, app: str | None = None, kind: Kind | None = None) -> list[CatalogEntry]:
        return [e for e in self if (app is None or e.app == app) and (kind is None or e.kind is kind)]
