"""``python -m kxflow_sandboxes.kartra --port 8120``: run the Kartra sandbox standalone."""

from __future__ import annotations

import argparse

import uvicorn

from kxflow_sandboxes.kartra import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Stateful fake Kartra API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8120)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
