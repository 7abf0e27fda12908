"""``python -m xero_gateway``: the gateway under uvicorn (port ``XERO_GW_HTTP_PORT``, default 8030)."""

from __future__ import annotations

from kxflow_contracts.runtime.serving import run_service
from xero_gateway.main import create_app
from xero_gateway.settings import XeroGatewaySettings


def main() -> None:
    settings = XeroGatewaySettings()
    run_service(create_app(settings, configure_logs=True), settings.http_host, settings.http_port)


if __name__ == "__main__":
    main()
