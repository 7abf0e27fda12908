"""Serving a service under uvicorn, with an access log that never writes a path (issue 11, item 2).

uvicorn's access log writes the request path and query: the Kartra webhook URL carries its secret
in the path, the Xero OAuth callback its ``code`` and ``state`` in the query. The redactor scrubs
only the secrets its own process has seen, so another replica, or this one after a restart, would
log them in clear. :class:`AccessLog` writes the *route template* instead
(``/v1/webhooks/kartra/{connection_id}/{secret}``), so no value from the URL is ever logged.
"""

from __future__ import annotations

import time
from typing import Any

from kxflow_contracts.runtime.heap import freeze_after_startup
from kxflow_contracts.runtime.logging import get_logger

ROUTE_KEY = "kxflow.route"
"""Scope key an ASGI fast path (which bypasses the router) sets to the template it answered."""
UNMATCHED = "<unmatched>"

_log = get_logger("kxflow.access")


def route_template(scope: dict[str, Any]) -> str:
    """The template of the route that handled ``scope`` (set by the router or a fast path)."""
    template = scope.get(ROUTE_KEY)
    if template is None:
        template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else UNMATCHED


class AccessLog:
    """ASGI: one log line per HTTP request — method, route template, status, time to headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        logged = False

        async def send_and_log(message: dict[str, Any]) -> None:
            nonlocal logged
            if message["type"] == "http.response.start" and not logged:
                logged = True  # logged here, inside the request's span, so the line has its trace
                self._line(scope, message["status"], started)
            await send(message)

        try:
            await self.app(scope, receive, send_and_log)
        finally:
            if not logged:
                self._line(scope, 500, started)

    @staticmethod
    def _line(scope: dict[str, Any], status: int, started: float) -> None:
        _log.info(
            "http request",
            method=scope.get("method"),
            route=route_template(scope),
            status=status,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )


def run_service(app: Any, host: str, port: int) -> None:
    """``uvicorn.run`` as every service's ``__main__`` does it: the startup heap frozen, uvicorn's
    access log off and :class:`AccessLog` on, uvicorn's own records through the JSON handler.
    (uvicorn is imported here: every service depends on it, the contracts package does not.)"""
    import uvicorn

    uvicorn.run(
        AccessLog(freeze_after_startup(app)),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )
