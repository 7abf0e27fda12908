"""Which failures belong to the infrastructure (retry the batch) and which to one record.

DESIGN.md §3: only an unreachable store or broker may hold a batch back (it is retried, nothing is
lost); anything else is about the record in hand and ends that record's run, or dead-letters it.
"""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure, WTimeoutError

# MongoDB codes of a server that is going away or busy, not of a bad document.
_TRANSIENT_CODES = frozenset({50, 91, 189, 262, 6, 7, 89, 9001, 10107, 11600, 11602, 13435, 13436})


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` says the store or the broker is unreachable (or timing out)."""
    if isinstance(exc, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    if isinstance(exc, OperationFailure):
        return exc.code in _TRANSIENT_CODES or "RetryableWriteError" in (exc.details or {}).get(
            "errorLabels", ()
        )
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, asyncio.TimeoutError | ConnectionError | asyncio.CancelledError)
