"""The intake fast path (an ASGI middleware) and the FastAPI routes that document the same two
endpoints give the same answer to the same request; anything else passes through to the app."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace

from kartra_gateway.adapters.metrics import GatewayMetrics
from kartra_gateway.domain.payloads import WebhookRejected
from kartra_gateway.entrypoints.webhooks import WebhookFastPath, Webhooks, router
from kartra_gateway.service_layer.intake import IntakeResult, Outcome, Unauthorized, Unavailable
from kxflow_contracts.runtime.http import MAX_WEBHOOK_BODY_BYTES


class FakeIntake:
    """The intake's edge: what a body says decides the outcome."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes, str]] = []

    async def webhook(self, connection_id: str, secret: str, body: bytes, content_type: str) -> IntakeResult:
        self.seen.append((connection_id, secret, body, content_type))
        return self._outcome(body)

    async def ipn(self, connection_id: str, body: bytes, content_type: str) -> IntakeResult:
        self.seen.append((connection_id, "", body, content_type))
        return self._outcome(body)

    @staticmethod
    def _outcome(body: bytes) -> IntakeResult:
        if body == b"wrong-secret":
            raise Unauthorized("unknown connection or wrong secret")
        if body == b"junk":
            raise WebhookRejected("body is not valid JSON")
        if body == b"kafka-down":
            raise Unavailable("Kafka did not acknowledge: KafkaTimeoutError")
        return IntakeResult(Outcome.accepted, "digest", "kartra.product.purchased.v1")


def _apps() -> tuple[FastAPI, WebhookFastPath, FakeIntake]:
    intake = FakeIntake()
    webhooks = Webhooks(intake, GatewayMetrics.create(), trace.get_tracer("test"))  # type: ignore[arg-type]
    routes = FastAPI()
    routes.include_router(router)
    routes.state.webhooks = webhooks  # what entrypoints.deps reads, as main.create_app sets it

    @routes.get("/other")
    async def other() -> dict[str, str]:
        return {"served_by": "app"}

    return routes, WebhookFastPath(routes, webhooks), intake


async def _post(app: object, path: str, body: bytes) -> tuple[int, dict, str | None]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        res = await client.post(path, content=body, headers={"content-type": "application/json"})
    return res.status_code, res.json(), res.headers.get("retry-after")


@pytest.mark.parametrize(
    ("body", "status"),
    [(b'{"lead": {}}', 200), (b"wrong-secret", 401), (b"junk", 400), (b"kafka-down", 503)],
)
@pytest.mark.parametrize("path", ["/v1/webhooks/kartra/conn-1/s3cret", "/v1/ipn/kartra/conn-1"])
async def test_fast_path_and_routes_answer_alike(path: str, body: bytes, status: int) -> None:
    routes, fast, intake = _apps()
    by_routes = await _post(routes, path, body)
    by_fast_path = await _post(fast, path, body)
    assert by_routes == by_fast_path
    assert by_fast_path[0] == status
    assert (by_fast_path[2] == "5") is (status == 503)
    assert intake.seen[0] == intake.seen[1]
    assert intake.seen[0][0] == "conn-1" and intake.seen[0][2] == body


async def test_an_oversized_body_is_413_and_reaches_no_intake() -> None:
    _, fast, intake = _apps()
    status, answer, _ = await _post(fast, "/v1/webhooks/kartra/c/s", b"x" * (MAX_WEBHOOK_BODY_BYTES + 1))
    assert status == 413 and str(MAX_WEBHOOK_BODY_BYTES) in answer["detail"]
    assert intake.seen == []


async def test_other_requests_pass_through_to_the_app() -> None:
    _, fast, intake = _apps()
    transport = httpx.ASGITransport(app=fast)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        assert (await client.get("/other")).json() == {"served_by": "app"}
        # A GET on an intake path, and a path that only looks like one, are FastAPI's to answer.
        assert (await client.get("/v1/ipn/kartra/conn-1")).status_code == 405
        assert (await client.post("/v1/webhooks/kartra/conn-1", content=b"{}")).status_code == 404
    assert intake.seen == []


def test_the_routes_stay_documented() -> None:
    routes, _, _ = _apps()
    paths = json.loads(json.dumps(routes.openapi()))["paths"]
    assert "post" in paths["/v1/webhooks/kartra/{connection_id}/{secret}"]
    assert "post" in paths["/v1/ipn/kartra/{connection_id}"]


async def test_a_sender_that_disconnects_mid_body_gets_nothing_processed() -> None:
    _, fast, intake = _apps()
    first = {"type": "http.request", "body": b'{"lead": ', "more_body": True}
    messages = [first, {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/ipn/kartra/conn-1", "headers": []}
    await fast(scope, receive, send)
    assert intake.seen == [] and sent == []
