"""Payroll AU v1: employees (``/Date(ms)/`` dates, array request bodies) and pay runs with payslips."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from kxflow_sandboxes.xero.accounting import NotFound
from kxflow_sandboxes.xero.state import Org, ms_date, new_id, now, parse_date
from kxflow_sandboxes.xero.where import matches


def _api_exception(message: str) -> JSONResponse:
    return JSONResponse(
        {"ErrorNumber": 10, "Type": "ValidationException", "Message": message}, status_code=400
    )


def _env(collection: str, items: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(
        {
            "Id": new_id(),
            "Status": "OK",
            "ProviderName": "kxflow-sandbox",
            "DateTimeUTC": ms_date(now()),
            collection: items,
        }
    )


def _msdates(emp: dict[str, Any]) -> None:
    for key in ("DateOfBirth", "StartDate", "TerminationDate"):
        if emp.get(key):
            parsed = parse_date(emp[key])
            if parsed is not None:
                emp[key] = ms_date(parsed)


def handle(
    org: Org, method: str, parts: list[str], query: dict[str, str], body: bytes, if_modified_since: str | None
) -> Response:
    parts = [p for p in parts if p]
    since = parse_date(if_modified_since)
    if parts[:1] == ["Employees"]:
        if method == "GET" and len(parts) == 1:
            emps = [
                e
                for e in org.employees.values()
                if since is None or (parse_date(e["UpdatedDateUTC"]) or since) >= since
            ]
            if query.get("where"):
                emps = [e for e in emps if matches(e, query["where"])]
            return _env("Employees", emps)
        if method == "GET":
            emp = org.employees.get(parts[1].lower())
            if emp is None:
                raise NotFound(parts[1])
            return _env("Employees", [emp])
        if method == "POST":
            items = json.loads(body or b"[]")
            items = items if isinstance(items, list) else [items]
            out = []
            for item in items:
                if len(parts) == 2:
                    emp = org.employees.get(parts[1].lower())
                    if emp is None:
                        raise NotFound(parts[1])
                    emp.update(item)
                else:
                    missing = [k for k in ("FirstName", "LastName", "DateOfBirth") if not item.get(k)]
                    if missing:
                        return _api_exception(f"{', '.join(missing)} is required")
                    emp = {"EmployeeID": new_id(), "Status": "ACTIVE", **item}
                    org.employees[emp["EmployeeID"]] = emp
                _msdates(emp)
                emp["UpdatedDateUTC"] = ms_date(now())
                out.append(emp)
            return _env("Employees", out)
    if parts[:1] == ["PayRuns"] and method == "GET":
        if len(parts) == 1:
            runs = [
                {k: v for k, v in r.items() if k != "Payslips"}
                for r in org.pay_runs.values()
                if since is None or (parse_date(r["UpdatedDateUTC"]) or since) >= since
            ]
            if query.get("where"):
                runs = [r for r in runs if matches(r, query["where"])]
            return _env("PayRuns", runs)
        run = org.pay_runs.get(parts[1].lower())
        if run is None:
            raise NotFound(parts[1])
        return _env("PayRuns", [run])
    if parts[:1] == ["Payslip"] and method == "GET" and len(parts) == 2:
        for run in org.pay_runs.values():
            for slip in run["Payslips"]:
                if slip["PayslipID"] == parts[1].lower():
                    return JSONResponse({"Id": new_id(), "Status": "OK", "Payslip": slip})
        raise NotFound(parts[1])
    if parts[:1] == ["PayrollCalendars"] and method == "GET":
        return _env("PayrollCalendars", list(org.records.get("PayrollCalendars", {}).values()))
    raise NotFound("/".join(parts))


def post_pay_run(org: Org, body: dict[str, Any]) -> dict[str, Any]:
    """Control API: a POSTED pay run with one payslip per employee (Xero posts them in its UI)."""
    start = parse_date(body.get("PayRunPeriodStartDate")) or now()
    end = parse_date(body.get("PayRunPeriodEndDate")) or now()
    wage = float(body.get("Wages", 1000))
    slips = [
        {
            "PayslipID": new_id(),
            "EmployeeID": e["EmployeeID"],
            "FirstName": e.get("FirstName"),
            "LastName": e.get("LastName"),
            "Wages": wage,
            "Tax": round(wage * 0.2, 2),
            "Super": round(wage * 0.11, 2),
            "NetPay": round(wage * 0.8, 2),
            "UpdatedDateUTC": ms_date(now()),
        }
        for e in org.employees.values()
    ]
    run = {
        "PayRunID": new_id(),
        "PayrollCalendarID": next(iter(org.records.get("PayrollCalendars", {"x": 0}))),
        "PayRunPeriodStartDate": ms_date(start),
        "PayRunPeriodEndDate": ms_date(end),
        "PayRunStatus": body.get("PayRunStatus", "POSTED"),
        "PaymentDate": ms_date(end),
        "Wages": wage * len(slips),
        "NetPay": round(wage * 0.8 * len(slips), 2),
        "UpdatedDateUTC": ms_date(now()),
        "Payslips": slips,
    }
    org.pay_runs[run["PayRunID"]] = run
    return run
