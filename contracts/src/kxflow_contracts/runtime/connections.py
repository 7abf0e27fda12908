"""How every service reaches Kafka and MongoDB: addresses plus transport security and credentials.

The one place (issue 11, item 9) that turns a service's settings into

* :class:`KafkaConnection`: the bootstrap servers and a FastStream security object (SASL/SCRAM,
  TLS); :meth:`KafkaConnection.client_options` gives the same thing as keyword arguments for raw
  aiokafka clients (``AIOKafkaConsumer(**kafka.client_options(), ...)``), via FastStream's own
  translation, so the broker and the raw clients can never be configured differently;
* :func:`mongo_options`: TLS and credentials for ``runtime.mongo.mongo_client`` (the one client
  factory).

Every Kafka helper of ``kxflow_contracts.runtime`` accepts a :class:`KafkaConnection` or a plain
``host:port`` string (tests and tools on a PLAINTEXT broker keep passing strings).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

if TYPE_CHECKING:
    from kxflow_contracts.runtime.settings import ServiceSettings

KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512, "PLAIN": SASLPlaintext}


@dataclass(frozen=True, eq=False)
class KafkaConnection:
    """Where the brokers are and how to authenticate to them (``security`` None = PLAINTEXT)."""

    bootstrap_servers: str
    security: BaseSecurity | None = None

    def client_options(self) -> dict[str, Any]:
        """``bootstrap_servers`` and the security keyword arguments of aiokafka's clients."""
        return {"bootstrap_servers": self.bootstrap_servers, **parse_security(self.security)}

    def __repr__(self) -> str:  # never the password, whatever a caller logs
        protocol = parse_security(self.security).get("security_protocol", "PLAINTEXT")
        return f"KafkaConnection({self.bootstrap_servers!r}, {protocol})"


KafkaTarget = KafkaConnection | str


def kafka_options(target: KafkaTarget) -> dict[str, Any]:
    """aiokafka keyword arguments for a :class:`KafkaConnection` or a bare bootstrap string."""
    if isinstance(target, KafkaConnection):
        return target.client_options()
    return {"bootstrap_servers": target}


def kafka_security(target: KafkaTarget) -> BaseSecurity | None:
    """The FastStream security object of a target (None for a bare bootstrap string)."""
    return target.security if isinstance(target, KafkaConnection) else None


class KafkaAccessError(ConnectionError):
    """Kafka refused this service: wrong credentials, or a certificate it cannot trust."""


async def check_kafka(target: KafkaTarget, timeout: float = 10.0) -> None:
    """Fail fast, saying why, when the brokers refuse this service's credentials or certificate.

    aiokafka's clients log the refusal and then raise only "Unable to bootstrap"; a service
    calls this first in its lifespan so a wrong password or CA ends the start with a clear error.
    A no-op without SASL/TLS (a PLAINTEXT broker refuses no one; a down broker is the clients'
    own retry business).
    """
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError, SaslAuthenticationFailed

    options = kafka_options(target)
    if options.get("security_protocol", "PLAINTEXT") == "PLAINTEXT":
        return
    servers = options.pop("bootstrap_servers")
    principal = (
        f"{options.get('sasl_plain_username') or '(TLS only)'} ({options.get('sasl_mechanism', 'no SASL')})"
    )
    failures: list[str] = []
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            conn = await create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **options)
        except SaslAuthenticationFailed as exc:
            raise KafkaAccessError(
                f"Kafka at {server} refused the credentials of {principal}: {exc}"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise KafkaAccessError(
                f"Kafka at {server} presented a certificate this service does not trust "
                f"({exc.verify_message}); set KAFKA_SSL_CAFILE to the CA that signed it"
            ) from exc
        except (OSError, TimeoutError, KafkaError) as exc:
            failures.append(f"{server}: {exc!r}")
            continue
        conn.close()
        return
    raise KafkaAccessError(f"no Kafka bootstrap server reachable as {principal}: {'; '.join(failures)}")


def tls_context(
    cafile: str | None, certfile: str | None = None, keyfile: str | None = None
) -> ssl.SSLContext:
    """A verifying client TLS context: the system CAs, or ``cafile`` (a private CA), and an
    optional client certificate (mutual TLS)."""
    context = ssl.create_default_context(cafile=cafile or None)
    if certfile:
        context.load_cert_chain(certfile, keyfile or None)
    return context


def kafka_connection(settings: ServiceSettings) -> KafkaConnection:
    """The service's :class:`KafkaConnection` from its ``KAFKA_*`` settings."""
    protocol = settings.kafka_security_protocol
    use_tls = protocol in ("SSL", "SASL_SSL")
    context = (
        tls_context(settings.kafka_ssl_cafile, settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
        if use_tls
        else None
    )
    if context is not None and not settings.kafka_ssl_check_hostname:
        context.check_hostname = False
    security: BaseSecurity | None
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        security = SASL_MECHANISMS[settings.kafka_sasl_mechanism](
            settings.kafka_sasl_username, password, ssl_context=context, use_ssl=use_tls
        )
    elif use_tls:
        security = BaseSecurity(ssl_context=context, use_ssl=True)
    else:
        security = None
    return KafkaConnection(settings.kafka_bootstrap_servers, security)


def mongo_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments of ``AsyncMongoClient`` for TLS and credentials (none when unset, so
    whatever the URL says stands)."""
    options: dict[str, Any] = {}
    if settings.mongodb_tls:
        options["tls"] = True
        if settings.mongodb_tls_ca_file:
            options["tlsCAFile"] = settings.mongodb_tls_ca_file
        if settings.mongodb_tls_certificate_key_file:
            options["tlsCertificateKeyFile"] = settings.mongodb_tls_certificate_key_file
    if settings.mongodb_username:
        options["username"] = settings.mongodb_username
        options["password"] = (
            settings.mongodb_password.get_secret_value() if settings.mongodb_password else ""
        )
        options["authSource"] = settings.mongodb_auth_source
        if settings.mongodb_auth_mechanism:
            options["authMechanism"] = settings.mongodb_auth_mechanism
    return options
