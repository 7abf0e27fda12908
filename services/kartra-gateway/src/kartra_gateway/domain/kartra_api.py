"""What a Kartra API call takes and gives, as values: credentials, the answer, its errors.

Pure (no I/O), so the use cases (``service_layer.execute``) and their in-memory fakes use them
without the httpx adapter (``adapters.kartra_client``, which re-exports them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from kartra_gateway.domain.kartra_errors import Category, classify


@dataclass(frozen=True)
class KartraCredentials:
    app_id: str
    api_key: str
    api_password: str

    @property
    def app_key(self) -> str:
        """Rate-limit key of the App (a hash: the App id itself is kept encrypted)."""
        return hashlib.sha256(self.app_id.encode()).hexdigest()[:16]

    def fields(self) -> dict[str, str]:
        return {"app_id": self.app_id, "api_key": self.api_key, "api_password": self.api_password}


class KartraCallError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        category: Category,
        http_status: int | None = 200,
        details: Any = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(f"Kartra {code}: {message}")
        self.code = code
        self.message = message
        self.category = category
        self.http_status = http_status
        self.details = details
        self.outcome_unknown = outcome_unknown

    @property
    def retryable(self) -> bool:
        return self.category is Category.transient


def _is_success(part: Any) -> bool:
    return isinstance(part, dict) and str(part.get("status", "")).lower() == "success"


@dataclass(frozen=True)
class KartraResponse:
    status_code: int
    body: dict[str, Any]

    def part(self, index: int, key: str) -> dict[str, Any]:
        """The answer for one command: ``actions[index].<key>``, top-level ``<key>``, or the body."""
        actions = self.body.get("actions")
        if isinstance(actions, list) and index < len(actions) and isinstance(actions[index], dict):
            inner = actions[index].get(key)
            if isinstance(inner, dict):
                return inner
        inner = self.body.get(key)
        if isinstance(inner, dict):
            return inner
        return self.body

    def checked(self, index: int, key: str) -> dict[str, Any]:
        """The part for ``key``, or :class:`KartraCallError` when Kartra reported an error.

        A whole-call error (bad credentials, …) is flat at top level; a command error may be
        flat or inside ``actions[i].<cmd>``: both are read.
        """
        part = self.part(index, key)
        for candidate in (part, self.body):
            status = str(candidate.get("status", "")).lower()
            if status == "error":
                code = str(candidate.get("type", "")) or None
                message = str(candidate.get("message") or "")
                known = classify(code, message)
                raise KartraCallError(
                    known.code, message or known.message, category=known.category, details=candidate
                )
            if candidate is part and _is_success(part):
                break
        return part
