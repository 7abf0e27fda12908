"""Save-time validation of a zap against the catalog and the tenant's connections (DESIGN.md §4).

Every problem is collected (never stop at the first), so the API can answer one 422 listing all of
them: unknown trigger or action, unknown connection, an input that can never satisfy the action's
input model, a template that does not compile, or one that reads a step that does not precede it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import re2
from pydantic import ValidationError

from kxflow_contracts.catalog import Catalog, Kind
from zap_router.domain.filters import compile_pattern
from zap_router.domain.templates import TemplateRenderError, compile_template, has_template, iter_templates
from zap_router.domain.templates import referenced_steps as template_steps
from zap_router.domain.zaps import FilterOp, ResolvedStep, ZapSpec


@dataclass(frozen=True)
class Problem:
    loc: str
    msg: str

    def as_dict(self) -> dict[str, str]:
        return {"loc": self.loc, "msg": self.msg}


def _value_at(tree: Any, loc: tuple[Any, ...]) -> list[Any]:
    """The values along ``loc`` in ``tree`` (root first), stopping where the path ends."""
    seen = [tree]
    current = tree
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if not (in_dict or in_list):
            break
        current = current[part]
        seen.append(current)
    return seen


def input_problems(model: type[Any], data: dict[str, Any], where: str) -> list[Problem]:
    """Errors a static input can never escape: missing required fields, unknown fields, wrong literals.

    Errors at (or under) a template string are skipped: the rendered value is checked at run time.
    """
    try:
        model.model_validate(data)
        return []
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            path = _value_at(data, loc)
            if any(has_template(v) for v in path):
                continue
            dotted = ".".join(str(p) for p in loc)
            problems.append(Problem(f"{where}.{dotted}" if dotted else where, error["msg"]))
        return problems


def resolve_connection_names(spec: ZapSpec, connections: Mapping[str, Collection[str]]) -> ZapSpec:
    """The spec with connections named by their (unique) name replaced by their id.

    Users write ``connection: kartra-main``, the name they gave the connection; the gateways
    identify connections by id. A directory that knows names maps each alias to its id; one that
    knows only ids (a plain collection) leaves the spec as written.
    """

    def resolve(app: str, value: str | None) -> str | None:
        aliases = connections.get(app)
        if value is None or not isinstance(aliases, Mapping):
            return value
        return aliases.get(value, value)

    t = spec.trigger
    trigger = t.model_copy(update={"connection": resolve(t.app, t.connection)})
    steps = [
        s.model_copy(update={"connection": resolve(s.action.split(".", 1)[0], s.connection)})
        for s in spec.steps
    ]
    return spec.model_copy(update={"trigger": trigger, "steps": steps})


def validate_zap(
    spec: ZapSpec, catalog: Catalog, connections: Mapping[str, Collection[str]]
) -> tuple[list[ResolvedStep], list[Problem]]:
    """Resolve step connections and list every problem (empty list = valid)."""
    problems: list[Problem] = []

    def add(loc: str, msg: str) -> None:
        problems.append(Problem(loc, msg))

    trigger = catalog.find(spec.trigger.event)
    if trigger is None or trigger.kind is not Kind.trigger:
        add("trigger.event", f"unknown trigger {spec.trigger.event!r}")
    else:
        if trigger.app != spec.trigger.app:
            add("trigger.app", f"trigger {trigger.key} belongs to {trigger.app!r}, not {spec.trigger.app!r}")
        if not trigger.available:
            add("trigger.event", f"{trigger.key} is unavailable: {trigger.unavailable_reason}")
        for name in spec.trigger.params:
            if name not in trigger.param_fields:
                known = ", ".join(sorted(trigger.param_fields)) or "none"
                add(f"trigger.params.{name}", f"unknown parameter (known: {known})")
        listed = {*trigger.param_lists, *trigger.param_lists.values()}
        given = {k: v for k, v in spec.trigger.params.items() if k in listed}
        if given:  # values outside the choices would silently never match
            problems.extend(input_problems(trigger.input_model, given, "trigger.params"))
    if spec.trigger.connection not in connections.get(spec.trigger.app, ()):
        add("trigger.connection", f"unknown {spec.trigger.app} connection {spec.trigger.connection!r}")

    if spec.filter is not None:
        for g, group in enumerate(spec.filter.any):
            for c, cond in enumerate(group.all):
                loc = f"filter.any[{g}].all[{c}]"
                if not cond.field.startswith("trigger.") and not cond.field.startswith("zap."):
                    add(f"{loc}.field", "filters run before any step: use trigger.<field>")
                if cond.op in (FilterOp.matches, FilterOp.not_matches):
                    try:
                        compile_pattern(str(cond.value))
                    except re2.error as exc:
                        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                        add(f"{loc}.value", f"invalid pattern (RE2 syntax, no back-references): {reason}")

    resolved: list[ResolvedStep] = []
    seen_ids: set[str] = set()
    last_connection: dict[str, str] = {spec.trigger.app: spec.trigger.connection}
    for i, step in enumerate(spec.steps):
        where = f"steps[{i}]"
        if step.id in seen_ids:
            add(f"{where}.id", f"duplicate step id {step.id!r}")
        entry = catalog.find(step.action)
        app = step.action.split(".", 1)[0]
        if entry is None or entry.kind is Kind.trigger:
            add(f"{where}.action", f"unknown action {step.action!r}")
        else:
            app = entry.app
            if not entry.available:
                add(f"{where}.action", f"{entry.key} is unavailable: {entry.unavailable_reason}")
            problems.extend(input_problems(entry.input_model, step.input, f"{where}.input"))
            if step.on_not_found == "continue" and entry.kind is not Kind.search:
                add(f"{where}.on_not_found", "only searches can be not found")
        connection = step.connection or last_connection.get(app)
        if connection is None:
            add(f"{where}.connection", f"no {app} connection given and none to inherit")
        elif connection not in connections.get(app, ()):
            add(f"{where}.connection", f"unknown {app} connection {connection!r}")
        else:
            last_connection[app] = connection
        for loc, source in iter_templates(step.input, f"{where}.input"):
            try:
                compile_template(source, loc)
            except TemplateRenderError as exc:
                add(loc, exc.cause)
                continue
            for ref in sorted(template_steps(source)):
                if ref not in seen_ids:
                    later = ref in {s.id for s in spec.steps[i:]}
                    why = "does not precede this step" if later else "does not exist"
                    add(loc, f"references steps.{ref}, which {why}")
        seen_ids.add(step.id)
        resolved.append(
            ResolvedStep(
                id=step.id,
                action=step.action,
                app=app,
                connection=connection or "",
                input=step.input,
                on_not_found=step.on_not_found,
            )
        )
    return resolved, problems
