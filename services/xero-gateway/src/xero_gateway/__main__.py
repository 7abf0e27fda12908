"""``python -m xero_gateway``: the gateway under uvicorn (port ``XERO_GW_HTTP_PORT``, default 8030)."""

from __future__ import annotations

import uvicorn

from kxflow_contracts.runtime.heap import freeze_after_startup
from xero_gateway.main import create_app
from xero_gateway.settings import XeroGatewaySettings


def main() -> None:
    settings = XeroGatewaySettings()
    # log_config=None: uvicorn's own records go through the JSON handler (and its redaction) too.
    uvicorn.run(
        freeze_after_startup(create_app(settings, configure_logs=True)),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
