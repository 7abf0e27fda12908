"""``python -m kartra_gateway``: serve the gateway with uvicorn on the configured port."""

from __future__ import annotations

import uvicorn

from kartra_gateway.main import create_app
from kartra_gateway.settings import GatewaySettings
from kxflow_contracts.runtime.heap import freeze_after_startup
from kxflow_contracts.runtime.logging import configure_logging


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    uvicorn.run(
        freeze_after_startup(create_app(settings)),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
