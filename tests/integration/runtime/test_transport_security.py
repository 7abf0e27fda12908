"""Kafka over SASL_SSL and MongoDB over TLS, against the local secured servers (issue 11, item 9).

The broker of ``infra.sh up kafka-sasl`` has no plaintext client listener: a service reaches it
only with its SCRAM password and the CA, all from its settings through ``runtime.connections``.
"""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from asgi_server import serve
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from waiting import wait_for

from kartra_gateway.main import create_app
from kartra_gateway.settings import GatewaySettings
from kxflow_contracts.runtime.connections import KafkaAccessError, check_kafka, mongo_options
from kxflow_contracts.runtime.logging import configure_logging
from kxflow_contracts.runtime.mongo import mongo_client
from kxflow_contracts.runtime.settings import ServiceSettings
from kxflow_contracts.topics import Topics

TOKEN = "tok-sasl-it-0123456789"


def _gateway_settings(
    kafka_sasl: dict[str, str], mongodb_url: str, password: str, uid: str
) -> GatewaySettings:
    return GatewaySettings(
        kafka_bootstrap_servers=kafka_sasl["KAFKA_SASL_BOOTSTRAP_SERVERS"],
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=kafka_sasl["KAFKA_SASL_USERNAME"],
        kafka_sasl_password=password,
        kafka_ssl_cafile=kafka_sasl["KAFKA_SSL_CAFILE"],
        topic_prefix=f"{uid}.kxflow.",
        topic_partitions=1,
        mongodb_url=mongodb_url,
        mongodb_database=f"kxtest_{uid}",
        api_tokens={TOKEN: "acme"},
        secret_keys=Fernet.generate_key().decode(),
    )


def _password(kafka_sasl: dict[str, str]) -> str:
    return Path(kafka_sasl["KAFKA_SASL_PASSWORD_FILE"]).read_text().strip()


async def test_a_gateway_produces_and_consumes_over_sasl_ssl(
    kafka_sasl: dict[str, str], mongodb_url: str, mongo_client: AsyncMongoClient
) -> None:
    """The kartra gateway starts on the SASL_SSL-only broker (topics created, producer, FastStream
    broker and command consumer connected), consumes a command and produces its dead letter."""
    uid = "s" + uuid.uuid4().hex[:7]
    settings = _gateway_settings(kafka_sasl, mongodb_url, _password(kafka_sasl), uid)
    topics = settings.topics
    app = create_app(settings, mongo_client=mongo_client)
    try:
        async with serve(app) as url, httpx.AsyncClient(timeout=30) as http:
            ready = await http.get(f"{url}/readyz")
            assert ready.status_code == 200, ready.text  # the broker's ping, over SASL_SSL
            producer = AIOKafkaProducer(**settings.kafka.client_options(), acks="all")
            consumer = AIOKafkaConsumer(
                Topics.dlq(topics.kartra_commands),
                **settings.kafka.client_options(),
                group_id=f"{uid}-check",
                auto_offset_reset="earliest",
            )
            await producer.start()
            await consumer.start()
            try:
                await producer.send_and_wait(topics.kartra_commands, b"not a cloud event", key=b"acme:c1")
                seen: list[bytes] = []

                async def dead_lettered() -> bool:
                    batch = await consumer.getmany(timeout_ms=500)
                    seen.extend(r.value for records in batch.values() for r in records)
                    return bool(seen)

                await wait_for(dead_lettered, timeout=60, message="the gateway dead-letters over SASL_SSL")
                assert seen == [b"not a cloud event"]
            finally:
                await consumer.stop()
                await producer.stop()
    finally:
        await mongo_client.drop_database(settings.mongodb_database)


async def test_a_wrong_password_ends_the_start_with_a_clear_error(
    kafka_sasl: dict[str, str], mongodb_url: str, mongo_client: AsyncMongoClient
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    settings = _gateway_settings(kafka_sasl, mongodb_url, wrong, "w" + uuid.uuid4().hex[:7])
    stream = io.StringIO()
    configure_logging("sasl-test", stream=stream, secrets=settings.secret_values())
    try:
        app = create_app(settings, mongo_client=mongo_client)
        with pytest.raises(KafkaAccessError, match="refused the credentials of kxflow") as refused:
            async with app.router.lifespan_context(app):
                pass
        assert "invalid credentials" in str(refused.value)
        logging.getLogger("sasl-test").error("start failed: %s (password %s)", refused.value, wrong)
    finally:
        logging.getLogger().handlers.clear()
    assert wrong not in stream.getvalue()
    assert wrong not in repr(settings) and wrong not in repr(settings.kafka)


async def test_an_untrusted_broker_certificate_is_refused(kafka_sasl: dict[str, str]) -> None:
    """Without the CA that signed the broker's certificate, nothing is sent (not even the password)."""
    settings = ServiceSettings(
        kafka_bootstrap_servers=kafka_sasl["KAFKA_SASL_BOOTSTRAP_SERVERS"],
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="kxflow",
        kafka_sasl_password=_password(kafka_sasl),
    )
    with pytest.raises(KafkaAccessError, match="certificate this service does not trust"):
        await check_kafka(settings.kafka)


async def test_the_plaintext_protocol_is_not_spoken_on_the_secured_listener(
    kafka_sasl: dict[str, str],
) -> None:
    with pytest.raises(KafkaConnectionError):
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_sasl["KAFKA_SASL_BOOTSTRAP_SERVERS"], request_timeout_ms=3000
        )
        try:
            await producer.start()
        finally:
            await producer.stop()


def _mongo_settings(mongo_tls: dict[str, str], **overrides: object) -> ServiceSettings:
    values: dict[str, object] = {
        "mongodb_url": mongo_tls["MONGODB_TLS_URL"],
        "mongodb_tls": True,
        "mongodb_tls_ca_file": mongo_tls["MONGODB_TLS_CA_FILE"],
        "mongodb_tls_certificate_key_file": mongo_tls["MONGODB_TLS_CERTIFICATE_KEY_FILE"],
    }
    return ServiceSettings(**{**values, **overrides})  # type: ignore[arg-type]


async def test_mongo_over_mutual_tls_from_the_settings(mongo_tls: dict[str, str]) -> None:
    settings = _mongo_settings(mongo_tls)
    client = mongo_client(settings.mongodb_url, serverSelectionTimeoutMS=20000, **mongo_options(settings))
    try:
        coll = client[f"kxtest_tls_{uuid.uuid4().hex[:6]}"]["docs"]
        await coll.insert_one({"_id": "a", "n": 1})
        assert await coll.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
        await client.drop_database(coll.database.name)
    finally:
        await client.close()


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"mongodb_tls_certificate_key_file": None}, id="no-client-certificate"),
        pytest.param({"mongodb_tls_ca_file": None}, id="server-certificate-not-trusted"),
        pytest.param({"mongodb_tls": False}, id="plaintext"),
    ],
)
async def test_mongo_without_the_tls_settings_is_refused(mongo_tls: dict[str, str], overrides: dict) -> None:
    settings = _mongo_settings(mongo_tls, **overrides)
    client = mongo_client(settings.mongodb_url, serverSelectionTimeoutMS=3000, **mongo_options(settings))
    try:
        with pytest.raises(PyMongoError):
            await client["kxtest_tls"].command("ping")
    finally:
        await client.close()
