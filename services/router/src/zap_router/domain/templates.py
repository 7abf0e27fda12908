"""Sandboxed templates for step inputs (DESIGN.md §4).

Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with no globals, strict undefined
values and the formatter filters, every render under the budgets of :mod:`zap_router.domain.budgets`
(time, loop iterations, output size, number size, format widths). An input is compiled once per
zap version into a tree mirroring the input: a string that is a single ``{{ expression }}`` keeps the
expression's native type (a number stays a number); any other string with template syntax renders
to text; everything else is a literal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache, wraps
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from zap_router.domain import budgets
from zap_router.domain.budgets import BudgetExceeded
from zap_router.domain.formatters import FORMATTERS

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|\{#).)*)\}\}\s*$", re.S)
_MAX_SEQUENCE = 100_000
MAX_OUTPUT = budgets.MAX_OUTPUT
# Filters whose integer arguments size their result (a width, a count of lines or slices).
_SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "round", "urlize"})
# str methods whose integer arguments size their result.
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class TemplateRenderError(ValueError):
    """A template that cannot compile or render; the message names the template and the cause.

    ``code`` is the step error code: ``budget_exceeded`` for a budget breach, else ``template_error``.
    """

    def __init__(self, where: str, source: str, cause: str, code: str = "template_error") -> None:
        self.where, self.source, self.cause, self.code = where, source, cause, code
        super().__init__(f"template {where} ({source!r}): {cause}")


def _growth(text: str, old: Any, new: Any) -> None:
    old_s, new_s = str(old), str(new)
    occurrences = len(text) + 1 if old_s == "" else text.count(old_s)
    budgets.check_growth(len(text), occurrences, len(new_s) - len(old_s))


def _guard_filter(name: str, func: Any) -> Any:
    """A filter charged to the render's meter, its sizing arguments and its result checked."""
    sized = name in _SIZED_FILTERS

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budgets.charge()
        if sized:
            for value in (*args[1:], *kwargs.values()):
                budgets.check_width(value, f"{name} argument")
        if name == "indent" and args:
            text = next((a for a in args if isinstance(a, str)), "")
            width = args[1] if len(args) > 1 else kwargs.get("width", 4)
            added = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            budgets.check_growth(len(text), text.count("\n") + 1, added)
        elif name == "replace" and len(args) >= 4 and isinstance(args[1], str):
            _growth(args[1], args[2], args[3])
        elif name == "format" and args and isinstance(args[0], str):
            budgets.check_percent_format(args[0])
        return budgets.check_size(func(*args, **kwargs))

    return guarded


class _Instrument(NodeTransformer):
    """Charge every loop iteration and check the size of every ``~`` concatenation."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_kx_iter", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, "_kx_size", [], [], None, None, lineno=node.lineno)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus budgets on operators, method calls and ``str.format``."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budgets.charge()
        if operator == "**":
            budgets.check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            budgets.check_percent_format(left)
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_SEQUENCE
                ):
                    raise SecurityError("repetition too large")
        return budgets.check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budgets.charge()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in _SIZED_METHODS:
                for value in (*args, *kwargs.values()):
                    budgets.check_width(value, f"{name} argument")
                if name == "expandtabs":
                    budgets.check_growth(len(owner), owner.count("\t"), budgets.MAX_WIDTH)
            elif name == "replace" and len(args) >= 2:
                _growth(owner, args[0], args[1])
        return budgets.check_size(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        budgets.check_brace_format(value.__self__)
        return wrapped

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``x.items`` on event data means the field ``items``, never the dict method."""
        budgets.charge()
        if isinstance(obj, dict):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def make_environment() -> SandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()  # no range/lipsum/cycler/joiner/namespace/dict: nothing but the context
    env.filters.update(FORMATTERS)
    env.filters = {name: _guard_filter(name, f) for name, f in env.filters.items()}
    env.filters["_kx_iter"] = budgets.metered_iter
    env.filters["_kx_size"] = budgets.check_size
    return env


ENV = make_environment()


def has_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def to_json(value: Any, where: str = "", source: str = "") -> Any:
    """Only JSON values leave a template: anything else (a function, a class) is an error."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        try:
            return budgets.check_int(value)
        except BudgetExceeded as exc:
            raise TemplateRenderError(where, source, str(exc), "budget_exceeded") from None
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
        """Render under the budgets (a fresh meter, or the enclosing step's)."""
        try:
            with budgets.metered():
                value = self.compiled(**context) if self.native else self._text(context)
        except BudgetExceeded as exc:
            raise TemplateRenderError(self.where, self.source, str(exc), "budget_exceeded") from None
        except MemoryError:
            raise TemplateRenderError(
                self.where, self.source, "output size budget exceeded: out of memory", "budget_exceeded"
            ) from None
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

    def _text(self, context: dict[str, Any]) -> str:
        """Text output chunk by chunk, so its size and the deadline are checked as it grows."""
        parts: list[str] = []
        size = 0
        for chunk in self.compiled.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise BudgetExceeded("output size", f"more than {MAX_OUTPUT} characters")
            budgets.charge()
            parts.append(chunk)
        return "".join(parts)


@lru_cache(maxsize=8192)
def _compile(source: str) -> tuple[bool, Any]:
    """Compiled code per distinct source, shared by every zap version that uses the same template.

    A compiled Jinja template costs kilobytes; thousands of zaps built from one recipe share one.
    The parsed tree is instrumented (:class:`_Instrument`) before it is compiled.
    """
    match = _SINGLE_EXPRESSION.match(source)
    if match:
        parser = Parser(ENV, match["expr"], state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        tree = _Instrument().visit(nodes.Template(body, lineno=1))
        tree.set_environment(ENV)
        return True, TemplateExpression(ENV.from_string(tree), undefined_to_none=False)
    tree = _Instrument().visit(ENV.parse(source))
    tree.set_environment(ENV)
    return False, ENV.from_string(tree)


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
    """Render a compiled tree; raises :class:`TemplateRenderError` naming the first failing template.

    The whole tree (a step's input) renders under one meter: the time budget is per step.
    """
    with budgets.metered():
        return _render(tree, context)


def _render(tree: Any, context: dict[str, Any]) -> Any:
    if isinstance(tree, CompiledTemplate):
        return tree.render(context)
    if isinstance(tree, dict):
        return {k: _render(v, context) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_render(v, context) for v in tree]
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
