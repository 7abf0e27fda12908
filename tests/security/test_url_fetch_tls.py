"""The https path of ``runtime.url_fetch``: the connection goes to the address that was checked
(pinned), while TLS still sends the host name (SNI) and verifies the certificate for that name.

A real TLS server on 127.0.0.1 with a certificate issued, in the test, by a throw-away CA for
``files.kxflow.test``. The name does not exist in DNS: the loop's resolver (the fetch's edge) answers
127.0.0.1 the first time and an address nothing listens on afterwards, as a rebinding attacker's DNS
would; a fetch that resolved the name again instead of using the checked address would fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kxflow_contracts.runtime.url_fetch import FetchPolicy, FetchRefused, fetch_url

HOST = "files.kxflow.test"
PDF = b"%PDF-1.4 pinned receipt"
NOWHERE = "127.0.0.9"  # what the "second DNS answer" points at: nothing listens there


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass
class Pki:
    ca_pem: bytes
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate

    @classmethod
    def new(cls) -> Pki:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("kxflow test CA"))
            .issuer_name(_name("kxflow test CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert.public_bytes(serialization.Encoding.PEM), key, cert)

    def leaf(self, dns_name: str, directory: Path) -> tuple[Path, Path]:
        """A server certificate for ``dns_name`` signed by this CA, as (cert file, key file)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(dns_name))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        cert_file, key_file = directory / f"{dns_name}.crt", directory / f"{dns_name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file

    def trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())


@dataclass
class TlsFileServer:
    """Answers every request with the PDF; records what each connection said."""

    port: int = 0
    sni: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ssl.SSLError, ConnectionError):
            writer.close()
            return
        self.peers.append(writer.get_extra_info("sockname")[0])
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "host":
                self.hosts.append(value.strip())
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n"
            + f"Content-Length: {len(PDF)}\r\nConnection: close\r\n\r\n".encode()
            + PDF
        )
        await writer.drain()
        writer.close()


async def _serve(pki: Pki, cert_for: str, tmp: Path) -> AsyncIterator[TlsFileServer]:
    server = TlsFileServer()
    cert_file, key_file = pki.leaf(cert_for, tmp)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda _sock, name, _ctx: server.sni.append(name)  # type: ignore[assignment]
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


@pytest.fixture
def pki() -> Pki:
    return Pki.new()


@pytest.fixture
async def server(pki: Pki, tmp_path: Path) -> AsyncIterator[TlsFileServer]:
    async for s in _serve(pki, HOST, tmp_path):
        yield s


@pytest.fixture
async def impostor(pki: Pki, tmp_path: Path) -> AsyncIterator[TlsFileServer]:
    """A server whose (validly issued) certificate names another host."""
    async for s in _serve(pki, "other.kxflow.test", tmp_path):
        yield s


@pytest.fixture
async def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The loop's resolver: ``HOST`` is 127.0.0.1 once, then an address nothing listens on; other
    names (the pinned address itself) resolve as usual. Returns the names asked for."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    asked: list[str] = []

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        asked.append(name)
        if name == HOST:
            address = "127.0.0.1" if asked.count(HOST) == 1 else NOWHERE
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return asked


def _policy(pki: Pki | None, **kw: Any) -> FetchPolicy:
    return FetchPolicy(
        allow_hosts=frozenset({HOST}),  # 127.0.0.1 is loopback: the host must be allowlisted
        timeout_seconds=5.0,
        trust=pki.trust() if pki else None,
        **kw,
    )


async def test_https_goes_to_the_checked_address_with_sni_and_host(
    pki: Pki, server: TlsFileServer, rebinding_dns: list[str]
) -> None:
    got = await fetch_url(f"https://{HOST}:{server.port}/receipt.pdf", _policy(pki))

    assert (got.content, got.content_type) == (PDF, "application/pdf")
    assert rebinding_dns.count(HOST) == 1, "the name was resolved again after it was checked"
    assert server.peers == ["127.0.0.1"]
    assert server.sni == [HOST], "TLS did not name the host (SNI)"
    assert server.hosts == [f"{HOST}:{server.port}"]
    assert all(ipaddress.ip_address(n) for n in rebinding_dns if n != HOST)  # only the pinned literal


async def test_a_certificate_for_another_name_is_refused(
    pki: Pki, impostor: TlsFileServer, rebinding_dns: list[str]
) -> None:
    with pytest.raises(FetchRefused, match="could not fetch the file"):
        await fetch_url(f"https://{HOST}:{impostor.port}/receipt.pdf", _policy(pki))
    assert impostor.sni == [HOST]  # the handshake was made, for the right name, and failed there
    assert impostor.hosts == [], "a request was sent over a connection whose certificate did not match"


async def test_a_certificate_from_an_untrusted_issuer_is_refused(
    server: TlsFileServer, rebinding_dns: list[str]
) -> None:
    # the default trust (the CA bundle) does not know the test CA: verification is on by default
    with pytest.raises(FetchRefused, match="could not fetch the file"):
        await fetch_url(f"https://{HOST}:{server.port}/receipt.pdf", _policy(None))
    assert server.hosts == []
