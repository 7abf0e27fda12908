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
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

MASK = "***"
SENSITIVE_KEYS = re.compile(
    r"(pass(word)?|secret|api[_-]?key|token|authorization|client[_-]?secret|refresh|credential|cookie)",
    re.IGNORECASE,
)


class Redactor:
    """Known secret values to scrub from any text; shared by logs and API error bodies.

    Bounded and linear (issue 11, item 4): at most ``max_secrets`` values, each forgotten
    ``ttl_seconds`` after it was last registered (a secret in use is registered again each time it
    is decrypted, so it stays). Registering is O(1), never a recompile; scrubbing a text costs
    about ``len(text) / 9`` dictionary lookups whatever the number of secrets.

    How: a value of 16 characters or more is indexed by its 8-character pieces at offsets 0..8.
    Any occurrence of it in a text covers exactly one position ``i`` that is a multiple of 9 with
    ``i - start`` in 0..8, so looking up ``text[i:i+8]`` at every ninth position finds every
    occurrence (then ``startswith`` confirms it). Shorter values (6 to 15 characters, rare: a
    password, a short token) are few and kept in one regex, rebuilt when that set changes.
    """

    GRAM = 8
    STEP = 9
    LONG = GRAM + STEP - 1  # 16: the shortest value the piece index finds
    MAX_SHORT = 256

    def __init__(
        self,
        max_secrets: int = 10_000,
        ttl_seconds: float = 7 * 86400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_secrets
        self._ttl = ttl_seconds
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()  # least recently registered first
        self._index: dict[str, list[tuple[str, int]]] = {}
        self._short: OrderedDict[str, None] = OrderedDict()
        self._short_pattern: re.Pattern[str] | None = None
        self._short_dirty = False
        self._pinned: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def pin(self, *values: str | None) -> None:
        """Secrets from the settings (Kafka and MongoDB passwords, API tokens, keys): scrubbed for
        the life of the process, never expired nor evicted by the bound (they are few)."""
        with self._lock:
            for v in values:
                if not v or len(v) < 6 or v in self._pinned:
                    continue
                if self._expiry.pop(v, None) is None:
                    self._add(v)
                self._pinned.add(v)

    def register(self, *values: str | None) -> None:
        with self._lock:
            now = self._clock()
            for v in values:
                if not v or len(v) < 6 or v in self._pinned:
                    continue
                if v in self._expiry:
                    self._expiry.move_to_end(v)
                else:
                    self._add(v)
                self._expiry[v] = now + self._ttl
            while self._expiry and (
                len(self._expiry) > self._max or next(iter(self._expiry.values())) <= now
            ):
                self._remove(self._expiry.popitem(last=False)[0])

    def _add(self, value: str) -> None:
        if len(value) < self.LONG:
            self._short[value] = None
            self._short_dirty = True
            if len(self._short) > self.MAX_SHORT:
                oldest = next((k for k in self._short if k not in self._pinned), None)
                if oldest is not None:
                    self._expiry.pop(oldest, None)
                    self._remove(oldest)
            return
        for offset in range(self.STEP):
            self._index.setdefault(value[offset : offset + self.GRAM], []).append((value, offset))

    def _remove(self, value: str) -> None:
        if len(value) < self.LONG:
            if self._short.pop(value, 0) is None:
                self._short_dirty = True
            return
        for offset in range(self.STEP):
            gram = value[offset : offset + self.GRAM]
            entries = [e for e in self._index.get(gram, ()) if e != (value, offset)]
            if entries:
                self._index[gram] = entries
            else:
                self._index.pop(gram, None)

    def _short_regex(self) -> re.Pattern[str] | None:
        if self._short_dirty:
            with self._lock:
                ordered = sorted(self._short, key=len, reverse=True)
                self._short_pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
                self._short_dirty = False
        return self._short_pattern

    def scrub(self, text: str) -> str:
        spans: list[tuple[int, int]] = []
        index = self._index
        if index:
            gram, step = self.GRAM, self.STEP
            for i in range(0, len(text) - gram + 1, step):
                for value, offset in index.get(text[i : i + gram], ()):
                    start = i - offset
                    if start >= 0 and text.startswith(value, start):
                        spans.append((start, start + len(value)))
        pattern = self._short_regex()
        if pattern is not None:
            spans.extend(m.span() for m in pattern.finditer(text))
        if not spans:
            return text
        spans.sort()
        out: list[str] = []
        cursor = 0
        for start, end in spans:
            if end <= cursor:
                continue
            if start > cursor:
                out.append(text[cursor:start])
            out.append(MASK)
            cursor = end
        out.append(text[cursor:])
        return "".join(out)

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
        if isinstance(record.msg, dict):  # a structlog event: its own chain redacted it already
            return True
        msg = record.getMessage()
        record.msg = REDACTOR.scrub(msg)
        record.args = ()
        return True


def configure_logging(
    service: str, level: str = "INFO", json_logs: bool = True, stream: Any = None, secrets: Iterable[str] = ()
) -> None:
    """JSON lines on stdout (or ``stream``) for structlog and the stdlib alike; ``secrets`` (the
    settings' ``secret_values()``) are scrubbed from every line for the life of the process."""
    REDACTOR.pin(*secrets)
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
