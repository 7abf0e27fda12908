"""A small evaluator for Xero's ``where`` query expressions.

Supports what the gateway and Zapier-style filters use: ``&&``/``AND`` chains of
``Field==value``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``.Contains("x")``, ``.StartsWith("x")``,
``.EndsWith("x")``, dotted paths (``Contact.ContactID``), strings, numbers, ``true``/``false``,
``null``, ``Guid("…")`` and ``DateTime(y,m,d)``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from kxflow_sandboxes.xero.state import parse_date

_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_METHOD = re.compile(r'^\s*([A-Za-z_][\w.]*)\.(Contains|StartsWith|EndsWith)\("(.*)"\)\s*$')
_SPLIT = re.compile(r"\s*(?:&&|\bAND\b)\s*")


class WhereError(ValueError):
    pass


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    m = re.match(r'^Guid\("(.+)"\)$', text)
    if m:
        return m.group(1).lower()
    m = re.match(r"^DateTime\((\d+)\s*,\s*(\d+)\s*,\s*(\d+)\)$", text)
    if m:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)
    try:
        return float(text)
    except ValueError:
        raise WhereError(f"cannot parse value {text!r}") from None


def _get(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, datetime):
        actual = parse_date(actual)
        if actual is None:
            return False
    elif isinstance(expected, float) and actual is not None:
        actual = float(actual)
    elif isinstance(expected, str) and isinstance(actual, str):
        actual, expected = actual.lower(), expected.lower()
    if op == "==":
        return actual == expected
    if op == "!=":
        return actual != expected
    if actual is None or expected is None:
        return False
    return {
        "<": actual < expected,
        "<=": actual <= expected,
        ">": actual > expected,
        ">=": actual >= expected,
    }[op]


def matches(doc: dict[str, Any], expression: str) -> bool:
    for clause in _SPLIT.split(expression.strip()):
        if not clause:
            continue
        m = _METHOD.match(clause)
        if m:
            value = str(_get(doc, m.group(1)) or "").lower()
            needle = m.group(3).lower()
            ok = {
                "Contains": needle in value,
                "StartsWith": value.startswith(needle),
                "EndsWith": value.endswith(needle),
            }[m.group(2)]
            if not ok:
                return False
            continue
        m = _CLAUSE.match(clause)
        if not m:
            raise WhereError(f"cannot parse where clause {clause!r}")
        if not _compare(_get(doc, m.group(1)), m.group(2), _literal(m.group(3))):
            return False
    return True
