"""What HTTP routes need: the wired services, the caller's tenant and token, error mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.runtime.auth import bearer_tenant
from zap_router.adapters.connections import DirectoryUnavailable
from zap_router.adapters.run_store import CursorError, RunStore
from zap_router.domain.run_tree import step_tree
from zap_router.engine.catchup import CatchupNotFound, CatchupRefused, Catchups
from zap_router.engine.drafts import DraftNotFound, Drafts
from zap_router.engine.dryrun import EventReader
from zap_router.engine.runner import CancelRefused, ReplayRefused, RunEngine, RunNotFound
from zap_router.engine.step_test import StepTestNotFound, StepTestRefused, StepTests
from zap_router.engine.zaps import ZapConflict, ZapInvalid, ZapNotFound, ZapService
from zap_router.settings import RouterSettings


@dataclass
class Services:
    settings: RouterSettings
    catalog: Catalog
    zaps: ZapService
    engine: RunEngine
    runs: RunStore
    reader: EventReader
    drafts: Drafts
    catchups: Catchups
    step_tests: StepTests


def services(request: Request) -> Services:
    return request.app.state.services


def caller(request: Request) -> tuple[str, str]:
    """(tenant, bearer token): the token is passed on to the gateways' connection listings."""
    tenant = bearer_tenant(lambda: request.app.state.services.settings.api_tokens)(request)
    return tenant, request.headers["authorization"].partition(" ")[2].strip()


def tenant_only(request: Request) -> str:
    return caller(request)[0]


def public_run(doc: dict[str, Any]) -> dict[str, Any]:
    """A run as the API shows it: the stored fields, plus its steps as a tree (``tree``)."""
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}, "tree": step_tree(doc)}


def install_error_handlers(app: FastAPI) -> None:
    def handler(code: int, detail: Any = None) -> Any:
        async def handle(_: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": detail(exc) if callable(detail) else str(exc)}, status_code=code)

        return handle

    app.add_exception_handler(ZapInvalid, handler(422, lambda e: [p.as_dict() for p in e.problems]))
    app.add_exception_handler(ZapNotFound, handler(404, lambda e: f"zap not found: {e}"))
    app.add_exception_handler(DraftNotFound, handler(404))
    app.add_exception_handler(CatchupNotFound, handler(404, lambda e: f"catch-up not found: {e}"))
    app.add_exception_handler(CatchupRefused, handler(409))
    app.add_exception_handler(StepTestNotFound, handler(404, lambda e: f"step test not found: {e}"))
    app.add_exception_handler(StepTestRefused, handler(422))
    app.add_exception_handler(RunNotFound, handler(404, lambda e: f"run not found: {e}"))
    app.add_exception_handler(ZapConflict, handler(409))
    app.add_exception_handler(ReplayRefused, handler(409))
    app.add_exception_handler(CancelRefused, handler(409))
    app.add_exception_handler(CursorError, handler(400))
    app.add_exception_handler(DirectoryUnavailable, handler(status.HTTP_503_SERVICE_UNAVAILABLE))


__all__ = [
    "HTTPException",
    "Services",
    "caller",
    "install_error_handlers",
    "public_run",
    "services",
    "tenant_only",
]
