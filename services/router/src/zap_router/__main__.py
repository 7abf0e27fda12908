"""``python -m zap_router``: run the router with uvicorn (settings from ``ROUTER_*`` env vars)."""

from __future__ import annotations

from kxflow_contracts.runtime.logging import configure_logging
from kxflow_contracts.runtime.serving import run_service
from zap_router.main import create_app
from zap_router.settings import RouterSettings


def main() -> None:
    settings = RouterSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.http_host, settings.http_port)


if __name__ == "__main__":
    main()
