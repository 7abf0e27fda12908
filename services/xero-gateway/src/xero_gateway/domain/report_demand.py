"""Which report types New Report zaps choose, per connection (pure).

Built from the zap changelog (``kxflow_contracts.zaps``): an enabled zap on ``xero.report.updated``
asks for its ``report_type`` (the parameter model's default when it names none) on its connection.
The poller polls those types besides the ones the operator configured. Bounded: one small entry
per New Report zap, at most ``MAX_ZAPS``; a type the gateway cannot poll (unknown, per contact) is
not recorded (the router's save-time check and the catalog already describe the choices).
"""

from __future__ import annotations

from kxflow_contracts.catalog.xero import ReportParams
from kxflow_contracts.report_types import report_type_problem
from kxflow_contracts.zaps import ZapRecord

REPORT_TRIGGER = "xero.report.updated"
DEFAULT_REPORT_TYPE = str(ReportParams.model_fields["report_type"].default)
MAX_ZAPS = 100_000


class ReportDemand:
    def __init__(self, max_zaps: int = MAX_ZAPS) -> None:
        self._by_key: dict[str, tuple[str, str, str]] = {}
        self._max = max_zaps

    def __len__(self) -> int:
        return len(self._by_key)

    def apply(self, key: str, record: ZapRecord | None) -> None:
        """The changelog's record for ``key`` (``None``: a tombstone, the zap was deleted)."""
        wanted = _wanted(record)
        if wanted is None:
            self._by_key.pop(key, None)
        elif key in self._by_key or len(self._by_key) < self._max:
            self._by_key[key] = wanted

    def types_for(self, tenant: str, connection_id: str) -> list[str]:
        """The report types zaps choose on this connection, sorted."""
        return sorted({t for (zt, zc, t) in self._by_key.values() if (zt, zc) == (tenant, connection_id)})


def _wanted(record: ZapRecord | None) -> tuple[str, str, str] | None:
    if record is None or not record.enabled or record.trigger.event != REPORT_TRIGGER:
        return None
    report_type = str(record.trigger.params.get("report_type") or DEFAULT_REPORT_TYPE)
    if report_type_problem(report_type) is not None:
        return None
    return record.tenant, record.trigger.connection, report_type
