"""The in-memory match index: which zaps does a trigger event start?

Keyed by (tenant, trigger key, connection id), so the work per event is one dict lookup plus a
parameter check of the zaps under that key: it does not grow with other tenants' or triggers' zaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from zap_router.domain.paths import MISSING, get_path
from zap_router.domain.templates import compile_tree
from zap_router.domain.zaps import FilterSpec, ResolvedStep, StepKind

IndexKey = tuple[str, str, str]


@dataclass
class ActiveZap:
    """One enabled zap version as the router runs it; templates compile on first use, once."""

    zap_id: str
    tenant: str
    version: int
    revision: int
    name: str
    trigger_key: str
    connection: str
    params: dict[str, Any]
    param_paths: dict[str, str]
    filter: FilterSpec | None
    steps: list[ResolvedStep]
    extra: dict[str, Any] = field(default_factory=dict)
    backfill: bool = False  # runs on trigger events with origin "backfill" only when set
    param_lists: dict[str, str] = field(default_factory=dict)
    """List-matched parameter → the parameter saying ``any``/``all`` (``CatalogEntry.param_lists``)."""

    @property
    def key(self) -> IndexKey:
        return (self.tenant, self.trigger_key, self.connection)

    def equality_params(self) -> dict[str, Any]:
        """The parameters matched by equality (list-matched ones and their any/all are not)."""
        lists = {*self.param_lists, *self.param_lists.values()}
        return {name: value for name, value in self.params.items() if name not in lists}

    def lists_match(self, data: Any) -> bool:
        """Whether every list-matched parameter the zap sets holds for the event."""
        for name, quantifier in self.param_lists.items():
            wanted = self.params.get(name)
            actual = get_path(data, self.param_paths.get(name, name))
            if not list_matches(wanted, actual, self.params.get(quantifier)):
                return False
        return True

    def params_match(self, data: Any) -> bool:
        for name, expected in self.equality_params().items():
            path = self.param_paths.get(name, name)
            actual = get_path(data, path)
            if actual is None or str(actual) != str(expected):
                return False
        return self.lists_match(data)

    @cached_property
    def compiled_inputs(self) -> dict[str, Any]:
        """Every action step's input, compiled, by step id (ids are unique in the whole graph)."""
        return {
            step.id: compile_tree(step.input, f"steps.{step.id}.input")
            for top in self.steps
            for step in top.all_steps()
            if step.kind is StepKind.action
        }

    @cached_property
    def is_linear(self) -> bool:
        return all(s.kind is StepKind.action and not s.on_error for s in self.steps)

    def step(self, path: str) -> ResolvedStep:
        """The step at ``path`` (``contact``, ``route/gst/invoice``, ``lines[3]/item``,
        ``contact/on_error/alert``); ``KeyError`` if this version has none there."""
        steps: list[ResolvedStep] = self.steps
        parts = path.split("/")
        found: ResolvedStep | None = None
        i = 0
        while i < len(parts):
            step_id = parts[i].split("[", 1)[0]
            found = next((s for s in steps if s.id == step_id), None)
            if found is None:
                raise KeyError(path)
            i += 1
            if i == len(parts):
                return found
            if parts[i] == "on_error" and found.on_error:
                steps, i = found.on_error, i + 1
            elif found.kind is StepKind.paths:
                branch = next((p for p in found.paths or () if p.name == parts[i]), None)
                if branch is None:
                    raise KeyError(path)
                steps, i = branch.steps, i + 1
            elif found.kind is StepKind.loop:
                steps = found.steps or []
            else:
                raise KeyError(path)
        raise KeyError(path)


def list_matches(wanted: Any, actual: Any, quantifier: Any) -> bool:
    """A list-matched parameter: ``wanted`` (one value, a list, or nothing = no condition) against
    the event's list ``actual``; ``quantifier`` ``"all"`` needs every wanted value in it, anything
    else (``"any"``, the default) at least one."""
    values = {str(v) for v in (wanted if isinstance(wanted, list) else [wanted]) if v is not None}
    if not values:
        return True
    if actual is None or actual is MISSING:
        return False
    present = {str(v) for v in (actual if isinstance(actual, list) else [actual])}
    return values <= present if quantifier == "all" else bool(values & present)


Paths = tuple[str, ...]
Values = tuple[str, ...]


def _param_key(zap: ActiveZap) -> tuple[Paths, Values]:
    """The zap's equality parameters as (event paths, expected values), ordered by path."""
    pairs = sorted(
        (zap.param_paths.get(name, name), str(value)) for name, value in zap.equality_params().items()
    )
    return tuple(p for p, _ in pairs), tuple(v for _, v in pairs)


class MatchIndex:
    """Zaps by (tenant, trigger key, connection), then by their parameter values.

    Within one key, zaps are grouped by which event paths their parameters read and then by the
    expected values, so matching an event is a dict lookup per parameter shape (usually one),
    not a scan of every zap on that trigger.
    """

    def __init__(self) -> None:
        self._by_key: dict[IndexKey, dict[Paths, dict[Values, dict[str, ActiveZap]]]] = {}
        self._by_id: dict[str, ActiveZap] = {}
        self._revisions: dict[str, int] = {}
        self._triggers: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, zap_id: str) -> ActiveZap | None:
        return self._by_id.get(zap_id)

    def revision(self, zap_id: str) -> int:
        """The newest revision applied for ``zap_id`` (-1 if never seen)."""
        return self._revisions.get(zap_id, -1)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def upsert(self, zap: ActiveZap) -> bool:
        """Add or replace; ignored if an equal or newer revision is known (changelog vs Mongo)."""
        if self._revisions.get(zap.zap_id, -1) >= zap.revision:
            return False
        self._drop(zap.zap_id)
        paths, values = _param_key(zap)
        self._by_key.setdefault(zap.key, {}).setdefault(paths, {}).setdefault(values, {})[zap.zap_id] = zap
        self._by_id[zap.zap_id] = zap
        self._revisions[zap.zap_id] = zap.revision
        pair = (zap.tenant, zap.trigger_key)
        self._triggers[pair] = self._triggers.get(pair, 0) + 1
        return True

    def remove(self, zap_id: str, revision: int | None = None) -> bool:
        """Remove (disabled or deleted); with a revision, only if it is newer than what is known."""
        if revision is not None:
            if self._revisions.get(zap_id, -1) >= revision:
                return False
            self._revisions[zap_id] = revision
        return self._drop(zap_id)

    def _drop(self, zap_id: str) -> bool:
        old = self._by_id.pop(zap_id, None)
        if old is None:
            return False
        pair = (old.tenant, old.trigger_key)
        if self._triggers.get(pair, 0) <= 1:
            self._triggers.pop(pair, None)
        else:
            self._triggers[pair] -= 1
        paths, values = _param_key(old)
        shapes = self._by_key.get(old.key, {})
        zaps = shapes.get(paths, {}).get(values, {})
        zaps.pop(zap_id, None)
        if not zaps:
            shapes.get(paths, {}).pop(values, None)
            if not shapes.get(paths):
                shapes.pop(paths, None)
                if not shapes:
                    self._by_key.pop(old.key, None)
        return True

    def replace_all(self, zaps: Iterable[ActiveZap], revisions: dict[str, int]) -> None:
        """Reconcile with the store: newer revisions win; zaps gone from the store are dropped."""
        wanted = {z.zap_id: z for z in zaps}
        for zap_id in list(self._by_id):
            if zap_id not in wanted and revisions.get(zap_id, -1) >= self._revisions.get(zap_id, -1):
                self._drop(zap_id)
        for zap_id, revision in revisions.items():
            if zap_id not in wanted and revision > self._revisions.get(zap_id, -1):
                self._revisions[zap_id] = revision
        for zap in wanted.values():
            self.upsert(zap)

    def wants(self, tenant: str, trigger_key: str) -> bool:
        """Whether any zap of ``tenant`` listens to ``trigger_key`` (checked before decoding an event)."""
        return (tenant, trigger_key) in self._triggers

    def match(self, tenant: str, trigger_key: str, connection: str, data: Any) -> list[ActiveZap]:
        shapes = self._by_key.get((tenant, trigger_key, connection))
        if not shapes:
            return []
        found: list[ActiveZap] = []
        for paths, by_values in shapes.items():
            actual = []
            for path in paths:
                value = get_path(data, path)
                if value is None or value is MISSING:
                    break
                actual.append(str(value))
            else:
                zaps = by_values.get(tuple(actual))
                if zaps:
                    found.extend(z for z in zaps.values() if not z.param_lists or z.lists_match(data))
        return found
