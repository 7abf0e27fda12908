"""Ids from outside in Xero URL paths (issue 11, item 5): encoded where they are put into a path,
and every relative path checked once more before it is sent.

An ``InvoiceID`` of ``../Contacts`` reached another endpoint, and a control character made the
request fail at the transport (a retry, for 24 h). A bad id is the command's fault: a permanent
``invalid_input``, never a retry.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MAX_ID_LENGTH = 255
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


class InvalidXeroId(ValueError):
    """An id (or a path built from one) that must not be sent to Xero; the message says why."""


def path_segment(value: object, field: str = "id") -> str:
    """``value`` as one URL path segment: checked, then percent-encoded (``/``, ``?``, ``#`` too)."""
    text = str(value)
    if not text.strip():
        raise InvalidXeroId(f"{field} is empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidXeroId(f"{field} is longer than {MAX_ID_LENGTH} characters")
    if text in (".", ".."):
        raise InvalidXeroId(f"{field} {text!r} is not an id")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        raise InvalidXeroId(f"{field} contains a control character")
    return quote(text, safe="-._~!$&'()*+,;=:@ ").replace(" ", "%20")


def checked_path(path: str) -> str:
    """A relative API path as built: no control character, whitespace, backslash, query, fragment
    or dot segment (also when percent-encoded) — so an id can never change which endpoint is hit."""
    if _CONTROL.search(path) or "?" in path or "#" in path:
        raise InvalidXeroId("the request path has a character no Xero id contains")
    for segment in path.split("/"):
        if unquote(segment) in (".", ".."):
            raise InvalidXeroId("the request path has a '.' or '..' segment")
    return path
