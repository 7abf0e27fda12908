"""Fetching a file a user names by URL without letting the URL reach inside the network (SSRF).

The one guard for user-supplied URLs the gateways fetch (attachments by URL). Every hop is checked
before it is connected to: ``https`` only, no userinfo, and the host's every resolved address must be
public — loopback, private, link-local, multicast, reserved and unspecified addresses (and IPv4
mapped into IPv6) are refused — unless the host is in ``FetchPolicy.allow_hosts`` (tests allow
``127.0.0.1``; an allowlisted host may also use ``http``). The connection goes to the address that
was checked (the name is kept for ``Host`` and TLS SNI/verification), so a second DNS answer cannot
swap in an internal address. Redirects are followed by hand, each hop checked the same way. The body
is size-capped while streamed, its content type must be in the allowed list, and the whole fetch is
bounded in time.

:class:`FetchRefused` is permanent (the URL, its host or its answer is wrong: sending again cannot
help); :class:`FetchTimedOut` is retryable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

DEFAULT_CONTENT_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/tiff",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/octet-stream",
)


class FetchRefused(Exception):
    """The URL may not be fetched, or what it answered is not acceptable (permanent)."""


class FetchTimedOut(Exception):
    """The fetch did not finish in time (retryable)."""


@dataclass(frozen=True)
class FetchPolicy:
    allow_hosts: frozenset[str] = frozenset()
    max_bytes: int = 10_000_000
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    timeout_seconds: float = 20.0
    max_redirects: int = 3
    trust: ssl.SSLContext | None = None
    """The TLS trust servers are verified with (``None``: the default CA bundle). Verification is
    never off: tests pass a context trusting their own CA."""


@dataclass(frozen=True)
class Fetched:
    content: bytes
    content_type: str
    url: str = field(default="")


def refused_address(address: str) -> str | None:
    """Why ``address`` may not be connected to, or ``None`` for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, hit in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if hit:
            return reason
    if not ip.is_global:
        return "not globally routable"
    return None


def checked_target(url: str, policy: FetchPolicy) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url`` if its form may be fetched; :class:`FetchRefused` if not."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise FetchRefused(f"not an http(s) URL: {url[:200]!r}")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("a URL with user info is refused")
    if "\\" in url:
        raise FetchRefused("a URL with a backslash is refused")
    if parts.scheme != "https" and host not in policy.allow_hosts:
        raise FetchRefused(f"only https URLs are fetched ({host} is not allowlisted for http)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchRefused(f"bad port in {url[:200]!r}") from None
    return parts.scheme, host, port


async def _address(host: str, port: int, policy: FetchPolicy) -> str:
    """The address to connect to: every address ``host`` resolves to must be allowed."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchRefused(f"{host} has no address")
    if host not in policy.allow_hosts:
        for address in addresses:
            reason = refused_address(address)
            if reason:
                raise FetchRefused(f"{host} resolves to a {reason} address ({address}): refused")
    return addresses[0]


def _type_allowed(content_type: str, allowed: tuple[str, ...]) -> bool:
    major = content_type.split("/", 1)[0]
    return content_type in allowed or f"{major}/*" in allowed


async def _fetch(client: httpx.AsyncClient, url: str, policy: FetchPolicy) -> Fetched:
    for _ in range(policy.max_redirects + 1):
        scheme, host, port = checked_target(url, policy)
        address = await _address(host, port, policy)
        parts = urlsplit(url)
        pinned_host = f"[{address}]" if ":" in address else address
        pinned = urlunsplit((scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, ""))
        headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
        request = client.build_request("GET", pinned, headers=headers, extensions={"sni_hostname": host})
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if response.status_code != 200:
                raise FetchRefused(f"{host} answered {response.status_code} for the file")
            content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if not _type_allowed(content_type, policy.content_types):
                raise FetchRefused(f"content type {content_type or 'none'!r} is not an allowed file type")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise FetchRefused(f"the file is larger than {policy.max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > policy.max_bytes:
                    raise FetchRefused(f"the file is larger than {policy.max_bytes} bytes")
            return Fetched(bytes(body), content_type, url)
        finally:
            await response.aclose()
    raise FetchRefused(f"more than {policy.max_redirects} redirects")


async def fetch_url(url: str, policy: FetchPolicy) -> Fetched:
    """The file at ``url`` under ``policy``; :class:`FetchRefused` or :class:`FetchTimedOut`."""
    timeout = httpx.Timeout(policy.timeout_seconds)
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            async with httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=timeout,
                verify=policy.trust if policy.trust is not None else True,
            ) as client:
                return await _fetch(client, url, policy)
    except (TimeoutError, httpx.TimeoutException):
        raise FetchTimedOut(f"fetching the file took longer than {policy.timeout_seconds} s") from None
    except httpx.HTTPError as exc:
        raise FetchRefused(f"could not fetch the file: {type(exc).__name__}: {exc}") from None
