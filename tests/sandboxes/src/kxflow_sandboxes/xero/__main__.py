"""``python -m kxflow_sandboxes.xero --port 8130``: the Xero sandbox on its own."""

from __future__ import annotations

import argparse

import uvicorn

from kxflow_sandboxes.xero import SandboxConfig, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Stateful fake Xero")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8130)
    parser.add_argument("--clock-speed", type=float, default=1.0)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument(
        "--idempotency-window",
        type=float,
        default=None,
        help="Seconds (virtual) an Idempotency-Key is remembered (Xero: 360)",
    )
    parser.add_argument(
        "--state-file",
        default=None,
        help="JSON file the organisations, grants and tokens are read from at start and saved to at exit",
    )
    args = parser.parse_args()
    config = SandboxConfig(
        clock_speed=args.clock_speed, webhook_url=args.webhook_url, state_file=args.state_file
    )
    if args.idempotency_window is not None:
        config.idempotency_window = args.idempotency_window
    app = create_app(config)
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
