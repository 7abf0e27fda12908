"""Structured JSON logs with trace ids, and redaction of secrets on every line.

Two layers: values under sensitive keys are masked, and any registered secret string (a Kartra API
key, an OAuth token…) is scrubbed wherever it appears, so a secret that slips into a message or an
exception text still never reaches the log.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

MASK = "***"
SENSITIVE_KEYS = re.compile(
    r"(pass(word)?|secret|api[_-]?key|token|authorization|client[_-]?secret|refresh|credential|cookie)",
    re.IGNORECASE,
)


class Redactor:
    """Known secret values to scrub from any text; shared by logs and API error bodies."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, *values: str | None) -> None:
        with self._lock:
            for v in values:
                if v and len(v) >= 6:
                    self._values.add(v)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def scrub_value(self, value: Any, key: str = "") -> Any:
        if key and SENSITIVE_KEYS.search(key) and isinstance(value, str | bytes) and value:
            return MASK
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self.scrub_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        return value


REDACTOR = Redactor()


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: REDACTOR.scrub_value(v, k) for k, v in event_dict.items()}


def _trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    return event_dict


class _ScrubFilter(logging.Filter):
    """Scrubs stdlib records (FastStream, uvicorn, httpx) before they are formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        record.msg = REDACTOR.scrub(msg)
        record.args = ()
        return True


def configure_logging(
    service: str, level: str = "INFO", json_logs: bool = True, stream: Any = None, secrets: Iterable[str] = ()
) -> None:
    """JSON lines on stdout (or ``stream``) for structlog and the stdlib alike."""
    REDACTOR.register(*secrets)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
        structlog.processors.format_exc_info,
        _redact,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(_ScrubFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
