"""Xero webhook signatures: base64(HMAC-SHA256(webhook key, raw body)), compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verify(key: str, body: bytes, presented: str | None) -> bool:
    if not key or not presented:
        return False
    return hmac.compare_digest(sign(key, body).encode(), presented.strip().encode())
