"""Sandboxed templates for step inputs (DESIGN.md §4).

Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` with no globals, strict undefined values and
the formatter filters. An input is compiled once per zap version into a tree mirroring the input:
a string that is a single ``{{ expression }}`` keeps the expression's native type (a number stays a
number); any other string with template syntax renders to text; everything else is a literal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from zap_router.domain.formatters import FORMATTERS

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|\{#).)*)\}\}\s*$", re.S)
_MAX_SEQUENCE = 100_000
_MAX_EXPONENT = 64
MAX_OUTPUT = 1_000_000


class TemplateRenderError(ValueError):
    """A template that cannot compile or render; the message names the template and the cause."""

    def __init__(self, where: str, source: str, cause: str) -> None:
        self.where, self.source, self.cause = where, source, cause
        super().__init__(f"template {where} ({source!r}): {cause}")


class _Sandbox(SandboxedEnvironment):
    """The stock sandbox plus limits on ``*`` and ``**`` (no gigabyte strings or huge powers)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_SEQUENCE
                ):
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``x.items`` on event data means the field ``items``, never the dict method."""
        if isinstance(obj, dict):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def make_environment() -> SandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()  # no range/lipsum/cycler/joiner/namespace/dict: nothing but the context
    env.filters.update(FORMATTERS)
    return env


ENV = make_environment()


def has_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def to_json(value: Any, where: str = "", source: str = "") -> Any:
    """Only JSON values leave a template: anything else (a function, a class) is an error."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TemplateRenderError(where, source, "renders a non-finite number")
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v, where, source) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v, where, source) for k, v in value.items()}
    if isinstance(value, Undefined):
        raise TemplateRenderError(where, source, "refers to a field that does not exist")
    raise TemplateRenderError(where, source, f"renders a {type(value).__name__}, not a JSON value")


@dataclass(frozen=True)
class CompiledTemplate:
    where: str
    source: str
    native: bool
    compiled: Any

    def render(self, context: dict[str, Any]) -> Any:
        try:
            if self.native:
                value = self.compiled(**context)
            else:
                value = self.compiled.render(context)
                if len(value) > MAX_OUTPUT:
                    raise TemplateRenderError(self.where, self.source, "output too large")
        except UndefinedError as exc:
            raise TemplateRenderError(self.where, self.source, f"missing field: {exc.message}") from None
        except SecurityError as exc:
            raise TemplateRenderError(self.where, self.source, f"not allowed: {exc}") from None
        except TemplateRenderError:
            raise
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError, OverflowError) as exc:
            raise TemplateRenderError(self.where, self.source, f"{type(exc).__name__}: {exc}") from None
        except RecursionError:
            raise TemplateRenderError(self.where, self.source, "too deeply nested") from None
        return to_json(value, self.where, self.source)


@lru_cache(maxsize=8192)
def _compile(source: str) -> tuple[bool, Any]:
    """Compiled code per distinct source, shared by every zap version that uses the same template.

    A compiled Jinja template costs kilobytes; thousands of zaps built from one recipe share one.
    """
    match = _SINGLE_EXPRESSION.match(source)
    if match:
        return True, ENV.compile_expression(match["expr"], undefined_to_none=False)
    return False, ENV.from_string(source)


def compile_template(source: str, where: str = "template") -> CompiledTemplate:
    """Compile one template string; raises :class:`TemplateRenderError` on a syntax error."""
    try:
        native, compiled = _compile(source)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(where, source, f"syntax error: {exc.message}") from None
    except (TemplateError, RecursionError, MemoryError) as exc:
        raise TemplateRenderError(where, source, f"cannot compile: {exc}") from None
    return CompiledTemplate(where, source, native, compiled)


def compile_tree(value: Any, where: str = "input") -> Any:
    """Compile every template string in a JSON-like tree (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {k: compile_tree(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [compile_tree(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if has_template(value):
        return compile_template(value, where)
    return value


def render_tree(tree: Any, context: dict[str, Any]) -> Any:
    """Render a compiled tree; raises :class:`TemplateRenderError` naming the first failing template."""
    if isinstance(tree, CompiledTemplate):
        return tree.render(context)
    if isinstance(tree, dict):
        return {k: render_tree(v, context) for k, v in tree.items()}
    if isinstance(tree, list):
        return [render_tree(v, context) for v in tree]
    return tree


def iter_templates(value: Any, where: str = "input") -> list[tuple[str, str]]:
    """Every (location, source) of template strings in a tree."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in iter_templates(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in iter_templates(v, f"{where}[{i}]")]
    return [(where, value)] if has_template(value) else []


def referenced_steps(source: str) -> set[str]:
    """Step ids a template reads through ``steps.<id>`` or ``steps['<id>']`` (for save-time checks)."""
    match = _SINGLE_EXPRESSION.match(source)
    text = source if not match else "{{" + match["expr"] + "}}"
    try:
        ast = ENV.parse(text)
    except TemplateSyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "steps":
            if isinstance(node, nodes.Getattr):
                found.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                found.add(node.arg.value)
    return found
