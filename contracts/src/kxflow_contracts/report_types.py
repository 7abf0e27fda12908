"""New Report's report types (reference §9 T7): the ones kxflow can poll, and why the others cannot.

A leaf module: the catalog's parameter model and the xero-gateway's poller both ask
``report_type_problem``, so a zap is refused at save for exactly the types the gateway cannot poll.
"""

from __future__ import annotations

REPORT_TYPES: tuple[str, ...] = (
    "ProfitAndLoss",
    "BalanceSheet",
    "TrialBalance",
    "BankSummary",
    "BudgetSummary",
    "ExecutiveSummary",
    "TenNinetyNine",
)
"""The report types that can be polled (TenNinetyNine answers for US organisations only)."""

PER_CONTACT_REPORT_TYPES: tuple[str, ...] = ("AgedReceivablesByContact", "AgedPayablesByContact")
"""Report types the form offers that Xero only answers for one contact (``contactID``)."""


def report_type_problem(report_type: str) -> str | None:
    """Why ``report_type`` cannot be polled, or ``None``."""
    if report_type in PER_CONTACT_REPORT_TYPES:
        return f"{report_type} is per contact (contactID), which New Report has no parameter for"
    if report_type not in REPORT_TYPES:
        return f"unknown report type {report_type!r} (known: {', '.join(REPORT_TYPES)})"
    return None
