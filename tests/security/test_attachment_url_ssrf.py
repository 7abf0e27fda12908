"""Attachments by URL: the gateway fetches a user's URL only from public hosts (or the allowlist),
follows no redirect to a refused host, caps the size, checks the content type and bounds the time.

A real HTTP server on 127.0.0.1 plays both the file host (allowlisted by address) and the internal
service nobody may reach: every request it records under ``/secret`` is an SSRF.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_server import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kxflow_contracts.runtime.url_fetch import (
    FetchPolicy,
    FetchRefused,
    FetchTimedOut,
    fetch_url,
    refused_address,
)

PDF = b"%PDF-1.4 receipt"


class Host:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.port = 0

    def app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            path = request.url.path
            self.hits.append(path)
            if path == "/receipt.pdf":
                return Response(PDF, media_type="application/pdf")
            if path == "/big.pdf":
                return Response(b"x" * 5000, media_type="application/pdf")
            if path == "/chunked-big.pdf":

                async def chunks() -> AsyncIterator[bytes]:
                    for _ in range(10):
                        yield b"x" * 1000

                from starlette.responses import StreamingResponse

                return StreamingResponse(chunks(), media_type="application/pdf")
            if path == "/page.html":
                return Response("<html>", media_type="text/html")
            if path == "/to-localhost":
                return RedirectResponse(f"https://localhost:{self.port}/secret", status_code=302)
            if path == "/to-metadata":
                return RedirectResponse("https://169.254.169.254/latest/meta-data/", status_code=307)
            if path == "/slow.pdf":
                await asyncio.sleep(2)  # the server being slow is the case under test
                return Response(PDF, media_type="application/pdf")
            if path == "/gone.pdf":
                return Response("no", status_code=404)
            return Response("internal secrets", media_type="text/plain")

        return Starlette(routes=[Route("/{path:path}", handle)])


@pytest.fixture(scope="module")
async def host() -> AsyncIterator[tuple[Host, str]]:
    h = Host()
    async with serve(h.app()) as url:
        h.port = int(url.rsplit(":", 1)[1])
        yield h, url


ALLOW = FetchPolicy(allow_hosts=frozenset({"127.0.0.1"}), max_bytes=4096, timeout_seconds=1.0)


async def test_an_allowlisted_host_is_fetched(host: Any) -> None:
    _, url = host
    got = await fetch_url(f"{url}/receipt.pdf", ALLOW)
    assert (got.content, got.content_type) == (PDF, "application/pdf")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
    ],
)
def test_internal_addresses_are_refused(address: str, reason: str) -> None:
    assert refused_address(address) == reason


def test_public_addresses_pass() -> None:
    assert refused_address("93.184.216.34") is None
    assert refused_address("2606:2800:220:1:248:1893:25c8:1946") is None


async def test_internal_hosts_are_refused_before_any_connection(host: Any) -> None:
    h, url = host
    before = list(h.hits)
    port = h.port
    for target in (
        f"{url}/secret",  # loopback, not allowlisted
        f"https://localhost:{port}/secret",  # a name resolving to loopback
        f"https://[::1]:{port}/secret",
        "https://10.0.0.1/secret",
        "https://169.254.169.254/latest/meta-data/",
        f"https://user@127.0.0.1:{port}/secret",
        "http://example.com/receipt.pdf",  # http to a host that is not allowlisted
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
    ):
        with pytest.raises(FetchRefused):
            await fetch_url(target, FetchPolicy(timeout_seconds=2.0))
    assert h.hits == before, f"SSRF: the internal service was reached: {h.hits[len(before) :]}"


async def test_no_redirect_to_a_refused_host(host: Any) -> None:
    h, url = host
    for path in ("/to-localhost", "/to-metadata"):
        with pytest.raises(FetchRefused, match=r"loopback|link-local"):
            await fetch_url(f"{url}{path}", ALLOW)
    assert "/secret" not in h.hits


async def test_size_type_status_and_time_are_checked(host: Any) -> None:
    _, url = host
    with pytest.raises(FetchRefused, match="larger than 4096"):
        await fetch_url(f"{url}/big.pdf", ALLOW)
    with pytest.raises(FetchRefused, match="larger than 4096"):
        await fetch_url(f"{url}/chunked-big.pdf", ALLOW)
    with pytest.raises(FetchRefused, match="text/html"):
        await fetch_url(f"{url}/page.html", ALLOW)
    with pytest.raises(FetchRefused, match="404"):
        await fetch_url(f"{url}/gone.pdf", ALLOW)
    with pytest.raises(FetchTimedOut):
        await fetch_url(f"{url}/slow.pdf", ALLOW)
