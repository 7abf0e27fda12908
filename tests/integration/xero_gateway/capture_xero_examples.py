"""Capture every Xero catalog entry's sample OUTPUT from the real path and write
``contracts/src/kxflow_contracts/catalog/examples/xero.json``.

Not collected by the suite (the name does not start with ``test_``); run it on purpose, with the
local Kafka and FerretDB up, when an output model or the gateway's output changes::

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 MONGODB_URL='mongodb://127.0.0.1:27027/?directConnection=true' \\
        uv run pytest tests/integration/xero_gateway/capture_xero_examples.py -q

Actions and searches run through the gateway's executor against the sandbox (the same run as
``test_xero_every_action``); the webhook triggers come from the gateway hydrating the webhooks
those writes cause; the polling triggers from one round of the polling test's changes. Outputs
are made stable (every UUID mapped to a fixed-looking one, lists trimmed to one item), checked
against the output models and written as literal data; the catalog only reads the file.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asgi_server import free_port, serve
from integration.xero_gateway.test_xero_every_action import _cmd, run_every_action
from integration.xero_gateway.test_xero_polling import ROWS as POLL_ROWS
from integration.xero_gateway.xero_gw_helpers import Results, connect_all
from waiting import wait_for

from kxflow_contracts.catalog import CATALOG, xero
from kxflow_contracts.runtime.kafka import ensure_topics
from kxflow_contracts.topics import Topics
from xero_gateway.main import create_app

OUT_FILE = Path(xero.__file__).parent / xero.EXAMPLES_FILE
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
NAMESPACE = uuid.UUID("5b0c6e1e-7f3a-4d8b-9c2e-1a4f6d8b0c3e")


class Stabiliser:
    """Maps each generated UUID to a fixed one by order of first appearance, so regenerating
    gives the same ids and an id shared by two examples (a contact and its invoice) stays shared."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def _id(self, match: re.Match[str]) -> str:
        original = match.group(0).lower()
        if original not in self.ids:
            self.ids[original] = str(uuid.uuid5(NAMESPACE, str(len(self.ids))))
        return self.ids[original]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value[:1]]
        if isinstance(value, str):
            return UUID_RE.sub(self._id, value)
        return value


async def test_capture_xero_catalog_examples(
    gateway_settings, xero_sandbox, kafka_bootstrap, topic_prefix, mongo_client, mongo_db_name
) -> None:
    sandbox = xero_sandbox.sandbox
    sandbox.limits.per_minute = 1000
    org = xero_sandbox.org("Acme AU")
    port = free_port()
    settings = gateway_settings(
        reconcile_enabled=False, per_minute=1000, public_url=f"http://127.0.0.1:{port}"
    )
    await ensure_topics(kafka_bootstrap, settings.topics.specs(settings.topic_partitions))
    triggers = {e.key for e in CATALOG.of("xero") if e.kind.value == "trigger"}

    async with Results(kafka_bootstrap, Topics(topic_prefix).xero_events) as events:

        def seen() -> Counter[str]:
            return Counter(e.type.removesuffix(".v1") for e in events.items)

        app = create_app(settings)
        async with serve(app, port=port) as url:
            await connect_all(url)
            sandbox.config.webhook_url = f"{url}/v1/webhooks/xero"
            cursors = mongo_client[mongo_db_name]["poll_cursors"]

            async def poll_now() -> None:
                await cursors.update_many({}, {"$set": {"next_due": datetime(2000, 1, 1, tzinfo=UTC)}})
                await app.state.poller.tick()

            await poll_now()  # baseline: later polls report only what changes after this
            outputs = await run_every_action(app.state.executor, org)
            updated = await app.state.executor.execute(
                _cmd(
                    "xero.contact.upsert",
                    {"ContactID": outputs["xero.contact.upsert"]["ContactID"], "Name": "Ada Lovelace"},
                )
            )
            assert updated.status.value == "succeeded", updated.error
            for _, make in POLL_ROWS:
                make(org)
            await poll_now()

            def every_trigger_seen() -> bool:
                missing = sorted(triggers - set(seen()))
                assert not missing, f"no event yet of {missing}"
                return True

            await wait_for(every_trigger_seen, timeout=30, message="an event of every trigger")
            await sandbox.drain()

    samples: dict[str, Any] = dict(outputs)
    for event in events.items:
        samples.setdefault(event.type.removesuffix(".v1"), event.data)
    stable = Stabiliser()
    examples = {key: stable(samples[key]) for key in sorted(samples)}
    for key, example in examples.items():
        CATALOG.get(key).output_model.model_validate(example)
    assert set(examples) == {e.key for e in CATALOG.of("xero")}
    OUT_FILE.write_text(json.dumps(examples, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
