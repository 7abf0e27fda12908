"""CloudEvents binary mode: round trip, rejection of bad records, interop with the SDK."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent as SdkEvent

from kxflow_contracts.commands import command_id
from kxflow_contracts.envelope import CloudEvent, EnvelopeError, decode, encode


def _event(**kw) -> CloudEvent:
    base = dict(
        id="evt-1",
        source="/kartra-gateway/kartra-main",
        type="kartra.product.purchased.v1",
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        subject="lead-9",
        tenant="acme",
        data={"amount": 12.5, "name": "Ünïcode"},
    )
    return CloudEvent(**{**base, **kw})


def test_round_trip_keeps_every_attribute() -> None:
    event = _event(dataschema="https://kxflow.dev/schemas/x.json")
    value, headers = encode(event)
    assert headers["ce_time"] == "2026-01-02T03:04:05Z"
    assert decode(value, headers) == event


def test_headers_as_kafka_byte_tuples_decode() -> None:
    value, headers = encode(_event())
    as_bytes = [(k, v.encode()) for k, v in headers.items()]
    assert decode(value, as_bytes).data == {"amount": 12.5, "name": "Ünïcode"}


@pytest.mark.parametrize(
    ("value", "mutate", "reason"),
    [
        (b"{", lambda h: h, "not JSON"),
        (b"{}", lambda h: {k: v for k, v in h.items() if k != "ce_type"}, "ce_type"),
        (b"{}", lambda h: {**h, "ce_specversion": "0.3"}, "specversion"),
        (b"{}", lambda h: {**h, "content-type": "application/cloudevents+json"}, "content-type"),
        (b"{}", lambda h: {**h, "ce_time": "yesterday"}, "invalid"),
    ],
)
def test_bad_records_raise_envelope_error(value, mutate, reason) -> None:
    _, headers = encode(_event())
    with pytest.raises(EnvelopeError, match=reason):
        decode(value, mutate(headers))


def test_sdk_reads_what_we_write() -> None:
    value, headers = encode(_event())
    message = ce_kafka.KafkaMessage(
        headers={k: v.encode() for k, v in headers.items()}, key=b"k", value=value
    )
    sdk = ce_kafka.from_binary(message, ce_kafka.JSONFormat())
    assert sdk.get_id() == "evt-1"
    assert sdk.get_type() == "kartra.product.purchased.v1"
    assert sdk.get_extension("tenant") == "acme"
    assert sdk.get_data() == {"amount": 12.5, "name": "Ünïcode"}


def test_we_read_what_the_sdk_writes() -> None:
    sdk = SdkEvent(
        attributes={
            "id": "sdk-1",
            "source": "/other-team",
            "type": "xero.contact.created.v1",
            "specversion": "1.0",
            "tenant": "acme",
            "subject": "c-1",
            "datacontenttype": "application/json",
        },
        data={"ContactID": "c-1"},
    )
    message = ce_kafka.to_binary(sdk, ce_kafka.JSONFormat())
    event = decode(message.value, message.headers)
    assert (event.id, event.type, event.tenant, event.subject) == (
        "sdk-1",
        "xero.contact.created.v1",
        "acme",
        "c-1",
    )
    assert event.data == {"ContactID": "c-1"}


def test_command_id_ignores_version_and_attempt_but_not_identity() -> None:
    a = command_id("zap-1", "evt-1", "invoice")
    assert a == command_id("zap-1", "evt-1", "invoice")
    assert (
        len(
            {
                a,
                command_id("zap-2", "evt-1", "invoice"),
                command_id("zap-1", "evt-2", "invoice"),
                command_id("zap-1", "evt-1", "paid"),
            }
        )
        == 4
    )
    # No ambiguity from concatenation: ("a", "bc") and ("ab", "c") differ.
    assert command_id("a", "bc", "s") != command_id("ab", "c", "s")
