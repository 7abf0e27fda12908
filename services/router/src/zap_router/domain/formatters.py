"""Formatter filters for templates (Zapier's Formatter: dates, numbers, money, text, names, line items).

Every filter is a pure function of JSON-like values; bad input raises ``ValueError`` with a clear
message, which the template layer turns into a step error naming the template.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zap_router.domain import budgets
from zap_router.domain.dates import parse_datetime

_SYMBOLS = {"USD": "$", "AUD": "A$", "NZD": "NZ$", "CAD": "C$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _zone(tz: str | None) -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, str) and len(value) > 100:
        raise budgets.BudgetExceeded("number size", f"a number written with {len(value)} characters")
    try:
        number = Decimal(value.replace(",", "").strip()) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if number and number.adjusted() >= budgets.MAX_NUMBER_DIGITS:
        raise budgets.BudgetExceeded(
            "number size", f"{str(value)[:40]!r} has more than {budgets.MAX_NUMBER_DIGITS} digits"
        )
    return number


def _decimals(value: Any) -> int:
    decimals = int(value)
    budgets.check_width(decimals, "decimals")
    return decimals


def date(value: Any, fmt: str = "%Y-%m-%d", tz: str | None = None) -> str:
    """Format a date/time (ISO string, epoch seconds) with ``strftime``, optionally in a time zone."""
    try:
        dt = parse_datetime(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"not a date: {value!r}") from exc
    zone = _zone(tz)
    budgets.check_percent_format(str(fmt))
    return (dt.astimezone(zone) if zone else dt).strftime(str(fmt))


def to_tz(value: Any, tz: str) -> str:
    """The same instant as ISO-8601 in time zone ``tz``."""
    return date(value, "%Y-%m-%dT%H:%M:%S%z", tz)


def date_add(value: Any, days: float = 0, hours: float = 0, minutes: float = 0) -> str:
    """ISO-8601 of ``value`` shifted by the given amounts (e.g. an invoice due date)."""
    dt = parse_datetime(value) + timedelta(days=days, hours=hours, minutes=minutes)
    return dt.isoformat()


def number(value: Any, decimals: int | None = None) -> int | float:
    """A number from text like ``"1,234.50"``; rounded half-up to ``decimals`` if given."""
    dec = _decimal(value)
    if decimals is not None:
        dec = dec.quantize(Decimal(1).scaleb(-_decimals(decimals)), rounding=ROUND_HALF_UP)
        return int(dec) if _decimals(decimals) <= 0 else float(dec)
    return int(dec) if dec == dec.to_integral_value() and "." not in str(value) else float(dec)


def amount(value: Any, decimals: int = 2) -> float:
    """A money amount as a number rounded half-up (what Xero's UnitAmount/Amount expect)."""
    return float(_decimal(value).quantize(Decimal(1).scaleb(-_decimals(decimals)), rounding=ROUND_HALF_UP))


def money(value: Any, currency: str | None = None, decimals: int = 2) -> str:
    """Display text: ``1234.5`` → ``"1,234.50"``; with ``"USD"`` → ``"$1,234.50"``."""
    dec = _decimal(value).quantize(Decimal(1).scaleb(-_decimals(decimals)), rounding=ROUND_HALF_UP)
    text = f"{abs(dec):,.{_decimals(decimals)}f}"
    sign = "-" if dec < 0 else ""
    if currency is None:
        return f"{sign}{text}"
    code = str(currency).upper()
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{code} {text}"


def _name_parts(full: Any) -> list[str]:
    return str(full or "").split()


def first_name(full: Any) -> str:
    parts = _name_parts(full)
    return parts[0] if parts else ""


def last_name(full: Any) -> str:
    parts = _name_parts(full)
    return " ".join(parts[1:]) if len(parts) > 1 else ""


def split_name(full: Any) -> dict[str, str]:
    return {"first": first_name(full), "last": last_name(full)}


def split(text: Any, sep: str = ",", index: int | None = None) -> Any:
    """Split text into trimmed parts; with ``index`` return one part ("" when out of range)."""
    parts = [p.strip() for p in str(text or "").split(str(sep))] if sep else list(str(text or ""))
    if index is None:
        return parts
    try:
        return parts[int(index)]
    except IndexError:
        return ""


def pluck(items: Any, field: str) -> list[Any]:
    """The ``field`` of every object in a list (missing → ``None``)."""
    if not isinstance(items, list):
        raise ValueError("pluck needs a list")
    return [item.get(field) if isinstance(item, dict) else None for item in items]


def line_items(
    items: Any,
    description: str = "name",
    quantity: str | None = "quantity",
    unit_amount: str = "price",
    account_code: str | None = None,
    tax_type: str | None = None,
) -> list[dict[str, Any]]:
    """Turn a list of objects into Xero ``LineItems`` by naming the source fields.

    ``account_code``/``tax_type`` are literal codes applied to every line.
    """
    if not isinstance(items, list):
        raise ValueError("line_items needs a list of objects")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("line_items needs a list of objects")
        qty = item.get(quantity, 1) if quantity else 1
        line: dict[str, Any] = {
            "Description": str(item.get(description, "")),
            "Quantity": number(qty if qty not in (None, "") else 1),
            "UnitAmount": amount(item.get(unit_amount, 0) or 0),
        }
        if account_code:
            line["AccountCode"] = str(account_code)
        if tax_type:
            line["TaxType"] = str(tax_type)
        out.append(line)
    return out


def round_half_up(value: Any, decimals: int = 0) -> float:
    result = number(value, decimals)
    return float(result) if not math.isnan(float(result)) else 0.0


FORMATTERS: dict[str, Any] = {
    "date": date,
    "to_tz": to_tz,
    "date_add": date_add,
    "number": number,
    "amount": amount,
    "money": money,
    "first_name": first_name,
    "last_name": last_name,
    "split_name": split_name,
    "split": split,
    "pluck": pluck,
    "line_items": line_items,
}
