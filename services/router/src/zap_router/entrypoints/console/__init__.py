"""The web console at ``/console``: server-rendered pages (Jinja2) made live with htmx, every asset
served from this package (docs/console.md says why)."""

from __future__ import annotations

from zap_router.entrypoints.console.pages import mount_console

__all__ = ["mount_console"]
