"""Turning Xero's answers into kxflow action errors (DESIGN §2: upstream errors verbatim).

* 400 ``ValidationException`` (and Payroll/Projects 400s): permanent, body kept verbatim;
* 401: the caller refreshes once, then the connection needs re-authorisation (permanent);
* 403: the organisation is not connected for this grant (permanent);
* 404: plain text, permanent (``not_found`` for searches);
* 429, 5xx, timeouts: retryable.
"""

from __future__ import annotations

import json
from typing import Any

from kxflow_contracts.results import ActionError


class NeedsReauth(Exception):
    """The connection's tokens are gone or refused: the user must authorise it again."""


NEEDS_REAUTH = "needs_reauth"


def body_of(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text


def message_of(body: Any, default: str) -> str:
    if isinstance(body, dict):
        elements = body.get("Elements") or []
        messages = [
            e.get("Message")
            for el in elements
            for e in (el.get("ValidationErrors") or [])
            if e.get("Message")
        ]
        if messages:
            return "; ".join(messages)
        for key in ("Message", "message", "Detail", "error"):
            if body.get(key):
                return str(body[key])
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return default


def classify(status: int, text: str) -> ActionError:
    body = body_of(text)
    if status == 400:
        code = body.get("Type") if isinstance(body, dict) and body.get("Type") else "validation_error"
        return ActionError(
            code=code,
            message=message_of(body, "Xero rejected the request"),
            retryable=False,
            http_status=400,
            details=body,
        )
    if status == 401:
        return ActionError(
            code=NEEDS_REAUTH,
            message=f"Xero refused the connection's token: {message_of(body, '')}",
            retryable=False,
            http_status=401,
            details=body,
        )
    if status == 403:
        return ActionError(
            code="forbidden",
            message=message_of(body, "Forbidden"),
            retryable=False,
            http_status=403,
            details=body,
        )
    if status == 404:
        return ActionError(
            code="not_found",
            message=message_of(body, "Not found"),
            retryable=False,
            http_status=404,
            details=body,
        )
    if status == 429:
        return ActionError(
            code="rate_limited", message="Xero rate limit", retryable=True, http_status=429, details=body
        )
    if status >= 500:
        return ActionError(
            code="upstream_unavailable",
            message=message_of(body, f"Xero answered {status}"),
            retryable=True,
            http_status=status,
            details=body,
        )
    return ActionError(
        code=f"http_{status}",
        message=message_of(body, f"Xero answered {status}"),
        retryable=False,
        http_status=status,
        details=body,
    )


def element_errors(body: Any, collection: str) -> list[str]:
    """Validation errors inside a 200 answer (``summarizeErrors=false`` style elements)."""
    if not isinstance(body, dict):
        return []
    return [
        e.get("Message", "")
        for el in body.get(collection) or []
        if isinstance(el, dict)
        for e in (el.get("ValidationErrors") or [])
    ]


class XeroUnavailable(Exception):
    """Transient failures outlasted the in-process retries."""

    def __init__(self, message: str, status: int | None = None, text: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.text = text
