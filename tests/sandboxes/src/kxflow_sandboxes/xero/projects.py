"""Projects API (camelCase bodies, ``{pagination, items}`` lists, 201 on create)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from kxflow_sandboxes.xero.accounting import NotFound
from kxflow_sandboxes.xero.state import Org, new_id, now


def handle(org: Org, method: str, parts: list[str], query: dict[str, str], body: bytes) -> Response:
    parts = [p for p in parts if p]
    if parts[:1] != ["Projects"]:
        raise NotFound("/".join(parts))
    if len(parts) == 1 and method == "GET":
        states = {s.strip() for s in (query.get("states") or "").split(",") if s.strip()}
        items = [p for p in org.projects.values() if not states or p["status"] in states]
        page, size = int(query.get("page") or 1), int(query.get("pageSize") or 50)
        chunk = items[(page - 1) * size : page * size]
        return JSONResponse(
            {
                "pagination": {
                    "page": page,
                    "pageSize": size,
                    "pageCount": (len(items) + size - 1) // size,
                    "itemCount": len(items),
                },
                "items": chunk,
            }
        )
    if len(parts) == 1 and method == "POST":
        data: dict[str, Any] = json.loads(body or b"{}")
        if not data.get("name"):
            return JSONResponse(
                {"message": "The request is invalid.", "modelState": {"name": ["Name is required"]}},
                status_code=400,
            )
        contact_id = str(data.get("contactId") or "").lower()
        if contact_id not in org.coll("Contacts"):
            return JSONResponse(
                {"message": "The request is invalid.", "modelState": {"contactId": ["Contact not found"]}},
                status_code=400,
            )
        project = {
            "projectId": new_id(),
            "contactId": contact_id,
            "name": data["name"],
            "currencyCode": "AUD",
            "minutesLogged": 0,
            "minutesToBeInvoiced": 0,
            "deadlineUtc": data.get("deadlineUtc"),
            "estimate": {"currency": "AUD", "value": float(data.get("estimateAmount") or 0)},
            "status": "INPROGRESS",
            "createdUtc": now().isoformat(),
        }
        org.projects[project["projectId"]] = project
        return JSONResponse(project, status_code=201)
    if len(parts) == 2 and method == "GET":
        project = org.projects.get(parts[1].lower())
        if project is None:
            raise NotFound(parts[1])
        return JSONResponse(project)
    raise NotFound("/".join(parts))
