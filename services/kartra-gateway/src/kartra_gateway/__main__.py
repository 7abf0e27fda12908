"""``python -m kartra_gateway``: serve the gateway with uvicorn on the configured port."""

from __future__ import annotations

from kartra_gateway.main import create_app
from kartra_gateway.settings import GatewaySettings
from kxflow_contracts.runtime.logging import configure_logging
from kxflow_contracts.runtime.serving import run_service


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.http_host, settings.http_port)


if __name__ == "__main__":
    main()
