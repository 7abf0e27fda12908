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
from zap_router.domain.dates import MAX_DELAY, parse_duration
from zap_router.domain.filters import compile_pattern
from zap_router.domain.templates import TemplateRenderError, compile_template, has_template, iter_templates
from zap_router.domain.templates import referenced_steps as template_steps
from zap_router.domain.zaps import (
    DelaySpec,
    FilterOp,
    FilterSpec,
    PathSpec,
    ResolvedPath,
    ResolvedStep,
    StepKind,
    StepSpec,
    ZapSpec,
)


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


def _param_values(params: dict[str, Any]) -> dict[str, Any]:
    """Trigger parameters as their model checks them: left-out (null) ones are dropped, and numbers
    are given as text (parameters compare as text, so ``123`` is a valid product id)."""
    return {
        name: str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        for name, value in params.items()
        if value is not None
    }


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

    def resolve_steps(steps: list[StepSpec]) -> list[StepSpec]:
        out = []
        for s in steps:
            update: dict[str, Any] = {}
            if s.action is not None:
                update["connection"] = resolve(s.action.split(".", 1)[0], s.connection)
            if s.steps:
                update["steps"] = resolve_steps(s.steps)
            if s.on_error is not None:
                update["on_error"] = s.on_error.model_copy(update={"steps": resolve_steps(s.on_error.steps)})
            if s.paths:
                update["paths"] = [p.model_copy(update={"steps": resolve_steps(p.steps)}) for p in s.paths]
            out.append(s.model_copy(update=update))
        return out

    steps = resolve_steps(spec.steps)
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
        # a value outside the parameter's choices would save and silently never match; only the
        # declared parameters the zap gives are checked (unknown ones are reported above)
        given = {k: v for k, v in _param_values(spec.trigger.params).items() if k in trigger.param_fields}
        problems.extend(
            p
            for p in input_problems(trigger.input_model, given, "trigger.params")
            if p.loc.split(".")[2:3] and p.loc.split(".")[2] in given
        )
    if spec.trigger.connection not in connections.get(spec.trigger.app, ()):
        add("trigger.connection", f"unknown {spec.trigger.app} connection {spec.trigger.connection!r}")

    if spec.filter is not None:
        for g, group in enumerate(spec.filter.any):
            for c, cond in enumerate(group.all):
                loc = f"filter.any[{g}].all[{c}]"
                if not cond.field.startswith("trigger.") and not cond.field.startswith("zap."):
                    add(f"{loc}.field", "filters run before any step: use trigger.<field>")
                if cond.op in (FilterOp.matches, FilterOp.not_matches):
                    pattern_problem(cond.value, f"{loc}.value", add)

    graph = _Graph(catalog, connections, add, _all_ids(spec.steps))
    last_connection: dict[str, str] = {spec.trigger.app: spec.trigger.connection}
    resolved = graph.block(spec.steps, "steps", "", frozenset(), last_connection, in_loop=False)
    return resolved, problems


def _all_ids(steps: list[StepSpec]) -> set[str]:
    ids: set[str] = set()
    for step in steps:
        ids.add(step.id)
        ids |= _all_ids([s for p in step.paths or () for s in p.steps])
        ids |= _all_ids(step.steps or [])
        ids |= _all_ids(step.on_error.steps if step.on_error else [])
    return ids


class _Graph:
    """Checks and resolves a list of steps and, recursively, the steps nested in them.

    ``visible`` is the set of step ids that precede a step on its own path (DESIGN.md §4.1): a
    template or filter reading any other step is a problem.
    """

    def __init__(
        self,
        catalog: Catalog,
        connections: Mapping[str, Collection[str]],
        add: Any,
        all_ids: set[str],
    ) -> None:
        self.catalog = catalog
        self.connections = connections
        self.add = add
        self.all_ids = all_ids
        self.seen: set[str] = set()

    def block(
        self,
        steps: list[StepSpec],
        where: str,
        path: str,
        visible: frozenset[str],
        last_connection: dict[str, str],
        in_loop: bool,
    ) -> list[ResolvedStep]:
        resolved = []
        for i, step in enumerate(steps):
            later = {s.id for s in steps[i:]}
            resolved.append(self.step(step, f"{where}[{i}]", path, visible, last_connection, in_loop, later))
            visible = visible | {step.id}
        return resolved

    def refs(self, loc: str, source: str, visible: frozenset[str], later: set[str]) -> None:
        """Compile ``source`` and check the steps it reads are on its path."""
        try:
            compile_template(source, loc)
        except TemplateRenderError as exc:
            self.add(loc, exc.cause)
            return
        for ref in sorted(template_steps(source)):
            self.ref(loc, ref, visible, later)

    def ref(self, loc: str, ref: str, visible: frozenset[str], later: set[str]) -> None:
        if ref in visible:
            return
        if ref in later:
            why = "does not precede this step"
        elif ref in self.all_ids:
            why = "is not on this step's path"
        else:
            why = "does not exist"
        self.add(loc, f"references steps.{ref}, which {why}")

    def conditions(
        self, spec: FilterSpec, where: str, visible: frozenset[str], later: set[str], in_loop: bool
    ) -> None:
        roots = ("trigger.", "zap.", "steps.", *(("loop.",) if in_loop else ()))
        for g, group in enumerate(spec.any):
            for c, cond in enumerate(group.all):
                loc = f"{where}.any[{g}].all[{c}]"
                if not cond.field.startswith(roots):
                    self.add(f"{loc}.field", f"a field starts with {', '.join(r + '<...>' for r in roots)}")
                elif cond.field.startswith("steps."):
                    self.ref(f"{loc}.field", cond.field.split(".")[1], visible, later)
                if cond.op in (FilterOp.matches, FilterOp.not_matches):
                    pattern_problem(cond.value, f"{loc}.value", self.add)

    def step(
        self,
        step: StepSpec,
        where: str,
        prefix: str,
        visible: frozenset[str],
        last_connection: dict[str, str],
        in_loop: bool,
        later: set[str],
    ) -> ResolvedStep:
        add = self.add
        path = prefix + step.id
        if step.id in self.seen:
            add(f"{where}.id", f"duplicate step id {step.id!r}")
        self.seen.add(step.id)
        kinds = step.kinds()
        kind = kinds[0] if len(kinds) == 1 else StepKind.action
        if len(kinds) != 1:
            found = ", ".join(k.value for k in kinds) or "none"
            add(where, f"a step is exactly one of action, filter, paths, delay or loop (found: {found})")
        if kind is not StepKind.action:
            for name in ("connection", "on_error"):
                if getattr(step, name) is not None:
                    add(f"{where}.{name}", f"only action steps have {name}")
            if step.input:
                add(f"{where}.input", "only action steps have an input")
        if kind is not StepKind.loop and step.steps is not None:
            add(f"{where}.steps", "only loop steps have sub-steps (paths have them per path)")
        base: dict[str, Any] = {"id": step.id, "kind": kind}
        if kind is StepKind.action:
            return self.action(step, where, path, visible, last_connection, in_loop, later)
        if kind is StepKind.filter:
            assert step.filter is not None
            self.conditions(step.filter, f"{where}.filter", visible, later, in_loop)
            return ResolvedStep(**base, filter=step.filter)
        if kind is StepKind.delay:
            assert step.delay is not None
            self.delay(step.delay, f"{where}.delay", visible, later)
            return ResolvedStep(**base, delay=step.delay)
        if kind is StepKind.loop:
            assert step.loop is not None
            if in_loop:
                add(f"{where}.loop", "loops do not nest")
            self.refs(f"{where}.loop.over", step.loop.over, visible, later)
            if not step.steps:
                add(f"{where}.steps", "a loop needs at least one sub-step")
            subs = self.block(
                step.steps or [], f"{where}.steps", f"{path}[*]/", visible, dict(last_connection), True
            )
            return ResolvedStep(**base, loop=step.loop, steps=subs)
        assert step.paths is not None
        return ResolvedStep(
            **base, paths=self.paths(step.paths, where, path, visible, last_connection, in_loop, later)
        )

    def paths(
        self,
        paths: list[PathSpec],
        where: str,
        path: str,
        visible: frozenset[str],
        last_connection: dict[str, str],
        in_loop: bool,
        later: set[str],
    ) -> list[ResolvedPath]:
        add = self.add
        if not paths:
            add(f"{where}.paths", "paths need at least one path")
        names: set[str] = set()
        fallbacks = 0
        resolved = []
        for n, branch in enumerate(paths):
            loc = f"{where}.paths[{n}]"
            if branch.name in names:
                add(f"{loc}.name", f"duplicate path name {branch.name!r}")
            names.add(branch.name)
            if branch.fallback:
                fallbacks += 1
                if branch.when is not None:
                    add(f"{loc}.when", "the fallback path runs when no other did: it has no rule")
            elif branch.when is None:
                add(f"{loc}.when", "a path needs a rule (when) unless it is the fallback")
            else:
                self.conditions(branch.when, f"{loc}.when", visible, later, in_loop)
            steps = self.block(
                branch.steps,
                f"{loc}.steps",
                f"{path}/{branch.name}/",
                visible,
                dict(last_connection),
                in_loop,
            )
            resolved.append(
                ResolvedPath(name=branch.name, when=branch.when, fallback=branch.fallback, steps=steps)
            )
        if fallbacks > 1:
            add(f"{where}.paths", "at most one path is the fallback")
        return resolved

    def delay(self, delay: DelaySpec, where: str, visible: frozenset[str], later: set[str]) -> None:
        given = [name for name in ("until", "after_queue") if getattr(delay, name) is not None]
        if delay.for_ is not None and delay.until is not None:
            given.append("for")
        if not given and delay.for_ is None:
            self.add(where, "a delay needs for, until or after_queue")
        elif len(given) > 1:
            self.add(where, "a delay is one of for, until or after_queue (after_queue may add for)")
        if delay.for_ is not None:
            try:
                if parse_duration(delay.for_) > MAX_DELAY:
                    self.add(f"{where}.for", f"a delay is at most {MAX_DELAY.days} days")
            except ValueError as exc:
                self.add(f"{where}.for", str(exc))
        for name in ("until", "after_queue"):
            value = getattr(delay, name)
            if value is not None:
                self.refs(f"{where}.{name}", value, visible, later)

    def action(
        self,
        step: StepSpec,
        where: str,
        path: str,
        visible: frozenset[str],
        last_connection: dict[str, str],
        in_loop: bool,
        later: set[str],
    ) -> ResolvedStep:
        add = self.add
        action = step.action or ""
        entry = self.catalog.find(action)
        app = action.split(".", 1)[0]
        if entry is None or entry.kind is Kind.trigger:
            add(f"{where}.action", f"unknown action {action!r}")
        else:
            app = entry.app
            if not entry.available:
                add(f"{where}.action", f"{entry.key} is unavailable: {entry.unavailable_reason}")
            problems = input_problems(entry.input_model, step.input, f"{where}.input")
            for problem in problems:
                add(problem.loc, problem.msg)
            if step.on_not_found == "continue" and entry.kind is not Kind.search:
                add(f"{where}.on_not_found", "only searches can be not found")
        connection = step.connection or last_connection.get(app)
        if connection is None:
            add(f"{where}.connection", f"no {app} connection given and none to inherit")
        elif connection not in self.connections.get(app, ()):
            add(f"{where}.connection", f"unknown {app} connection {connection!r}")
        else:
            last_connection[app] = connection
        for loc, source in iter_templates(step.input, f"{where}.input"):
            self.refs(loc, source, visible, later)
        on_error = None
        if step.on_error is not None:
            # The branch sees what its step saw (not the failed step's output: it has none).
            on_error = self.block(
                step.on_error.steps,
                f"{where}.on_error.steps",
                f"{path}/on_error/",
                visible,
                dict(last_connection),
                in_loop,
            )
        return ResolvedStep(
            id=step.id,
            action=action,
            app=app,
            connection=connection or "",
            input=step.input,
            on_not_found=step.on_not_found,
            on_error=on_error,
        )


def pattern_problem(value: Any, loc: str, add: Any) -> None:
    try:
        compile_pattern(str(value))
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        add(loc, f"invalid pattern (RE2 syntax, no back-references): {reason}")
