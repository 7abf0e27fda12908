"""Reading what Kartra really sends: JSON or form bodies, ``"N/A"`` placeholders, loose types."""

from __future__ import annotations

import json
import math
from typing import Any

from kartra_gateway.domain import php_form


class WebhookRejected(ValueError):
    """A delivery that cannot be accepted; the message says why (sent back with a 400)."""


NA = "N/A"
_SHOWN = 40
"""How much of an unusable value a rejection quotes (a 5,000-digit number is not echoed whole)."""


def _quote(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise WebhookRejected(f"number {_quote(text)} is out of range: numbers must be finite")
    return number


def _no_constant(name: str) -> float:
    raise WebhookRejected(f"{name} is not a number Kartra sends: numbers must be finite")


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """JSON (Kartra's outbound API) or form-encoded with PHP brackets (IPN, some proxies).

    The content type is only a hint: Kartra's outbound API does not document one, so a body that
    looks like JSON is read as JSON whatever the header says.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected("body is not UTF-8 text") from exc
    stripped = text.strip()
    if not stripped:
        raise WebhookRejected("empty body: expected a Kartra JSON object or form fields")
    if stripped[0] in "{[" or "json" in content_type:
        try:
            data = json.loads(stripped, parse_float=_finite_float, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise WebhookRejected(f"body is not valid JSON: {exc.msg} at position {exc.pos}") from exc
        except RecursionError as exc:
            raise WebhookRejected("JSON body is nested too deeply") from exc
        except ValueError as exc:  # an integer over Python's 4,300-digit conversion limit
            if isinstance(exc, WebhookRejected):
                raise
            raise WebhookRejected(f"JSON body has a number out of range: {exc}") from exc
        if not isinstance(data, dict):
            raise WebhookRejected("JSON body must be an object with lead, action and action_details")
        return data
    data = php_form.decode(stripped)
    if not data:
        raise WebhookRejected("form body has no fields")
    if not isinstance(data, dict):  # only numeric keys (``0=a&1=b``) decode to a list
        raise WebhookRejected("form body must have named fields (lead, action, …), not only numbers")
    for wrapper in ("payload", "data"):  # a JSON document posted as one form field
        if set(data) == {wrapper} and isinstance(data[wrapper], str):
            return parse_body(data[wrapper].encode(), "application/json")
    return data


def clean(value: Any) -> Any:
    """``"N/A"`` and empty strings → ``None`` (IPN posts every empty variable as ``"N/A"``)."""
    if isinstance(value, str):
        value = value.strip()
        return None if value in ("", NA) else value
    return value


def clean_deep(value: Any) -> Any:
    """:func:`clean` through dicts and lists: fields passed on by name get ``None`` for ``"N/A"`` too."""
    if isinstance(value, dict):
        return {k: clean_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_deep(v) for v in value]
    return None if isinstance(value, str) and value.strip() in ("", NA) else value


def as_str(value: Any) -> str | None:
    value = clean(value)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def as_float(value: Any) -> float | None:
    """A number, ``None`` for empty or non-numeric text; :class:`WebhookRejected` for ``1e999``,
    ``nan`` or a number too long to be one (they would be ``inf``/``nan`` downstream)."""
    value = clean(value)
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        raise WebhookRejected(f"number {_quote(text)} is out of range: numbers must be finite")
    return number


def as_int(value: Any) -> int | None:
    number = as_float(value)
    return None if number is None else int(number)


def as_bool(value: Any) -> bool | None:
    value = clean(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


def container(details: Any, *names: str) -> dict[str, Any]:
    """``action_details.<name>`` if Kartra nested it, else ``action_details`` itself (flat form)."""
    if not isinstance(details, dict):
        return {}
    for name in names:
        inner = details.get(name)
        if isinstance(inner, dict):
            return inner
    return details
