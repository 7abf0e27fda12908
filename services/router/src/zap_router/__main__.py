"""``python -m zap_router``: run the router with uvicorn (settings from ``ROUTER_*`` env vars)."""

from __future__ import annotations

import uvicorn

from kxflow_contracts.runtime.heap import freeze_after_startup
from kxflow_contracts.runtime.logging import configure_logging
from zap_router.main import create_app
from zap_router.settings import RouterSettings


def main() -> None:
    settings = RouterSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    uvicorn.run(
        freeze_after_startup(create_app(settings)),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
