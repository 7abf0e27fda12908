"""Zapier-style filters evaluated over the template context. Never raise on any JSON.

Text comparisons are case-insensitive except ``exact``/``not_exact`` (as in Zapier). A value that
cannot be read as the operator's type makes the condition false (``not_*`` operators: true only if
the positive form is false for a readable value), so a malformed event is filtered, never crashes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import re2

from zap_router.domain.dates import parse_datetime
from zap_router.domain.paths import MISSING, get_path
from zap_router.domain.zaps import Condition, FilterOp, FilterSpec

_MAX_TEXT = 100_000


def _text(value: Any) -> str | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)[:_MAX_TEXT]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    try:
        number = float(value.replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "yes", "1", "on", "y"}:
            return True
        if lowered in {"false", "no", "0", "off", "n", ""}:
            return False
    return None


def _date(value: Any) -> datetime | None:
    try:
        return parse_datetime(value)
    except (TypeError, ValueError, OverflowError, OSError):  # OSError: an epoch beyond the C library
        return None


def _choices(value: Any) -> list[str]:
    if isinstance(value, list):
        return [t.lower() for t in (_text(v) for v in value) if t is not None]
    text = _text(value)
    return [part.strip().lower() for part in text.split(",")] if text is not None else []


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 8 << 20  # a compiled pattern's memory (RE2 fails the compile beyond it)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """A pattern compiled by RE2: linear-time matching, so no input makes ``matches`` backtrack
    for hours (Python's ``re`` takes exponential time on ``^(a+)+$`` against ``aaa…b``).
    Raises ``re2.error`` for a pattern RE2 cannot run (back-references, look-around)."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _regex(pattern: Any, text: str) -> bool | None:
    if not isinstance(pattern, str):
        return None
    try:
        return compile_pattern(pattern).search(text) is not None
    except re2.error:
        return None


def _positive(op: FilterOp, actual: Any, expected: Any) -> bool | None:
    """The positive form of ``op``; ``None`` when the value cannot be read as the op's type."""
    if op in (FilterOp.contains, FilterOp.starts_with, FilterOp.ends_with, FilterOp.is_in, FilterOp.exact):
        a, e = _text(actual), _text(expected)
        if op is FilterOp.is_in:
            return None if a is None else a.lower() in _choices(expected)
        if a is None and isinstance(actual, list) and op is FilterOp.contains and e is not None:
            return e.lower() in [t.lower() for t in (_text(v) for v in actual) if t is not None]
        if a is None or e is None:
            return None
        if op is FilterOp.exact:
            return a == e
        a, e = a.lower(), e.lower()
        if op is FilterOp.contains:
            return e in a
        return a.startswith(e) if op is FilterOp.starts_with else a.endswith(e)
    if op is FilterOp.matches:
        a = _text(actual)
        return None if a is None else _regex(expected, a)
    if op in (FilterOp.gt, FilterOp.gte, FilterOp.lt, FilterOp.lte, FilterOp.eq):
        a, e = _number(actual), _number(expected)
        if a is None or e is None:
            return None
        return {
            FilterOp.gt: a > e,
            FilterOp.gte: a >= e,
            FilterOp.lt: a < e,
            FilterOp.lte: a <= e,
            FilterOp.eq: a == e,
        }[op]
    if op in (FilterOp.before, FilterOp.after, FilterOp.date_equals):
        a_dt, e_dt = _date(actual), _date(expected)
        if a_dt is None or e_dt is None:
            return None
        if op is FilterOp.date_equals:
            return a_dt.astimezone(UTC).date() == e_dt.astimezone(UTC).date()
        return a_dt < e_dt if op is FilterOp.before else a_dt > e_dt
    if op in (FilterOp.is_true, FilterOp.is_false):
        b = _boolean(actual)
        return None if b is None else (b if op is FilterOp.is_true else not b)
    if op is FilterOp.exists:
        return actual is not MISSING and actual is not None and actual != ""
    return None


_NEGATIONS = {
    FilterOp.not_contains: FilterOp.contains,
    FilterOp.not_exact: FilterOp.exact,
    FilterOp.not_in: FilterOp.is_in,
    FilterOp.not_starts_with: FilterOp.starts_with,
    FilterOp.not_ends_with: FilterOp.ends_with,
    FilterOp.not_matches: FilterOp.matches,
    FilterOp.ne: FilterOp.eq,
    FilterOp.not_exists: FilterOp.exists,
}


def condition_holds(condition: Condition, context: dict[str, Any]) -> bool:
    actual = get_path(context, condition.field)
    positive_op = _NEGATIONS.get(condition.op)
    if positive_op is None:
        return _positive(condition.op, actual, condition.value) is True
    result = _positive(positive_op, actual, condition.value)
    if positive_op is FilterOp.exists:
        return result is False
    # "does not contain" on a missing field passes, as in Zapier; on an unreadable number it fails.
    if result is None:
        return positive_op is not FilterOp.eq and (actual is MISSING or actual is None)
    return not result


def passes(spec: FilterSpec | None, context: dict[str, Any]) -> bool:
    """True if the event passes ``spec`` (no filter = pass)."""
    if spec is None:
        return True
    return any(all(condition_holds(c, context) for c in group.all) for group in spec.any)


def explain(spec: FilterSpec | None, context: dict[str, Any]) -> list[dict[str, Any]]:
    """Every condition with its group, the field's value and whether it held (run history, dry-run).

    Flat on purpose: FerretDB stores no nested arrays.
    """
    if spec is None:
        return []
    out = []
    for g, group in enumerate(spec.any):
        for c in group.all:
            actual = get_path(context, c.field)
            out.append(
                {
                    "group": g,
                    "field": c.field,
                    "op": c.op.value,
                    "value": c.value,
                    "actual": None if actual is MISSING else actual,
                    "held": condition_holds(c, context),
                }
            )
    return out
