"""runtime.connections: one translation of the settings into Kafka and MongoDB client options,
and the settings' secrets never in a repr or a log line (issue 11, item 9)."""

from __future__ import annotations

import io
import logging

from kxflow_contracts.runtime.connections import KafkaConnection, kafka_options, mongo_options
from kxflow_contracts.runtime.logging import MASK, Redactor, configure_logging
from kxflow_contracts.runtime.settings import ServiceSettings
from zap_router.settings import RouterSettings

KAFKA_PW = "kafka-scram-password-0042"
MONGO_PW = "mongo-password-0042"
URL_PW = "url-embedded-pw-0042"


def _secured(**extra: object) -> ServiceSettings:
    return ServiceSettings(
        kafka_bootstrap_servers="b1:9093,b2:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="kxflow-router",
        kafka_sasl_password=KAFKA_PW,
        mongodb_url=f"mongodb://svc:{URL_PW}@db:27017/?tls=true",
        mongodb_tls=True,
        mongodb_tls_ca_file="/etc/kxflow/mongo-ca.pem",
        mongodb_username="kxflow",
        mongodb_password=MONGO_PW,
        **extra,  # type: ignore[arg-type]
    )


def test_sasl_ssl_settings_become_the_same_options_for_every_kafka_client() -> None:
    options = _secured().kafka.client_options()
    assert options["bootstrap_servers"] == "b1:9093,b2:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "kxflow-router"
    assert options["sasl_plain_password"] == KAFKA_PW
    assert options["ssl_context"].check_hostname  # verified by default


def test_plaintext_and_bare_strings_carry_no_security() -> None:
    assert ServiceSettings().kafka.client_options() == {"bootstrap_servers": "127.0.0.1:19092"}
    assert kafka_options("h:1") == {"bootstrap_servers": "h:1"}
    assert KafkaConnection("h:1").security is None


def test_tls_without_sasl_and_hostname_check_off() -> None:
    options = ServiceSettings(
        kafka_security_protocol="SSL", kafka_ssl_check_hostname=False
    ).kafka.client_options()
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    assert options["ssl_context"].check_hostname is False


def test_mongo_options_from_the_settings() -> None:
    assert mongo_options(ServiceSettings()) == {}
    assert mongo_options(_secured()) == {
        "tls": True,
        "tlsCAFile": "/etc/kxflow/mongo-ca.pem",
        "username": "kxflow",
        "password": MONGO_PW,
        "authSource": "admin",
    }


def test_no_secret_in_a_repr() -> None:
    settings = _secured()
    for text in (repr(settings), str(settings), repr(settings.kafka)):
        assert KAFKA_PW not in text and MONGO_PW not in text


def test_every_settings_secret_is_scrubbed_from_logs() -> None:
    settings = RouterSettings(
        kafka_sasl_password=KAFKA_PW,
        mongodb_password=MONGO_PW,
        mongodb_url=f"mongodb://svc:{URL_PW}@db:27017/",
        smtp_password="smtp-password-0042",
    )
    assert {KAFKA_PW, MONGO_PW, URL_PW, "smtp-password-0042"} <= set(settings.secret_values())
    stream = io.StringIO()
    configure_logging("t", stream=stream, secrets=settings.secret_values())
    try:
        logging.getLogger("t").warning("connect %s %s %s", KAFKA_PW, MONGO_PW, settings.mongodb_url)
    finally:
        logging.getLogger().handlers.clear()
    out = stream.getvalue()
    assert KAFKA_PW not in out and MONGO_PW not in out and URL_PW not in out
    assert MASK in out


def test_pinned_settings_secrets_outlive_the_bound_and_the_ttl() -> None:
    now = [0.0]
    redactor = Redactor(max_secrets=10, ttl_seconds=60, clock=lambda: now[0])
    redactor.pin(KAFKA_PW, "short1")
    for i in range(300):  # far more than the bound, long and short ones
        redactor.register(f"transient-secret-number-{i:04d}", f"s{i:05d}")
    now[0] = 10_000.0  # long past the TTL
    redactor.register("one-more-transient-secret")
    assert redactor.scrub(f"a {KAFKA_PW} b short1 c") == f"a {MASK} b {MASK} c"
    redactor.register(KAFKA_PW)  # registering a pinned value again does not make it expire
    now[0] = 20_000.0
    redactor.register("yet-another-transient-one")
    assert KAFKA_PW not in redactor.scrub(KAFKA_PW)
