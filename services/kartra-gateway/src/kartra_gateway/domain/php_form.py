"""PHP bracket form encoding, as Kartra's API expects (``http_build_query``) and sends.

``{"lead": {"email": "a@b"}, "actions": [{"cmd": "x"}]}`` ↔
``lead[email]=a%40b&actions[0][cmd]=x``. Lists become ``[0]``, ``[1]``… (PHP's numeric keys);
``None`` values are left out, booleans become ``1``/``0`` as PHP would send them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
MAX_NESTING = 64  # PHP's max_input_nesting_level: deeper variables are dropped, as PHP drops them


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mapping → ``[(bracket key, value)]`` in PHP ``http_build_query`` order."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend(flatten(value, name))
        elif isinstance(value, list | tuple):
            pairs.extend(flatten({str(i): v for i, v in enumerate(value)}, name))
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def encode(data: Mapping[str, Any]) -> str:
    """The ``application/x-www-form-urlencoded`` body of ``data`` with PHP bracket keys."""
    return urlencode(flatten(data))


def _numeric_order(digits: str) -> tuple[int, str]:
    """Order of ASCII digit strings by value, without ``int()`` (which refuses over 4,300 digits)."""
    significant = digits.lstrip("0")
    return len(significant), significant


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        # ASCII digits only, as PHP: str.isdigit() is also true for "¹", which int() refuses.
        if node and all(k.isascii() and k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=_numeric_order)]
    return node


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``[(bracket key, value)]`` → nested dicts; numeric-keyed maps become lists; ``[]`` appends."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:  # malformed brackets: keep the key verbatim, as PHP roughly does
            root[raw_key] = value
            continue
        parts = [match.group(1), *_PART.findall(match.group(2))]
        if len(parts) > MAX_NESTING:
            continue
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def decode(body: str) -> dict[str, Any]:
    """Parse a form-encoded body with PHP bracket keys into nested data."""
    return unflatten(parse_qsl(body, keep_blank_values=True))
